"""Revocation on a real primary (issue 10, items 3 and 4): hubctl user disable / del / passwd / roles --remove / role del
end the user's primary sessions, revoke their token families and bring every client with a back-channel URI a signed
logout token naming the user by sub (also when hubd was down at the time); changes that take nothing away end nothing;
code exchange and refresh check the user against the client's allowed_roles again."""
import base64
import hashlib
import html.parser
import http.server
import json
import os
import secrets
import subprocess
import threading
import time
import urllib.parse

from hubtest import Browser, Node, eq, eventually, get, ok, post, run, serve_http

PASSWORD = "correct horse battery staple"
RP = "http://127.0.0.1:9/cb"  # nothing listens there: the browser never follows redirects to the client
BCL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
NOTIFIED = ("/web", "/other", "/gated")  # the clients with a back-channel URI: all of them hear of every user


# ---- a relying party's back-channel endpoint ----

class Receiver:
    """Records the logout tokens POSTed to it, by path."""

    def __init__(self):
        self.lock = threading.Lock()
        self.got = []  # (path, logout_token)
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
                with outer.lock:
                    outer.got.append((self.path, form.get("logout_token", "")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = serve_http(H)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def for_sub(self, sub):
        with self.lock:
            return [(p, t) for p, t in self.got if claims(t).get("sub") == sub]

    def wait_for(self, sub, count, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            got = self.for_sub(sub)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        return self.for_sub(sub)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ---- JWTs ----

def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def claims(token):
    try:
        return json.loads(b64d(token.split(".")[1]))
    except (ValueError, IndexError):
        return {}


def verify_signature(n, token):
    """RS256 with the primary's own key (in its store), checked by openssl; the kid must be in the published JWKS."""
    header = json.loads(b64d(token.split(".")[0]))
    eq(header.get("alg"), "RS256", "logout token alg")
    kids = [k["kid"] for k in get(n.url + "/oauth2/jwks").json()["keys"]]
    ok(header.get("kid") in kids, f"logout token kid {header.get('kid')} is published: {kids}")
    pub = os.path.join(n.dir, "pub-" + header["kid"] + ".pem")
    sig = os.path.join(n.dir, "sig.bin")
    subprocess.run(["openssl", "pkey", "-pubout", "-out", pub], input=n.private_key_pem(header["kid"]), check=True,
                   capture_output=True)
    with open(sig, "wb") as f:
        f.write(b64d(token.split(".")[2]))
    signing_input = token.rsplit(".", 1)[0].encode()
    p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature", sig], input=signing_input,
                       capture_output=True)
    eq(p.returncode, 0, "logout token signature: " + p.stdout.decode() + p.stderr.decode())
    return header


def check_logout_tokens(h, got, sub, what):
    """One token per client with a back-channel URI, each signed by the primary and naming sub without a sid."""
    eq(sorted(p for p, _ in got), sorted(NOTIFIED), what + ": one logout token per client with a back-channel URI")
    jtis = set()
    for path, token in got:
        eq(verify_signature(h.node, token).get("typ"), "logout+jwt", what + ": typ")
        c = claims(token)
        eq(c.get("iss"), h.node.url, what + ": iss")
        eq(c.get("aud"), h.cid(path[1:]), what + ": aud is the client the token goes to")
        eq(c.get("sub"), sub, what + ": sub")
        ok("sid" not in c and "nonce" not in c, what + ": no sid (every session of the user) and no nonce")
        ok(BCL_EVENT in (c.get("events") or {}), what + ": back-channel logout event")
        ok(abs(c.get("iat", 0) - time.time()) < 120 and c.get("exp", 0) > c.get("iat", 0), what + ": iat and exp")
        ok(c.get("jti"), what + ": jti")
        jtis.add(c["jti"])
    eq(len(jtis), len(got), what + ": a jti each")


# ---- the primary ----

class FormParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "inputs": []})
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"].append((a.get("name"), a.get("type", "text").lower(), a.get("value", "")))


