"""A secondary against a real primary (SPEC §6): registration and its reuse, browser sign-in through the primary, route
guards and the upstream's X-Hub-* headers, Bearer tokens checked locally (and the forgeries they must refuse), key
rotation, logout (local and back-channel), a primary that hangs, and a revoked registration."""
import base64
import hashlib
import hmac
import html
import http.server
import json
import os
import re
import signal
import stat
import subprocess
import time
import urllib.parse

from hubtest import Browser, Node, eq, get, ok, post, request, run, serve_http

PASSWORD = "correct horse battery staple"


# ---- an upstream application that records what it was sent ----

class Upstream:
    def __init__(self):
        self.seen = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()},
                                   [(k.lower(), v) for k, v in self.headers.items()]))
                body = json.dumps({"path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = serve_http(Handler)
        self.port = self.server.server_address[1]

    def last(self):
        ok(self.seen, "the upstream got a request")
        return self.seen[-1]


# ---- JWT helpers (RS256 through the openssl command line with the primary's own key file) ----

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def parts(token):
    h, p, s = token.split(".")
    return json.loads(b64d(h)), json.loads(b64d(p)), s


def encode(header, claims):
    return b64(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64(json.dumps(claims, separators=(",", ":")).encode())


def rs256(key_pem, header, claims):
    signing_input = encode(header, claims)
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key_pem], input=signing_input.encode(),
                         capture_output=True, check=True).stdout
    return signing_input + "." + b64(sig)


# ---- the shared setup: one primary, one secondary, an upstream ----

class Env:
    pass


E = Env()


def setup():
    E.up = Upstream()
    p = Node("primary", name="fedprim", conf={"primary": {"key_rotation": {"every": "30d", "publish_ahead": "1s"}}})
    pw = os.path.join(p.dir, "pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    p.hubctl("init")
    p.hubctl("role", "add", "Employee")
    p.hubctl("user", "add", "alice", "--email", "alice@example.com", "--full-name", "Alice Doe", "--role", "Employee",
             "--password-file", pw)
    p.hubctl("user", "add", "bob", "--email", "bob@example.com", "--full-name", "Bob", "--password-file", pw)
    out = p.hubctl("client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes", "read",
                   "--role", "Employee", "--redirect-uris", "").stdout
    E.svc = (re.search(r"client_id:\s*(\S+)", out).group(1), re.search(r"client_secret:\s*(\S+)", out).group(1))
    out = p.hubctl("client", "add", "--app-name", "other", "--grant-type", "client_credentials", "--scopes", "read",
                   "--redirect-uris", "").stdout
    E.other = (re.search(r"client_id:\s*(\S+)", out).group(1), re.search(r"client_secret:\s*(\S+)", out).group(1))
    token = p.hubctl("node", "join-token", "--name", "fedsec").stdout.strip().split()[-1]
    p.start()
    E.p = p
    s = Node("secondary", name="fedsec", conf={"secondary": {
        "server_url": p.url,
        "join_token_file": os.path.join(p.dir, "join.token"),
        "scopes": ["openid", "profile", "email", "roles"],
        "session_ttl": "1h",
        "clock_skew": "30s",
        "accept_audiences": [E.svc[0]],
        "routes": [
            {"path": "/staff/", "upstream": f"http://127.0.0.1:{E.up.port}/staff/", "roles": ["Employee"]},
            {"path": "/admin/", "upstream": f"http://127.0.0.1:{E.up.port}/admin/", "roles": ["System Manager"]},
            {"path": "/app/", "upstream": f"http://127.0.0.1:{E.up.port}/", "roles": []},
            # listed after its prefix on purpose: the most specific route must still win
            {"path": "/app/admin/", "upstream": f"http://127.0.0.1:{E.up.port}/admin/", "roles": ["System Manager"]},
        ]}})
    with open(os.path.join(p.dir, "join.token"), "w") as f:
        f.write(token + "\n")
    E.s = s


def clean_stop(n, what="clean stop"):
    """Stops n with SIGTERM: exit 0 (or only leak reports from outside federation/ under a sanitizer build, which are
    other modules' business) and no sanitizer error."""
    rc = n.stop()
    log = open(n.log_path).read()
    ok("runtime error" not in log and "ERROR: AddressSanitizer" not in log, "sanitizer error:\n" + log[-4000:])
    leaks = log.split("ERROR: LeakSanitizer")[1:]
    ok(not any("federation/" in l or " fed_" in l for l in leaks), "leak in federation/:\n" + log[-4000:])
    ok(rc == 0 or (leaks and rc == 1), f"{what}: exit {rc}")


def ensure_running():
    for n in (E.p, E.s):
        if n.proc is None or n.proc.poll() is not None:
            n.start()
    ok(E.s.wait_log("signing keys of the primary", 10), "the secondary loaded the primary's keys")


def cc_token(client=None):
    cid, sec = client or E.svc
    r = post(E.p.url + "/oauth2/token", form={"grant_type": "client_credentials"},
             headers={"Authorization": "Basic " + base64.b64encode(f"{cid}:{sec}".encode()).decode()})
    eq(r.status, 200, "client_credentials: " + r.text)
    return r.json()["access_token"]


def bearer(token):
    return {"Authorization": "Bearer " + token, "Accept": "application/json"}


def me(headers=None, timeout=10):
    return get(E.s.url + "/auth/me", headers=headers or {}, timeout=timeout)


def hidden_inputs(text):
    return {html.unescape(n): html.unescape(v) for n, v in
            re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"', text)}


def pending_login(b=None, nxt="/app/", node=None):
    """Starts a sign-in in browser b (a new one by default) without going to the primary: (browser, state, authorize URL)."""
    node = node or E.s
    b = b or Browser()
    r = b.get(node.url + "/auth/login?next=" + urllib.parse.quote(nxt, safe=""), follow=False)
    eq(r.status, 302, f"login redirects: {r.text[:200]}")
    loc = r.header("location")
    return b, dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))["state"], loc


def cookie_header(b):
    return "; ".join(f"{k}={v}" for k, v in b.cookies.get("127.0.0.1", {}).items())


def state_cookies(b, node_name="fedsec"):
    return {k: v for k, v in b.cookies.get("127.0.0.1", {}).items() if k.startswith(f"hub_{node_name}_state_")}


def sign_in_at_primary(b, authorize_url, user="alice"):
    """Walks b through the primary's sign-in (and consent) from authorize_url; returns the callback URL it is sent to,
    without following it."""
    r = b.get(authorize_url, follow=False)
    for _ in range(6):
        loc = r.header("location") or ""
        if r.status in (301, 302, 303) and loc.startswith(E.s.url + "/auth/callback"):
            return loc
        if r.status in (301, 302, 303):
            r = b.get(urllib.parse.urljoin(authorize_url, loc), follow=False)
        elif "csrf_token" in r.text and "password" in r.text:
            form = hidden_inputs(r.text)
            form.update({"username": user, "password": PASSWORD})
            r = b.post(E.p.url + "/login", form=form, follow=False)
        elif "decision" in r.text:
            form = hidden_inputs(r.text)
            form["decision"] = "allow"
            r = b.post(E.p.url + "/oauth2/approve", form=form, follow=False)
        else:
            break
    raise AssertionError(f"no redirect to the callback: {r.status} {r.header('location')} {r.text[:300]}")


def browser_login(user="alice", path="/app/hello", extra_headers=None, node=None):
    """Signs a fresh browser in at the secondary through the primary; returns (browser, final response)."""
    node = node or E.s
    b = Browser()
    r = b.get(node.url + path, headers=extra_headers)
    ok(r.url.startswith(E.p.url + "/login"), f"sent to the primary's sign-in page: {r.status} {r.url}")
    form = hidden_inputs(r.text)
    ok("csrf_token" in form, "sign-in form has csrf_token")
    form.update({"username": user, "password": PASSWORD})
    r = b.post(E.p.url + "/login", form=form, headers=extra_headers)
    if r.url.startswith(E.p.url) and "decision" in r.text:  # consent page
        form = hidden_inputs(r.text)
        form["decision"] = "allow"
        r = b.post(E.p.url + "/oauth2/approve", form=form, headers=extra_headers)
    eq(r.url, node.url + path, f"back at the secondary ({r.status} {r.text[:300]})")
    return b, r


def session_cookie_header(b):
    jar = b.cookies.get("127.0.0.1", {})
    ok("hub_fedsec_session" in jar, "the secondary set its session cookie")
    return {"Cookie": "hub_fedsec_session=" + jar["hub_fedsec_session"], "Accept": "application/json"}


def key_pem():
    """A file holding the primary's active private key (read from its store, either backend), and its kid."""
    kid = parts(cc_token())[0]["kid"]
    return E.p.private_key_file(kid), kid


# ---- tests ----

def test_registration_and_reuse():
    E.s.start()
    ensure_running()
    ok(E.s.wait_log("registered with the primary as client", 10), "registered on first start")
    cid = re.search(r"registered with the primary as client (\S+)", "".join(E.s.lines)).group(1)
    E.cid = cid
    nodes = E.p.hubctl("node", "list", "--json").stdout
    ok(cid in nodes, "the primary lists the node: " + nodes)
    r = get(E.s.url + "/auth/login?next=/app/x")
    eq(r.status, 302, "login redirects")
    loc = r.header("location")
    u = urllib.parse.urlsplit(loc)
    q = dict(urllib.parse.parse_qsl(u.query))
    eq(f"{u.scheme}://{u.netloc}{u.path}", E.p.url + "/oauth2/authorize", "to the authorize endpoint")
    eq(q["client_id"], cid, "client_id")
    eq(q["redirect_uri"], E.s.url + "/auth/callback", "redirect_uri")
    eq(q["code_challenge_method"], "S256", "PKCE")
    ok(q["state"] and q["nonce"] and len(q["code_challenge"]) == 43, "state, nonce, challenge")
    eq(q["scope"], "openid profile email roles", "scope")
    sc = r.header("set-cookie")
    name, _, value = sc.split(";", 1)[0].partition("=")
    eq(name, "hub_fedsec_state_" + q["state"][:8], "a pending sign-in's cookie is named after its state")
    ok(len(q["state"]) == 43 and q["state"] not in value and q["nonce"] not in value, "the cookie holds a sealed value: " + sc)
    ok("HttpOnly" in sc and "SameSite=Lax" in sc and "Path=/auth/;" in sc and "Max-Age=600" in sc, "state cookie: " + sc)
    # restart: the stored credentials are reused, nothing is registered again
    clean_stop(E.s)
    E.s.start()
    ok(E.s.wait_log("using stored credentials of client " + cid, 5), "reused the stored credentials")
    time.sleep(0.5)
    ok(not any("registered with the primary" in l for l in E.s.lines), "no second registration")
    # the data dir holds the node's secret: private to the node's user
    mode = stat.S_IMODE(os.stat(E.s.data_dir).st_mode)
    eq(mode & 0o077, 0, f"data dir mode {oct(mode)}")
    for name in os.listdir(E.s.data_dir):
        m = stat.S_IMODE(os.stat(os.path.join(E.s.data_dir, name)).st_mode)
        eq(m & 0o077, 0, f"{name} mode {oct(m)}")


def test_browser_login_and_headers():
    ensure_running()
    b, r = browser_login("alice", "/app/hello?x=1", extra_headers={"X-Hub-Sub": "evil", "X-HUB-ROLES": "System Manager"})
    eq(r.status, 200, "upstream answered")
    path, h, raw = E.up.last()
    eq(path, "/hello?x=1", "upstream path")
    ok(h.get("x-hub-sub") and h["x-hub-sub"] != "evil", "X-Hub-Sub set by the node")
    eq(h.get("x-hub-email"), "alice@example.com", "X-Hub-Email")
    eq(h.get("x-hub-name"), "Alice Doe", "X-Hub-Name")
    eq(h.get("x-hub-roles"), "Employee", "X-Hub-Roles")
    eq(len([1 for k, _ in raw if k.startswith("x-hub-")]), 4, "only the node's X-Hub-* headers: " + repr(raw))
    r = me(session_cookie_header(b))
    eq(r.status, 200, "/auth/me with the session")
    j = r.json()
    eq((j["email"], j["name"], j["roles"], j["client_id"]), ("alice@example.com", "Alice Doe", ["Employee"], E.cid), "me")
    ok(j["exp"] > time.time() + 3000, "session exp")
    E.alice = b
    # roles: Employee may use /staff/, nobody here holds System Manager
    eq(b.get(E.s.url + "/staff/x").status, 200, "alice on /staff/")
    eq(b.get(E.s.url + "/admin/x").status, 403, "alice on /admin/")
    bob, _ = browser_login("bob", "/app/")
    eq(bob.get(E.s.url + "/staff/x").status, 403, "bob on /staff/")
    eq(get(E.s.url + "/admin/x", headers=session_cookie_header(bob)).status, 403, "bob's API call on /admin/")


def data_file_digest(node):
    with open(os.path.join(node.data_dir, "data.mdb"), "rb") as f:
        data = f.read()
    return len(data), hashlib.sha256(data).hexdigest()


def test_anonymous_logins_write_nothing():
    """Item 6: a pending sign-in lives in its sealed cookie, so anonymous /auth/login requests leave the store as it was
    (the data file is byte for byte the same), whatever their next; an oversized next is refused."""
    ensure_running()
    time.sleep(1.5)  # let the start-up writes (keys, registration) settle
    before = data_file_digest(E.s)
    longest = "/" + "n" * 1023
    for i in range(300):
        nxt = longest if i % 3 == 0 else f"/app/{i}?q=" + "x" * (i % 200)
        r = get(E.s.url + "/auth/login?next=" + urllib.parse.quote(nxt, safe=""))
        eq(r.status, 302, f"anonymous login {i}")
    eq(data_file_digest(E.s), before, "300 anonymous sign-ins changed the data file")
    for nxt in ("/" + "n" * 1024, "/" + "x" * 4000):
        r = get(E.s.url + "/auth/login?next=" + urllib.parse.quote(nxt, safe=""))
        eq(r.status, 400, f"next of {len(nxt)} bytes")
        ok("too long" in r.text and r.header("set-cookie") is None, "a clear page, no pending sign-in: " + r.text[:200])
    # an unsafe next is not refused but replaced: the sign-in returns to /
    b, st, auth = pending_login(nxt="//evil.example/")
    cb = sign_in_at_primary(b, auth)
    r = b.get(cb, follow=False)
    eq((r.status, r.header("location")), (302, "/"), "an unsafe next becomes /")


def test_state_bound_to_browser():
    """Item 9: the state in the URL is an HMAC of a value only the sealed cookie holds. Whoever sees a callback URL
    (state and code) cannot finish that sign-in in another browser, whatever cookie they set; the victim still can."""
    ensure_running()
    victim, st, auth = pending_login(nxt="/app/victim")
    cb = sign_in_at_primary(victim, auth)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(cb).query))
    eq(q["state"], st, "the primary sends the state back")
    name = "hub_fedsec_state_" + st[:8]
    attacker, st2, _ = pending_login(nxt="/app/attacker")  # the attacker's own, valid pending sign-in
    own_name, own_value = "hub_fedsec_state_" + st2[:8], state_cookies(attacker)["hub_fedsec_state_" + st2[:8]]
    tampered = victim.cookies["127.0.0.1"][name]
    tampered = tampered[:20] + ("A" if tampered[20] != "A" else "B") + tampered[21:]
    attempts = {
        "no cookie": "",
        "the state as the cookie (the old design)": f"{name}={st}",
        "the attacker's sealed value under the victim's cookie name": f"{name}={own_value}",
        "the attacker's own cookie": f"{own_name}={own_value}",
        "both": f"{own_name}={own_value}; {name}={st}",
        "a tampered copy of the victim's cookie": f"{name}={tampered}",
        "the legacy state cookie": f"hub_fedsec_state={st}",
    }
    for what, cookie in attempts.items():
        r = get(cb, headers={"Cookie": cookie} if cookie else {})
        eq(r.status, 400, f"callback replayed with {what}")
        ok(r.header("location") is None and "hub_fedsec_session=" not in (r.header("set-cookie") or ""), f"no session: {what}")
        ok("not started in this browser" in r.text, f"{what}: {r.text[:200]}")
    # the code was never sent anywhere: the victim's browser finishes its own sign-in
    r = victim.get(cb, follow=False)
    eq((r.status, r.header("location")), (302, "/app/victim"), f"the victim signs in: {r.text[:200]}")
    ok(me(session_cookie_header(victim)).status == 200, "the victim has a session")
    eq(state_cookies(victim), {}, "the pending sign-in's cookie is gone")
    # the same callback again in the victim's browser: its pending sign-in is used up
    r = victim.get(cb, follow=False)
    eq(r.status, 400, "a callback is good once per browser")
    # malformed callbacks
    for query in ("", f"state={st}", f"code=x&state={st}&state={st}", f"code=x&code=y&state={st}",
                  f"code=x&error=access_denied&state={st}", "code=x&state=" + "A" * 43, "code=x&state=short",
                  f"code=&state={st}", f"code={'c' * 1025}&state={st}"):
        b, st3, _ = pending_login()
        r = b.get(E.s.url + "/auth/callback?" + query.replace(st, st3), follow=False)
        eq(r.status, 400, f"callback ?{query[:60]}")


