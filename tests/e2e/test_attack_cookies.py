"""Cookies planted by a neighbour (issue 10 classes 2 and 8 attacked again). Browsers do not separate cookies by port,
and a sibling host can set cookies for its parent domain, so a page the attacker controls next to a node (an upstream
app behind another secondary, another port of the host) can plant a cookie of the node's name under another path or
domain. The browser then sends two cookies of that name, the planted one possibly first: the attacker's own session
(the victim works in the attacker's account), the attacker's pre-session with its token (the victim is signed in as the
attacker: login CSRF). A cookie name sent twice counts as absent; and a form posted from another origin (the browser's
Sec-Fetch-Site) is refused whatever its token."""
import html
import http.client
import http.server
import json
import os
import re
import ssl
import subprocess
import urllib.parse

from hubtest import Browser, Node, eq, ok, run, serve_http, tmpdir

PASSWORD = "correct horse battery staple"
RP = "http://127.0.0.1:9/cb"


class Upstream:
    def __init__(self):
        self.seen = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                outer.seen.append({"path": self.path, "sub": self.headers.get("X-Hub-Sub"), "cookie": self.headers.get_all("Cookie")})
                body = json.dumps({"sub": self.headers.get("X-Hub-Sub")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = serve_http(H)
        self.port = self.server.server_address[1]


class Env:
    pass


E = Env()


def setup():
    E.up = Upstream()
    p = Node("primary", name="ckprim", conf={"primary": {"skip_authorization": "auto"}})
    pw = os.path.join(p.dir, "pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    p.hubctl("init")
    for u in ("alice", "mallory"):
        p.hubctl("user", "add", u, "--email", f"{u}@example.com", "--password-file", pw)
    out = p.hubctl("client", "add", "--app-name", "rp", "--redirect-uris", RP, "--skip-authorization").stdout
    E.rp = re.search(r"client_id:\s*(\S+)", out).group(1)
    out = p.hubctl("client", "add", "--app-name", "consent-rp", "--redirect-uris", RP).stdout
    E.consent_rp = re.search(r"client_id:\s*(\S+)", out).group(1)
    E.p = p
    p.start()
    token = p.hubctl("node", "join-token", "--name", "cksec").stdout.strip().split()[-1]
    s = Node("secondary", name="cksec", conf={"secondary": {
        "server_url": p.url, "join_token_file": "",
        "routes": [{"path": "/app/", "upstream": f"http://127.0.0.1:{E.up.port}/", "roles": []}]}})
    path = os.path.join(s.dir, "join.token")
    with open(path, "w") as f:
        f.write(token + "\n")
    s.conf["secondary"]["join_token_file"] = path
    E.s = s
    E.pcsrf, E.psession, E.ssession = p.cookie_name("csrf"), p.cookie_name("session"), s.cookie_name("session")


def ensure_running():
    for n in (E.p, E.s):
        if n.proc is None or n.proc.poll() is not None:
            n.start()
    ok(E.s.wait_log("signing keys of the primary", 15), "the secondary has the primary's keys")


def hidden(r):
    return {html.unescape(n): html.unescape(v) for n, v in
            re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"', r.text)}


def send(method, url, cookies, form=None, headers=None):
    """One request whose Cookie headers are exactly `cookies` (a list of header values, in order)."""
    h = dict(headers or {})
    h.setdefault("Accept", "text/html")
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        h["Content-Type"] = "application/x-www-form-urlencoded"
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.putrequest(method, u.path + ("?" + u.query if u.query else ""))
        for k, v in h.items():
            conn.putheader(k, v)
        for c in cookies:
            conn.putheader("Cookie", c)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body.encode() if body is not None else None)
        r = conn.getresponse()
        return r.status, [(k.lower(), v) for k, v in r.getheaders()], r.read()
    finally:
        conn.close()


def set_cookies(headers):
    return {c.split("=", 1)[0]: c.split("=", 1)[1].split(";", 1)[0] for k, c in headers if k == "set-cookie"}


def attacker_presession():
    """What the attacker gets for himself: a pre-session cookie and the sign-in form's token bound to it."""
    b = Browser()
    r = b.get(E.p.url + "/login")
    return b.cookies["127.0.0.1"][E.pcsrf], hidden(r)["csrf_token"]


def signed_in(b_cookies):
    """The sub the primary's session in these cookies belongs to (via a code for the rp client), or None."""
    q = urllib.parse.urlencode({"client_id": E.rp, "response_type": "code", "redirect_uri": RP, "scope": "openid",
                                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"})
    status, headers, _ = send("GET", E.p.url + "/oauth2/authorize?" + q, b_cookies)
    loc = dict(headers).get("location", "")
    return "code=" in loc


def test_login_csrf_with_a_planted_presession():
    ensure_running()
    pre, tok = attacker_presession()
    mine = Browser()
    mine.get(E.p.url + "/login")
    victim_pre = mine.cookies["127.0.0.1"][E.pcsrf]
    form = {"csrf_token": tok, "username": "mallory", "password": PASSWORD, "next": "/"}
    # the planted cookie next to the victim's own, first or last, in one Cookie header or in two
    for what, cookies in (("planted first", [f"{E.pcsrf}={pre}; {E.pcsrf}={victim_pre}"]),
                          ("planted last", [f"{E.pcsrf}={victim_pre}; {E.pcsrf}={pre}"]),
                          ("two headers", [f"{E.pcsrf}={pre}", f"theme=x; {E.pcsrf}={victim_pre}"]),
                          ("spaced and quoted", [f"a=1;  {E.pcsrf} = \"{pre}\" ;{E.pcsrf}={victim_pre}"])):
        status, headers, body = send("POST", E.p.url + "/login", cookies, form=form)
        ok(status != 302 and E.psession not in set_cookies(headers),
           f"{what}: the victim was signed in as the attacker ({status} {dict(headers).get('location')})")
    # alone (the victim had no pre-session yet), posted by the attacker's page: the browser names the other origin
    for site in ("same-site", "cross-site"):
        status, headers, body = send("POST", E.p.url + "/login", [f"{E.pcsrf}={pre}"], form=form,
                                     headers={"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "navigate", "Origin": "null"})
        ok(status != 302 and E.psession not in set_cookies(headers), f"Sec-Fetch-Site {site}: signed in ({status})")
    # the node's own form still works, from browsers that send the header and from those that do not
    for extra in ({"Sec-Fetch-Site": "same-origin", "Origin": "null"}, {}):
        pre, tok = attacker_presession()
        status, headers, _ = send("POST", E.p.url + "/login", [f"{E.pcsrf}={pre}"], form=dict(form, csrf_token=tok),
                                  headers=extra)
        eq(status, 302, f"an ordinary sign-in with {extra}")
        ok(E.psession in set_cookies(headers), "a session started")


def primary_session(user):
    b = Browser()
    r = b.get(E.p.url + "/login")
    f = hidden(r)
    f.update({"username": user, "password": PASSWORD})
    r = b.post(E.p.url + "/login", form=f, follow=False)
    eq(r.status, 302, "signed in: " + r.text[:200])
    return b


def test_forms_from_another_origin_refused():
    ensure_running()
    alice = primary_session("alice")
    cookies = ["; ".join(f"{k}={v}" for k, v in alice.cookies["127.0.0.1"].items())]
    # consent: the token is the right one, the browser says the form came from another site
    q = urllib.parse.urlencode({"client_id": E.consent_rp, "response_type": "code", "redirect_uri": RP, "scope": "openid",
                                "state": "s", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                                "code_challenge_method": "S256"})
    r = alice.get(E.p.url + "/oauth2/authorize?" + q, follow=False)
    eq(r.status, 200, "the consent page")
    fields = hidden(r)
    fields["decision"] = "allow"
    for site in ("same-site", "cross-site"):
        status, headers, body = send("POST", E.p.url + "/oauth2/approve", cookies, form=fields, headers={"Sec-Fetch-Site": site})
        loc = dict(headers).get("location", "")
        ok("code=" not in loc, f"approve from {site}: a code was issued ({status} {loc})")
    status, headers, _ = send("POST", E.p.url + "/oauth2/approve", cookies, form=fields, headers={"Sec-Fetch-Site": "same-origin"})
    ok("code=" in dict(headers).get("location", ""), f"approve from the page itself: {status}")
    # sign-out: the confirmation's token, posted from another site, ends nothing
    r = alice.get(E.p.url + "/logout", follow=False)
    fields = hidden(r)
    fields["decision"] = "yes"
    status, headers, _ = send("POST", E.p.url + "/logout", cookies, form=fields, headers={"Sec-Fetch-Site": "same-site"})
    ok(signed_in(cookies), f"a sign-out posted from another site ended the session ({status})")
    status, headers, _ = send("POST", E.p.url + "/logout", cookies, form=fields, headers={"Sec-Fetch-Site": "same-origin"})
    ok(not signed_in(cookies), f"the page's own sign-out works ({status})")


def secondary_session(user):
    b = Browser()
    r = b.get(E.s.url + "/app/in")
    f = hidden(r)
    f.update({"username": user, "password": PASSWORD})
    r = b.post(E.p.url + "/login", form=f)
    eq((r.status, r.url), (200, E.s.url + "/app/in"), "signed in at the secondary: " + r.text[:200])
    return b.cookies["127.0.0.1"][E.ssession]


def test_planted_session_not_used():
    ensure_running()
    victim, attacker = secondary_session("alice"), secondary_session("mallory")
    subs = {}
    for who, cookie in (("alice", victim), ("mallory", attacker)):
        status, _, body = send("GET", E.s.url + "/app/whoami", [f"{E.ssession}={cookie}"], headers={"Accept": "application/json"})
        eq(status, 200, f"{who}'s own session")
        subs[who] = json.loads(body)["sub"]
    ok(subs["alice"] != subs["mallory"], "two users")
    for what, cookies in (("planted first", [f"{E.ssession}={attacker}; {E.ssession}={victim}"]),
                          ("planted last", [f"{E.ssession}={victim}; {E.ssession}={attacker}"]),
                          ("two headers", [f"{E.ssession}={attacker}", f"{E.ssession}={victim}"]),
                          ("planted twice", [f"{E.ssession}={attacker}; a=1; {E.ssession}={attacker}"])):
        before = len(E.up.seen)
        status, headers, _ = send("GET", E.s.url + "/app/whoami", cookies, headers={"Accept": "application/json"})
        served = [x["sub"] for x in E.up.seen[before:]]
        ok(subs["mallory"] not in served, f"{what}: the victim's request was served as the attacker")
        eq(status, 401, f"{what}: an ambiguous session is no session")
    # /auth/me and the sign-out alike
    status, _, _ = send("GET", E.s.url + "/auth/me", [f"{E.ssession}={attacker}; {E.ssession}={victim}"],
                        headers={"Accept": "application/json"})
    eq(status, 401, "/auth/me with two session cookies")


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def walk(url, ctx, jar, form=None, hops=12):
    """A browser over http and https: one jar for the host (cookies ignore ports), redirects followed.
    Returns (status, url, body, every Set-Cookie seen)."""
    seen = []
    method = "POST" if form is not None else "GET"
    for _ in range(hops):
        u = urllib.parse.urlsplit(url)
        conn = (http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10) if u.scheme == "https"
                else http.client.HTTPConnection(u.hostname, u.port, timeout=10))
        h = {"Accept": "text/html"}
        if jar:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, u.path + ("?" + u.query if u.query else ""), body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        for c in r.headers.get_all("Set-Cookie") or []:
            seen.append(c)
            name, _, rest = c.partition("=")
            value = rest.split(";", 1)[0]
            if value and "max-age=0" not in c.lower():
                jar[name] = value
            else:
                jar.pop(name, None)
        if r.status in (302, 303, 307, 308) and r.getheader("Location"):
            url, method, form = urllib.parse.urljoin(url, r.getheader("Location")), "GET", None
            continue
        if r.status == 200 and b'type="password"' in data:
            form = {html.unescape(n): html.unescape(v) for n, v in
                    re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"', data.decode())}
            form.update({"username": "alice", "password": PASSWORD})
            url, method = urllib.parse.urljoin(url, "/login"), "POST"
            continue
        return r.status, url, data, seen
    raise AssertionError("too many redirects")


def test_secondary_session_cookie_host_only_under_tls():
    ensure_running()
    d = tmpdir()
    cert, key = make_cert(d)
    token = E.p.hubctl("node", "join-token", "--name", "cktls").stdout.strip().split()[-1]
    s = Node("secondary", name="cktls", conf={"node": {"tls": {"cert": cert, "key": key}}, "secondary": {
        "server_url": E.p.url, "join_token_file": "",
        "routes": [{"path": "/app/", "upstream": f"http://127.0.0.1:{E.up.port}/", "roles": []}]}})
    s.url = s.url.replace("http://", "https://")
    s.conf["node"]["public_url"] = s.url
    path = os.path.join(s.dir, "join.token")
    with open(path, "w") as f:
        f.write(token + "\n")
    s.conf["secondary"]["join_token_file"] = path
    s.start()
    ok(s.wait_log("signing keys of the primary", 15), "the TLS secondary joined")
    ctx = ssl.create_default_context(cafile=cert)
    jar = {}
    status, url, body, seen = walk(s.url + "/app/in", ctx, jar)
    eq((status, url), (200, s.url + "/app/in"), f"signed in through the TLS secondary: {body[:200]!r}")
    sess = [c for c in seen if c.startswith("__Host-hub_cktls_session=")]
    ok(sess, f"the session cookie carries __Host-: {seen}")
    attrs = [a.strip().lower() for a in sess[0].split(";")[1:]]
    ok("secure" in attrs and "path=/" in attrs and not any(a.startswith("domain") for a in attrs), f"attributes: {sess[0]}")
    ok("hub_cktls_session" not in jar, f"no unprefixed session cookie: {list(jar)}")
    # the pending sign-in's cookie too: a sibling host could otherwise plant its own pending sign-in (login CSRF)
    states = [c for c in seen if "_state_" in c.split("=", 1)[0] and "max-age=0" not in c.lower()]
    ok(states and all(c.startswith("__Host-hub_cktls_state_") for c in states), f"state cookies carry __Host-: {seen}")
    for c in states:
        attrs = [a.strip().lower() for a in c.split(";")[1:]]
        ok("secure" in attrs and "path=/" in attrs and not any(a.startswith("domain") for a in attrs), f"state: {c}")
    # what a sibling host could plant (no prefix, Domain=) is not this node's session
    value = jar["__Host-hub_cktls_session"]
    status, _, _ = send_tls(s.port, ctx, "/auth/me", [f"hub_cktls_session={value}"])
    eq(status, 401, "an unprefixed session cookie is not taken")
    status, _, _ = send_tls(s.port, ctx, "/auth/me", [f"__Host-hub_cktls_session={value}"])
    eq(status, 200, "the node's own cookie works")
    eq(s.stop(), 0, "the TLS secondary stops cleanly")


def send_tls(port, ctx, path, cookies):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    try:
        conn.putrequest("GET", path)
        conn.putheader("Accept", "application/json")
        for c in cookies:
            conn.putheader("Cookie", c)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        conn.close()


def test_clean_stop():
    ensure_running()
    for n in (E.s, E.p):
        rc = n.stop()
        log = open(n.log_path).read()
        ok("runtime error" not in log and "ERROR: AddressSanitizer" not in log, f"{n.name}: sanitizer error:\n" + log[-3000:])
        eq(rc, 0, f"{n.name} exit code")


if __name__ == "__main__":
    setup()
    run([test_login_csrf_with_a_planted_presession, test_forms_from_another_origin_refused, test_planted_session_not_used,
         test_secondary_session_cookie_host_only_under_tls, test_clean_stop])