def pkce():
    verifier = secrets.token_urlsafe(48)
    return verifier, base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class Hub:
    """A primary (RS256) whose clients web, other and gated (allowed_roles Employee;Manager) have back-channel URIs on one
    receiver, and plain has none; users are added by each test."""

    def __init__(self):
        self.rcv = Receiver()
        self.node = Node("primary", name="revp")
        self.node.hubctl("init", "--alg", "RS256")
        self.pw = os.path.join(self.node.dir, "pw")
        with open(self.pw, "w") as f:
            f.write(PASSWORD + "\n")
        for role in ("Employee", "Temp", "Manager"):
            self.node.hubctl("role", "add", role)
        self.clients = {}
        common = ["--redirect-uris", RP, "--skip-authorization"]
        self.add_client("web", "--app-name", "Web", *common, "--backchannel-logout-uri", self.rcv.base + "/web")
        self.add_client("other", "--app-name", "Other", *common, "--backchannel-logout-uri", self.rcv.base + "/other")
        self.add_client("gated", "--app-name", "Gated", *common, "--allowed-roles", "Employee;Manager",
                        "--backchannel-logout-uri", self.rcv.base + "/gated")
        self.add_client("plain", "--app-name", "Plain", *common)
        self.add_client("svc", "--app-name", "Service", "--grant-type", "client_credentials", "--scopes", "read",
                        "--redirect-uris", "")
        self.node.start()
        self.url = self.node.url

    def finish(self):
        rc = self.node.stop()
        log = open(self.node.log_path).read()
        ok("Sanitizer" not in log and "runtime error" not in log, "sanitizer report:\n" + log[-3000:])
        eq(rc, 0, "hubd exit code")
        self.rcv.close()

    def add_client(self, key, *args):
        out = self.node.hubctl("client", "add", *args).stdout
        vals = dict(line.split(": ", 1) for line in out.strip().splitlines() if ": " in line)
        self.clients[key] = (vals["client_id"].strip(), vals.get("client_secret", "").strip())

    def cid(self, key):
        return self.clients[key][0]

    def basic(self, key):
        cid, sec = self.clients[key]
        return {"Authorization": "Basic " + base64.b64encode(f"{cid}:{sec}".encode()).decode()}

    def add_user(self, name, *roles):
        args = ["user", "add", name, "--email", f"{name}@example.com", "--password-file", self.pw]
        for r in roles:
            args += ["--role", r]
        self.node.hubctl(*args)

    def authorize_url(self, key, **params):
        q = {"client_id": self.cid(key), "response_type": "code", "redirect_uri": RP, "state": "s", "scope": "openid"}
        q.update(params)
        return self.url + "/oauth2/authorize?" + urllib.parse.urlencode(q)

    def go(self, b, url, method="GET", form=None):
        """Follows redirects while they stay on the hub; r.location is where it left the hub (or None)."""
        for _ in range(10):
            r = b.request(method, url, form=form, follow=False)
            loc = r.header("location")
            if r.status in (301, 302, 303) and loc:
                nxt = urllib.parse.urljoin(url, loc)
                if not nxt.startswith(self.url + "/"):
                    r.location = nxt
                    return r
                url, method, form = nxt, "GET", None
                continue
            r.url, r.location = url, None
            return r
        raise AssertionError("redirect loop at " + url)

    def sign_in(self, user, password=PASSWORD):
        """A browser signed in at the primary as user (any hidden field of the form is sent back as it came)."""
        b = Browser()
        page = self.go(b, self.url + "/login?next=/healthz")
        p = FormParser()
        p.feed(page.text)
        forms = [f for f in p.forms if any(t == "password" for _, t, _ in f["inputs"])]
        ok(forms, "sign-in form:\n" + page.text[:400])
        data = {}
        for name, typ, value in forms[0]["inputs"]:
            if name:
                data[name] = password if typ == "password" else user if typ in ("text", "email") else value
        r = self.go(b, urllib.parse.urljoin(page.url, forms[0]["action"] or page.url), "POST", data)
        eq(r.url, self.url + "/healthz", f"{user} signed in: {r.status} {r.text[:200]}")
        return b

    def code(self, b, key="web"):
        verifier, challenge = pkce()
        r = self.go(b, self.authorize_url(key, code_challenge=challenge, code_challenge_method="S256"))
        ok(r.location and r.location.startswith(RP), f"authorize answers the client: {r.status} {r.text[:200]}")
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.location).query))
        ok("code" in q, f"a code for {key}: {q}")
        return q["code"], verifier

    def exchange(self, key, code, verifier):
        return post(self.url + "/oauth2/token", headers=self.basic(key), form={
            "grant_type": "authorization_code", "code": code, "redirect_uri": RP, "code_verifier": verifier})

    def tokens(self, b, key="web"):
        r = self.exchange(key, *self.code(b, key))
        eq(r.status, 200, f"code exchange at {key}: {r.text[:200]}")
        return r.json()

    def refresh(self, key, rt):
        return post(self.url + "/oauth2/token", headers=self.basic(key),
                    form={"grant_type": "refresh_token", "refresh_token": rt})

    def active(self, key, at):
        return post(self.url + "/oauth2/introspect", form={"token": at}, headers=self.basic(key)).json()["active"]

    def signed_in(self, b):
        """prompt=none answers with a code while the browser's primary session lives, login_required once it ended."""
        r = self.go(b, self.authorize_url("web", prompt="none"))
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.location or "").query))
        ok("code" in q or q.get("error") == "login_required", f"prompt=none answer: {r.status} {q}")
        return "code" in q