def test_error_callbacks():
    """Item 9: an error answer counts only with the state of this browser's pending sign-in, and shows fixed text per
    error code, never the error_description (which whoever made the URL chose)."""
    ensure_running()
    evil = "<script>alert(1)</script> Call +1-555-SCAM to restore your account"
    # without a valid state: refused, whatever the error
    for query in ("error=access_denied", "error=access_denied&error_description=" + urllib.parse.quote(evil),
                  "error=access_denied&state=" + "A" * 43, "error=server_error&state=nope"):
        r = get(E.s.url + "/auth/callback?" + query)
        eq(r.status, 400, f"?{query[:50]} without a pending sign-in")
        ok("SCAM" not in r.text and "<script" not in r.text, "nothing of the URL on the page")
    cases = [("access_denied", 403, "did not allow"), ("login_required", 401, "sign in"),
             ("consent_required", 403, "consent"), ("interaction_required", 401, "sign in"),
             ("server_error", 502, "failed"), ("temporarily_unavailable", 503, "busy"),
             ("invalid_request", 400, "could not understand"), ("invalid_scope", 400, "refused"),
             ("totally_made_up", 400, "did not sign you in"), ("<b>x</b>", 400, "did not sign you in")]
    for error, status, text in cases:
        b, st, _ = pending_login()
        r = b.get(E.s.url + "/auth/callback?" + urllib.parse.urlencode(
            {"error": error, "state": st, "error_description": evil, "error_uri": "http://evil.example/"}), follow=False)
        eq(r.status, status, f"error {error}")
        ok(text in r.text, f"{error}: fixed text: {r.text[:300]}")
        ok("SCAM" not in r.text and "<script" not in r.text and "evil.example" not in r.text and "<b>x" not in r.text,
           f"{error}: nothing of the URL echoed: {r.text[:300]}")
        eq(state_cookies(b), {}, f"{error}: the pending sign-in ended")
        r = b.get(E.s.url + "/auth/callback?" + urllib.parse.urlencode({"error": error, "state": st}), follow=False)
        eq(r.status, 400, f"{error}: the same answer again")


def test_parallel_logins_and_bound():
    """Item 6: sign-ins started in several tabs of one browser all complete, each back to its own next; at most
    4 are pending at once (the ones that expire first give way)."""
    ensure_running()
    b = Browser()
    _, s1, a1 = pending_login(b, "/app/tab-one")
    _, s2, a2 = pending_login(b, "/app/tab-two")
    eq(len(state_cookies(b)), 2, "two pending sign-ins")
    cb2 = sign_in_at_primary(b, a2)
    cb1 = sign_in_at_primary(b, a1)
    r = b.get(cb1, follow=False)
    eq((r.status, r.header("location")), (302, "/app/tab-one"), "the first tab signs in")
    r = b.get(cb2, follow=False)
    eq((r.status, r.header("location")), (302, "/app/tab-two"), "the second tab too")
    eq(state_cookies(b), {}, "both pending sign-ins ended")
    states = [pending_login(b, f"/app/t{i}")[1] for i in range(7)]
    names = set(state_cookies(b))
    eq(len(names), 4, f"pending sign-ins kept: {sorted(names)}")
    eq(names, {"hub_fedsec_state_" + st[:8] for st in states[-4:]}, "the newest four are kept")
    r = b.get(E.s.url + f"/auth/callback?code=x&state={states[0]}", follow=False)
    eq(r.status, 400, "a sign-in that gave way is refused")
    # a cookie this node cannot open goes at the next sign-in
    b.cookies["127.0.0.1"]["hub_fedsec_state_garbage1"] = "not-sealed"
    pending_login(b, "/app/t8")
    ok("hub_fedsec_state_garbage1" not in state_cookies(b), "an unopenable pending cookie is deleted")
    eq(len(state_cookies(b)), 4, "still at most four")