class Person:
    """A user signed in at the primary with tokens at web and gated."""

    def __init__(self, h, name, *roles):
        h.add_user(name, *roles)
        self.name = name
        self.browser = h.sign_in(name)
        self.web = h.tokens(self.browser, "web")
        self.gated = h.tokens(self.browser, "gated")
        self.sub = claims(self.web["id_token"])["sub"]

    def check_alive(self, h, what):
        ok(h.signed_in(self.browser), what + ": primary session alive")
        for key in ("web", "gated"):
            t = getattr(self, key)
            eq(h.active(key, t["access_token"]), True, f"{what}: access token at {key} active")
            r = h.refresh(key, t["refresh_token"])
            eq(r.status, 200, f"{what}: refresh at {key}: {r.text[:200]}")
            setattr(self, key, dict(t, **r.json()))

    def check_ended(self, h, what):
        ok(not h.signed_in(self.browser), what + ": primary session ended")
        for key in ("web", "gated"):
            t = getattr(self, key)
            eq(h.active(key, t["access_token"]), False, f"{what}: access token at {key} inactive")
            r = h.refresh(key, t["refresh_token"])
            eq((r.status, r.json().get("error")), (400, "invalid_grant"), f"{what}: refresh at {key} refused")


# ---- tests ----

EVENTS = [
    # (what, roles of the user, hubctl arguments with {u} for the user)
    ("user disable", ("Employee", "Temp"), ("user", "disable", "{u}")),
    ("user del", ("Employee",), ("user", "del", "{u}")),
    ("user passwd", ("Employee",), ("user", "passwd", "{u}", "--password-file", "{pw2}")),
    ("user roles --remove", ("Employee", "Temp"), ("user", "roles", "{u}", "--remove", "Temp")),
    ("user roles --remove an allowed role", ("Employee",), ("user", "roles", "{u}", "--remove", "Employee")),
    ("role del of a role held", ("Employee", "Solo-{u}"), ("role", "del", "Solo-{u}")),
]


def test_changes_end_sessions_tokens_and_notify():
    h = Hub()
    pw2 = os.path.join(h.node.dir, "pw2")
    with open(pw2, "w") as f:
        f.write("a brand new password\n")
    bystander = Person(h, "bystander", "Employee", "Temp")
    for i, (what, roles, args) in enumerate(EVENTS):
        name = f"user{i}"
        for r in roles:
            if r.startswith("Solo-"):
                h.node.hubctl("role", "add", r.format(u=name))
        p = Person(h, name, *(r.format(u=name) for r in roles))
        p.check_alive(h, what + " (before)")
        eq(h.rcv.for_sub(p.sub), [], what + ": nothing sent before the change")
        h.node.hubctl(*(a.format(u=name, pw2=pw2) for a in args))
        got = h.rcv.wait_for(p.sub, len(NOTIFIED))
        check_logout_tokens(h, got, p.sub, what)
        p.check_ended(h, what)
        bystander.check_alive(h, what + ": another user")
    eq(h.rcv.for_sub(bystander.sub), [], "nothing sent about the other user")
    # after a new password the user signs in again with it; after losing Temp too, with their remaining roles
    h.sign_in("user2", "a brand new password")
    h.sign_in("user3")
    h.finish()


def test_changes_that_take_nothing_away():
    h = Hub()
    p = Person(h, "carol", "Employee")
    h.node.hubctl("user", "enable", "carol")  # already enabled
    h.node.hubctl("user", "roles", "carol", "--add", "Manager")
    h.node.hubctl("user", "roles", "carol", "--remove", "Temp")  # not held
    h.node.hubctl("role", "add", "Unused")
    h.node.hubctl("role", "del", "Unused")
    h.node.hubctl("user", "show", "carol")
    # the queue is looked at every 250 ms: a second and a half is many chances to send something wrongly
    time.sleep(1.5)
    eq(h.rcv.for_sub(p.sub), [], "no logout token for changes that take nothing away")
    p.check_alive(h, "after changes that take nothing away")
    # a refused change (a role a client holds) changes nothing either
    h.node.hubctl("user", "roles", "carol", "--add", "Employee")
    r = h.node.hubctl("role", "del", "Employee", check=False)
    eq(r.returncode, 1, "role del of a role in a client's allowed_roles: " + r.stderr)
    ok("held by a client" in r.stderr, r.stderr)
    time.sleep(0.6)
    eq(h.rcv.for_sub(p.sub), [], "no logout token for a refused change")
    p.check_alive(h, "after a refused change")
    h.finish()