def test_logout_needs_confirmation():
    """Item 10: a plain GET (a link, an image on another site) or a POST without this session's token never signs
    out; the confirmation form's POST does."""
    ensure_running()
    b, _ = browser_login("alice", "/app/lo")
    h = session_cookie_header(b)
    bob, _ = browser_login("bob", "/app/lo")
    r = b.get(E.s.url + "/auth/logout", follow=False)
    eq(r.status, 200, "GET shows a page")
    ok("<form" in r.text and 'method="post"' in r.text and 'action="/auth/logout"' in r.text, "a POST form: " + r.text[:300])
    ok(r.header("content-security-policy") and r.header("x-frame-options") == "DENY", "page headers")
    token = hidden_inputs(r.text)["csrf_token"]
    eq(me(h).status, 200, "GET did not sign out")
    eq(request("HEAD", E.s.url + "/auth/logout", headers={"Cookie": h["Cookie"]}).status, 200, "HEAD")
    bob_token = hidden_inputs(bob.get(E.s.url + "/auth/logout").text)["csrf_token"]
    anon_token = hidden_inputs(get(E.s.url + "/auth/logout").text)["csrf_token"]
    ok(len({token, bob_token, anon_token}) == 3, "a token per session")
    cookie = {"Cookie": h["Cookie"]}
    for what, form, want in [("no token", {}, 200), ("an empty token", {"csrf_token": ""}, 403),
                             ("a wrong token", {"csrf_token": "A" * 43}, 403),
                             ("bob's token", {"csrf_token": bob_token}, 403),
                             ("the no-session token", {"csrf_token": anon_token}, 403),
                             ("the token twice", [("csrf_token", token), ("csrf_token", token)], 403),
                             ("a longer token", {"csrf_token": token + "A"}, 403)]:
        r = post(E.s.url + "/auth/logout", form=form, headers=cookie)
        eq(r.status, want, f"POST with {what}")
        ok('name="csrf_token"' in r.text, f"{what}: the confirmation again")
        eq(me(h).status, 200, f"POST with {what} did not sign out")
    r = post(E.s.url + "/auth/logout", body=b"csrf_token=" + token.encode(), headers=cookie)  # no Content-Type
    eq((r.status, me(h).status), (200, 200), "a body that is not a form is no token")
    r = request("PUT", E.s.url + "/auth/logout", body=b"", headers=cookie)
    eq(r.status, 405, "PUT")
    r = post(E.s.url + "/auth/logout", form={"csrf_token": token}, headers=cookie)
    eq(r.status, 303, "the confirmed POST signs out")
    ok(r.header("location").startswith(E.p.url + "/oauth2/logout?id_token_hint="), r.header("location"))
    eq(me(h).status, 401, "signed out")
    eq(me(session_cookie_header(bob)).status, 200, "bob still signed in")


def test_api_401_and_browser_redirect():
    ensure_running()
    r = get(E.s.url + "/app/x?y=2", headers={"Accept": "application/json"})
    eq(r.status, 401, "API without credentials")
    eq(r.header("www-authenticate"), 'Bearer realm="hub"', "challenge")
    r = get(E.s.url + "/app/x?y=2", headers={"Accept": "text/html,application/xhtml+xml"})
    eq(r.status, 302, "browser without a session")
    eq(r.header("location"), "/auth/login?next=%2Fapp%2Fx%3Fy%3D2", "to the sign-in")
    r = get(E.s.url + "/app/x", headers=bearer("not.a.token"))
    eq(r.status, 401, "bad token")
    ok('error="invalid_token"' in r.header("www-authenticate"), r.header("www-authenticate"))
    r = me()
    eq(r.status, 401, "/auth/me without credentials")
    eq(r.header("www-authenticate"), 'Bearer realm="hub"', "/auth/me challenge")


def test_bearer_tokens():
    ensure_running()
    tok = cc_token()
    r = me(bearer(tok))
    eq(r.status, 200, "cc token accepted: " + r.text)
    j = r.json()
    eq((j["sub"], j["client_id"], j["roles"]), (E.svc[0], E.svc[0], ["Employee"]), "identity from the token")
    eq(j["exp"], parts(tok)[1]["exp"], "exp")
    r = get(E.s.url + "/staff/api", headers=bearer(tok))
    eq(r.status, 200, "bearer through a role-gated route")
    eq(E.up.last()[1].get("x-hub-sub"), E.svc[0], "upstream sees the client as sub")
    # a token for an audience this node does not accept
    eq(me(bearer(cc_token(E.other))).status, 401, "foreign audience refused")
    # the most specific route guards its path whatever the config order, and "//" cannot dodge it
    seen = len(E.up.seen)
    eq(get(E.s.url + "/app/admin/secret", headers=bearer(tok)).status, 403, "nested role-gated route")
    eq(get(E.s.url + "/app//admin/secret", headers=bearer(tok)).status, 400, "empty segment refused")
    eq(len(E.up.seen), seen, "nothing reached the upstream")
    # client-sent identity headers in any spelling are removed
    h = dict(bearer(tok), **{"X_Hub_Sub": "forged", "x-hub_roles": "System Manager"})
    eq(get(E.s.url + "/app/x", headers=h).status, 200, "plain route")
    ok(all(not k.replace("_", "-").startswith("x-hub-") or v != "forged" for k, v in E.up.last()[2]), "forged header removed")
    ok(not any(k == "x-hub_roles" for k, v in E.up.last()[2]), "underscore spelling removed")