def test_queue_survives_hubd_down():
    """hubctl works on the data dir while hubd is stopped; the logouts it queued go out when hubd starts again."""
    h = Hub()
    p = Person(h, "dave", "Employee")
    q = Person(h, "erin", "Employee")
    eq(h.node.stop(), 0, "hubd stopped")
    h.node.hubctl("user", "disable", "dave")
    h.node.hubctl("user", "roles", "erin", "--remove", "Employee")
    time.sleep(0.5)
    eq(h.rcv.for_sub(p.sub) + h.rcv.for_sub(q.sub), [], "nothing delivered while hubd is down")
    h.node.start()
    check_logout_tokens(h, h.rcv.wait_for(p.sub, len(NOTIFIED)), p.sub, "queued while down (disable)")
    check_logout_tokens(h, h.rcv.wait_for(q.sub, len(NOTIFIED)), q.sub, "queued while down (role removed)")
    p.check_ended(h, "disabled while hubd was down")
    q.check_ended(h, "role removed while hubd was down")
    # delivered once: a restart sends nothing again
    eq(h.node.stop(), 0, "hubd stopped again")
    h.node.start()
    time.sleep(1.0)
    eq(len(h.rcv.for_sub(p.sub)), len(NOTIFIED), "a delivered job is not sent again after a restart")
    h.finish()


def refreshes_refused(h, key, rt):
    """Waits (eventually: a cluster sees a hubctl change within a second) until a refresh at key's client with a live
    refresh token of its own, rt, is refused with invalid_grant. A refresh that still passes rotates the token: the next
    try uses the new one, so a refusal is never the reuse of a used token."""
    live = [rt]

    def check():
        r = h.refresh(key, live[0])
        if r.status == 200:
            live[0] = r.json()["refresh_token"]
        eq((r.status, r.json().get("error")), (400, "invalid_grant"), "a refresh after the change: " + r.text)

    eventually(h.node, check)


def test_allowed_roles_checked_at_exchange_and_refresh():
    """A user who no longer holds any of the client's allowed_roles (the client changed) gets invalid_grant at the next
    refresh or code exchange, and the family is revoked; other clients and users are unaffected."""
    h = Hub()
    frank = Person(h, "frank", "Employee")
    gina = Person(h, "gina", "Manager")
    code, verifier = h.code(frank.browser, "gated")  # issued while frank may use gated
    probe = h.tokens(frank.browser, "gated")["refresh_token"]  # a grant of its own, to see the change reach hubd
    h.node.hubctl("client", "update", h.cid("gated"), "--allowed-roles", "Manager")
    refreshes_refused(h, "gated", probe)
    # refresh: refused and the family revoked
    r = h.refresh("gated", frank.gated["refresh_token"])
    eq((r.status, r.json().get("error")), (400, "invalid_grant"), "refresh without an allowed role: " + r.text)
    eq(h.active("gated", frank.gated["access_token"]), False, "the family's access token is inactive")
    eq(h.refresh("gated", frank.gated["refresh_token"]).status, 400, "and stays refused")
    # code exchange: refused, the code is burnt and its family revoked
    r = h.exchange("gated", code, verifier)
    eq((r.status, r.json().get("error")), (400, "invalid_grant"), "code exchange without an allowed role: " + r.text)
    eq(h.exchange("gated", code, verifier).json().get("error"), "invalid_grant", "the code is used up")
    # frank's other client and gina (who holds the allowed role) carry on
    r = h.refresh("web", frank.web["refresh_token"])
    eq(r.status, 200, "another client of the same user: " + r.text)
    r = h.refresh("gated", gina.gated["refresh_token"])
    eq(r.status, 200, "a user holding an allowed role: " + r.text)
    # the client opened to everyone again: a new grant works for frank
    h.node.hubctl("client", "update", h.cid("gated"), "--allowed-roles", "")
    # (eventually: each try is a new code; h.tokens asserts the exchange)
    ok(eventually(h.node, lambda: h.tokens(frank.browser, "gated"))["access_token"],
       "a new grant once the client allows everyone")
    # client_credentials has no user: unaffected
    r = post(h.url + "/oauth2/token", headers=h.basic("svc"), form={"grant_type": "client_credentials"})
    eq(r.status, 200, "client_credentials: " + r.text)
    h.finish()


if __name__ == "__main__":
    run([test_changes_end_sessions_tokens_and_notify, test_changes_that_take_nothing_away, test_queue_survives_hubd_down,
         test_allowed_roles_checked_at_exchange_and_refresh])