def test_forged_tokens_refused():
    ensure_running()
    pem, kid = key_pem()
    tok = cc_token()
    header, claims, sig = parts(tok)
    now = int(time.time())
    # the signing helper itself works: a token we sign with the real key and fair claims passes
    good = rs256(pem, header, dict(claims, jti="forged-ok"))
    eq(me(bearer(good)).status, 200, "control token signed with the primary's key")
    cases = {
        "alg none": encode(dict(header, alg="none"), claims) + ".",
        "wrong iss": rs256(pem, header, dict(claims, iss="http://127.0.0.1:1")),
        "wrong aud": rs256(pem, header, dict(claims, aud="someone-else")),
        "expired": rs256(pem, header, dict(claims, exp=now - 3600, iat=now - 4000)),
        "iat in the future": rs256(pem, header, dict(claims, iat=now + 3600, exp=now + 7200)),
        "wrong typ": rs256(pem, dict(header, typ="JWT"), claims),
        "tampered": encode(header, dict(claims, sub="admin")) + "." + sig,
        "unknown kid": rs256(pem, dict(header, kid="nope"), claims),
    }
    pub = subprocess.run(["openssl", "pkey", "-in", pem, "-pubout"], capture_output=True, check=True).stdout
    si = encode(dict(header, alg="HS256"), claims)
    cases["HS256 keyed with the public key"] = si + "." + b64(hmac.new(pub, si.encode(), hashlib.sha256).digest())
    for what, t in cases.items():
        r = me(bearer(t))
        eq(r.status, 401, what)
        ok('error="invalid_token"' in (r.header("www-authenticate") or ""), what + " challenge")


def test_key_rotation_unknown_kid():
    ensure_running()
    # publish_ahead 1s: the primary's JWKS max-age is 0, honoured as 1 s (not clamped to 10 s), so a
    # next key is fetched before it starts signing
    jwks_gets = lambda: sum('"GET /oauth2/jwks"' in l for l in E.p.lines)
    before = jwks_gets()
    time.sleep(3.5)
    ok(jwks_gets() - before >= 3, f"the secondary refreshes the JWKS on the primary's short max-age: "
       f"{jwks_gets() - before} fetches in 3.5 s")
    old_kid = parts(cc_token())[0]["kid"]
    E.p.hubctl("keys", "rotate")
    deadline = time.time() + 15
    while time.time() < deadline:
        tok = cc_token()
        if parts(tok)[0]["kid"] != old_kid:
            break
        time.sleep(0.3)
    new_kid = parts(tok)[0]["kid"]
    ok(new_kid != old_kid, "the primary signs with the rotated key")
    deadline = time.time() + 4
    status = None
    while time.time() < deadline:
        status = me(bearer(tok)).status
        if status == 200:
            break
        time.sleep(0.2)
    eq(status, 200, "a token signed with the new key is accepted after a refresh")


def test_logout_local_and_backchannel():
    ensure_running()
    # local logout: session gone, sent to the primary's end_session endpoint and back
    b, _ = browser_login("alice", "/app/one")
    h = session_cookie_header(b)
    eq(me(h).status, 200, "signed in")
    r = b.get(E.s.url + "/auth/logout", follow=False)
    eq((r.status, me(h).status), (200, 200), "logout asks first")
    r = b.post(E.s.url + "/auth/logout", form=hidden_inputs(r.text), follow=False)
    eq(r.status, 303, "the confirmed logout redirects")
    ok(r.header("location").startswith(E.p.url + "/oauth2/logout?id_token_hint="), r.header("location"))
    eq(me(h).status, 401, "local session ended")
    r = b.get(urllib.parse.urljoin(E.s.url, r.header("location")), follow=False)
    eq((r.status, r.header("location")), (302, E.s.url + "/auth/signed-out"), "the primary sends the browser back")
    r = b.get(r.header("location"), follow=False)
    eq(r.status, 200, "the post-logout landing answers")
    ok("You are signed out" in r.text and 'href="/auth/login"' in r.text, "signed-out page: " + r.text[:300])
    ok("text/html" in r.header("content-type") and r.header("content-security-policy"), "an HTML page with its headers")
    # nodes registered earlier have <public_url>/ on record: exactly "/" answers the same page (no route covers it
    # here), every other unrouted path is still the server's 404
    r = get(E.s.url + "/")
    ok(r.status == 200 and "You are signed out" in r.text, f"GET / on a node without a / route: {r.status} {r.text[:200]}")
    for path in ("/nope", "/auth/signed-outx", "/auth/signed-out/x"):
        eq(get(E.s.url + path).status, 404, path)
    eq(request("POST", E.s.url + "/auth/signed-out", body=b"").status, 405, "POST /auth/signed-out")
    # without a local session the primary's session still ends: the node sends the browser there
    r = get(E.s.url + "/auth/logout")
    r = post(E.s.url + "/auth/logout", form=hidden_inputs(r.text))
    eq(r.status, 303, "logout without a session")
    ok(r.header("location").startswith(E.p.url + "/oauth2/logout?client_id="), r.header("location"))
    # back-channel: signing out at the primary ends the secondary's session
    b, _ = browser_login("alice", "/app/two")
    h = session_cookie_header(b)
    eq(me(h).status, 200, "signed in again")
    # without a hint naming its session the primary asks first (RP-Initiated Logout 1.0 §2); confirming signs out
    r = b.get(E.p.url + "/oauth2/logout", follow=False)
    m = re.search(r'name="csrf_token" value="([^"]*)"', r.text)
    ok(r.status == 200 and m is not None, "the primary asks: " + r.text[:300])
    eq(me(h).status, 200, "asking ends nothing")
    r = b.post(E.p.url + "/oauth2/logout", form={"csrf_token": m.group(1), "decision": "yes"}, follow=False)
    ok(r.status in (200, 302), "signed out at the primary")
    deadline = time.time() + 10
    while time.time() < deadline and me(h).status == 200:
        time.sleep(0.1)
    eq(me(h).status, 401, "back-channel logout ended the session")
    ok(E.s.wait_log("back-channel logout ended 1 local session", 2), "logged")
    # bad logout tokens
    r = post(E.s.url + "/auth/backchannel-logout", form={"logout_token": "x.y.z"})
    eq((r.status, r.json().get("error")), (400, "invalid_request"), "bad logout token")
    r = post(E.s.url + "/auth/backchannel-logout", form={"logout_token": cc_token()})
    eq(r.status, 400, "an access token is no logout token")


def test_primary_hangs():
    ensure_running()
    b, _ = browser_login("alice", "/app/hang")
    h = session_cookie_header(b)
    fresh = cc_token()  # never shown to the secondary yet: needs a signature check with the cached keys
    E.p.freeze()
    try:
        # bounds well under the 3 s a call to the hung primary would take: proof of not waiting, not a speed test
        for what, fn, want in [("healthz", lambda: get(E.s.url + "/healthz", timeout=5), 200),
                               ("me with session", lambda: me(h, timeout=5), 200),
                               ("me with token", lambda: me(bearer(fresh), timeout=5), 200),
                               ("unknown kid", lambda: me(bearer(encode({"alg": "RS256", "kid": "zzz", "typ": "at+jwt"},
                                                                        {"sub": "x"}) + ".AAAA"), timeout=5), 401),
                               ("route", lambda: get(E.s.url + "/app/x", headers=h, timeout=5), 200)]:
            t0 = time.time()
            r = fn()
            ok(time.time() - t0 < 2.5, f"{what} answered without waiting for the primary ({time.time() - t0:.2f}s)")
            eq(r.status, want, what)
        eq(me(bearer(fresh)).status, 200, "token verified while the primary hangs")
        # a sign-in is not sent to a primary that does not answer: a clear page once its check times out (3 s), and
        # at once for the next sign-ins (an answer from the primary less than 0.5 s old spares the check: let it age)
        time.sleep(0.6)
        for what, limit in (("first login", 6.0), ("next login", 2.5)):
            t0 = time.time()
            r = get(E.s.url + "/auth/login?next=/app/", timeout=8)
            took = time.time() - t0
            ok(took < limit, f"{what} while the primary hangs answered in {took:.2f}s")
            eq(r.status, 503, f"{what} while the primary hangs: {r.header('location')}")
            ok("text/html" in r.header("content-type") and "primary) is unreachable" in r.text, f"{what}: {r.text[:300]}")
        # a restart while the primary hangs: stored endpoints and keys keep the node working
        clean_stop(E.s, "clean stop while the primary hangs")
        E.s.start()
        eq(me(bearer(fresh)).status, 200, "token verified after a restart with stored keys")
    finally:
        E.p.proc.send_signal(signal.SIGCONT)
    eq(get(E.s.url + "/healthz").status, 200, "still fine after SIGCONT")
    r = get(E.s.url + "/auth/login", timeout=6)
    eq(r.status, 302, "login redirects again once the primary answers")
    ok(r.header("location").startswith(E.p.url + "/oauth2/authorize?"), r.header("location"))


def test_callback_client_gone():
    """The browser gives up while the code exchange waits for the primary: the late answer (to a closed connection) is
    handled, and a stop with an exchange still pending frees it (no crash, no sanitizer report)."""
    ensure_running()

    def login_state():  # while the primary answers: a sign-in is not sent to a primary that hangs
        b, st, _ = pending_login()
        return st, cookie_header(b)

    def hung_callback(pending):
        st, cookie = pending
        try:
            get(E.s.url + f"/auth/callback?code=x&state={st}", headers={"Cookie": cookie}, timeout=0.5)
            raise AssertionError("the callback answered while the primary hangs")
        except OSError:
            pass  # timed out: the client closes its connection

    st = login_state()
    E.p.freeze()
    try:
        hung_callback(st)
    finally:
        E.p.proc.send_signal(signal.SIGCONT)
    ok(E.s.wait_log("refused the authorization code", 5), "the late answer was handled")
    eq(get(E.s.url + "/healthz").status, 200, "healthy")
    st = login_state()
    E.p.freeze()
    try:
        hung_callback(st)
        clean_stop(E.s, "clean stop with an exchange pending")
    finally:
        E.p.proc.send_signal(signal.SIGCONT)


def test_static_credentials_and_issuer_check():
    ensure_running()
    s2 = Node("secondary", name="fedstatic")
    out = E.p.hubctl("client", "add", "--app-name", "static node", "--redirect-uris", s2.url + "/auth/callback",
                     "--skip-authorization").stdout
    cid, secret = re.search(r"client_id:\s*(\S+)", out).group(1), re.search(r"client_secret:\s*(\S+)", out).group(1)
    with open(os.path.join(s2.dir, "secret"), "w") as f:
        f.write(secret + "\n")
    s2.conf["secondary"] = {"server_url": E.p.url, "client_id": cid, "client_secret_file": os.path.join(s2.dir, "secret"),
                            "routes": [{"path": "/app/", "upstream": f"http://127.0.0.1:{E.up.port}/", "roles": []}]}
    s2.start()
    ok(s2.wait_log("using configured credentials of client " + cid, 5), "static credentials used")
    ok(s2.wait_log("signing keys of the primary in use", 5), "joined the primary")
    b, r = browser_login("alice", "/app/static", node=s2)
    eq(r.status, 200, "signed in through a statically configured node")
    # a pending sign-in of one node is nothing to another (its own key, its own cookie names)
    b2, st2, _ = pending_login(node=s2)
    value = state_cookies(b2, "fedstatic")["hub_fedstatic_state_" + st2[:8]]
    for cookie in (f"hub_fedsec_state_{st2[:8]}={value}", f"hub_fedstatic_state_{st2[:8]}={value}"):
        r = get(E.s.url + f"/auth/callback?code=x&state={st2}", headers={"Cookie": cookie})
        eq(r.status, 400, f"another node's pending sign-in at fedsec: {cookie[:40]}")
    ok(not any("registered with the primary" in l for l in s2.lines), "no registration")
    clean_stop(s2)
    # a primary whose issuer is not server_url is not trusted
    s3 = Node("secondary", name="fedwrongiss", env={"HUB_JOIN_TOKEN": "unused"})
    s3.conf["secondary"] = {"server_url": E.p.url.replace("127.0.0.1", "localhost")}
    s3.start()
    ok(s3.wait_log("which is not secondary.server_url", 5), "issuer mismatch logged")
    eq(get(s3.url + "/auth/login").status, 503, "no sign-in without a trusted primary")
    clean_stop(s3)


def test_revoked_registration():
    ensure_running()
    E.p.hubctl("node", "revoke", E.cid)
    clean_stop(E.s)
    E.s.start()
    ok(E.s.wait_log("this node's registration was revoked or is unknown to the primary", 10), "clear log line")
    r = get(E.s.url + "/auth/login")
    eq(r.status, 503, "sign-in refused with a page")
    ok("revoked" in r.text, "the page explains it")
    clean_stop(E.s)
    clean_stop(E.p)


if __name__ == "__main__":
    setup()
    run([test_registration_and_reuse, test_anonymous_logins_write_nothing, test_browser_login_and_headers,
         test_state_bound_to_browser, test_error_callbacks, test_parallel_logins_and_bound, test_logout_needs_confirmation,
         test_api_401_and_browser_redirect, test_bearer_tokens, test_forged_tokens_refused, test_key_rotation_unknown_kid,
         test_logout_local_and_backchannel, test_primary_hangs, test_callback_client_gone,
         test_static_credentials_and_issuer_check,
         test_revoked_registration])
