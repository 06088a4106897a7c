"""The database away (SPEC §9): a primary on PostgreSQL, and a secondary in front of an upstream. While the server is
stopped (pg_ctl stop -m fast, then again the crash-like -m immediate), /healthz answers 503; every endpoint that needs
the database answers 503 with Retry-After (temporarily_unavailable for OAuth clients, a page for browsers) and changes
nothing; JWKS and discovery are served with the same keys; the secondary keeps verifying a token it had and serving a
session it had. Once the server is back, everything answers 200 within seconds, without a restart, and a refresh token
issued before the outage (and presented during it, to the token and revocation endpoints) redeems. The primary never
answers a 5xx other than 503."""
import base64
import json
import os
import re
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from hubtest import Browser, Node, PgServer, basic, eq, get, ok, post, request, run, serve_http
from test_token import PASSWORD, _inputs, creds, get_code, pkce

REDIRECT = "http://127.0.0.1:9/cb"


class Echo(BaseHTTPRequestHandler):
    """The upstream: answers with the X-Hub-Sub it got."""

    def do_GET(self):
        body = json.dumps({"sub": self.headers.get("X-Hub-Sub")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def write_secret(path):
    with open(path, "w") as f:
        f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    os.chmod(path, 0o600)
    return path


def wait_for(cond, what, timeout=15):
    """Polls cond until it returns a true value (returned), at most timeout seconds."""
    end = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > end:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.1)


class Env:
    pass


def setup():
    e = Env()
    e.pg = PgServer(password="away-" + base64.urlsafe_b64encode(os.urandom(9)).decode())
    p = Node("primary", name="dbaway", store="postgresql", conf={
        "store": {"backend": "postgresql", "postgresql": {"conninfo": e.pg.database("away"),
                                                          "password_file": e.pg.password_file, "pool": 4}},
        "primary": {"cluster_secret_file": None}})
    p.conf["primary"]["cluster_secret_file"] = write_secret(os.path.join(p.dir, "cluster.secret"))
    p.hubctl("init", "--alg", "ES256")
    p.hubctl("role", "add", "Employee")
    p.hubctl("user", "add", "alice", "--email", "alice@example.com", "--role", "Employee", input=PASSWORD + "\n")
    p.redirect = REDIRECT
    p.web = creds(p.hubctl("client", "add", "--app-name", "web", "--redirect-uris", REDIRECT, "--skip-authorization").stdout)
    e.svc = creds(p.hubctl("client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes", "read",
                           "--redirect-uris", "").stdout)
    join = p.hubctl("node", "join-token", "--name", "awaysec").stdout.strip().split()[-1]
    e.join2 = p.hubctl("node", "join-token", "--name", "later").stdout.strip().split()[-1]
    e.p = p.start()
    e.up = serve_http(Echo)
    jf = os.path.join(p.dir, "join.token")
    with open(jf, "w") as f:
        f.write(join + "\n")
    e.s = Node("secondary", name="awaysec", conf={"secondary": {
        "server_url": p.url, "join_token_file": jf, "accept_audiences": [e.svc[0]],
        "routes": [{"path": "/app/", "upstream": f"http://127.0.0.1:{e.up.server_address[1]}/", "roles": []}]}}).start()
    ok(e.s.wait_log("signing keys of the primary", 10), "the secondary loaded the primary's keys")
    return e


def token(e, form, who):
    return post(e.p.url + "/oauth2/token", form=form, headers=basic(*who))


def code_flow(e):
    """A new grant for alice at the web client: its token response."""
    verifier, challenge = pkce()
    code = get_code(e.p, e.p.web[0], challenge=challenge)
    r = token(e, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
              e.p.web)
    eq(r.status, 200, "code exchange " + r.text)
    return r.json()


def browser_sign_in(e):
    """A browser signed in at the secondary through the primary, back at the upstream."""
    b = Browser()
    r = b.get(e.s.url + "/app/hello")
    ok(r.url.startswith(e.p.url + "/login"), f"sent to the primary's sign-in page: {r.status} {r.url}")
    form = _inputs(r.text)
    form.update(username="alice", password=PASSWORD)
    r = b.post(e.p.url + "/login", form=form)
    eq((r.url, r.status), (e.s.url + "/app/hello", 200), "back at the upstream " + r.text[:200])
    return b


def upstream_sub(e, b):
    """What the upstream hears through the secondary with b's session (the session's sub), or the status."""
    r = b.get(e.s.url + "/app/hello", follow=False, headers={"Accept": "application/json"})
    return r.json()["sub"] if r.status == 200 else r.status


def unavailable_json(r, what):
    eq(r.status, 503, what + " " + r.text[:200])
    eq(r.header("retry-after"), "1", what + ": Retry-After")
    eq(r.json().get("error"), "temporarily_unavailable", what)


def unavailable_page(r, what):
    eq(r.status, 503, what + " " + r.text[:200])
    eq(r.header("retry-after"), "1", what + ": Retry-After")
    ok(r.header("content-type").startswith("text/html") and "Unavailable for a moment" in r.text, what + ": a page")


def check_away(e, rt, at):
    """Everything a client may try while the database is away; rt and at were issued before."""
    u = e.p.url
    r = wait_for(lambda: (lambda r: r if r.status == 503 else None)(get(u + "/healthz")), "/healthz says 503", 10)
    eq((r.json()["status"], r.header("retry-after")), ("unavailable", "1"), "/healthz")
    unavailable_json(token(e, {"grant_type": "refresh_token", "refresh_token": rt}, e.p.web), "refresh")
    unavailable_json(token(e, {"grant_type": "client_credentials"}, e.svc), "client_credentials")
    unavailable_json(token(e, {"grant_type": "authorization_code", "code": "x" * 43, "redirect_uri": REDIRECT}, e.p.web),
                     "a code")
    unavailable_json(post(u + "/api/method/frappe.integrations.oauth2.get_token", form={"grant_type": "client_credentials"},
                          headers=basic(*e.svc)), "the Frappe alias")
    unavailable_json(post(u + "/oauth2/introspect", form={"token": at}, headers=basic(*e.svc)), "introspection")
    unavailable_json(post(u + "/oauth2/revoke", form={"token": rt}, headers=basic(*e.p.web)), "revocation")
    unavailable_json(get(u + "/oauth2/userinfo", headers={"Authorization": "Bearer " + at}), "userinfo")
    unavailable_json(post(u + "/oauth2/register", body=json.dumps({"redirect_uris": ["http://127.0.0.1:9/x"]}),
                          headers={"Authorization": "Bearer " + e.join2, "Content-Type": "application/json"}),
                     "registration")
    q = urllib.parse.urlencode({"client_id": e.p.web[0], "response_type": "code", "redirect_uri": REDIRECT})
    for method, path, form in (("GET", "/login", None), ("POST", "/login", {"username": "alice", "password": PASSWORD}),
                               ("GET", "/oauth2/authorize?" + q, None), ("GET", "/admin/", None), ("GET", "/account/", None),
                               ("GET", "/oauth2/logout", None), ("POST", "/logout", {})):
        unavailable_page(request(method, u + path, form=form, headers={"Accept": "text/html"}), f"{method} {path}")
    # from memory: the same documents and keys as before
    for path, before in e.docs.items():
        r = get(u + path)
        eq((r.status, r.json()), (200, before), path + " while the database is away")
    # the secondary keeps verifying what it had, and serving its sessions
    r = get(e.s.url + "/auth/me", headers={"Authorization": "Bearer " + e.cc_at, "Accept": "application/json"})
    eq((r.status, r.json().get("sub") if r.status == 200 else None), (200, e.svc[0]), "a token the secondary had")
    eq(upstream_sub(e, e.browser), e.alice, "a session the secondary had")


def check_back(e, rt):
    """Within seconds of the database's return, without a restart: 200 again; rt redeems. Returns its successor."""
    u = e.p.url
    wait_for(lambda: get(u + "/healthz").status == 200, "/healthz back to 200")
    r = wait_for(lambda: (lambda r: r if r.status == 200 else None)(token(e, {"grant_type": "client_credentials"}, e.svc)),
                 "client_credentials back")
    e.cc_at = r.json()["access_token"]
    r = token(e, {"grant_type": "refresh_token", "refresh_token": rt}, e.p.web)
    eq(r.status, 200, "the refresh token from before the outage redeems " + r.text)
    nxt = r.json()
    ok(nxt["refresh_token"] != rt, "and rotates")
    r = post(u + "/oauth2/introspect", form={"token": nxt["access_token"]}, headers=basic(*e.p.web))
    eq((r.status, r.json().get("active")), (200, True), "introspection back")
    eq(code_flow(e)["token_type"], "Bearer", "a code flow back")
    for path, before in e.docs.items():
        eq(get(u + path).json(), before, path + " after")
    eq(upstream_sub(e, browser_sign_in(e)), e.alice, "a new sign-in through the secondary")
    return nxt


def no_server_errors(n):
    """The access log of n holds no 5xx but 503."""
    bad = [line for line in n.lines if re.search(r'" 5(?!03)\d\d ', line)]
    eq(bad, [], f"{n.name} answered server errors")


def test_database_away():
    e = setup()
    g = code_flow(e)
    rt, at = g["refresh_token"], g["access_token"]
    r = token(e, {"grant_type": "client_credentials"}, e.svc)
    eq(r.status, 200, "client_credentials " + r.text)
    e.cc_at = r.json()["access_token"]
    e.browser = browser_sign_in(e)
    e.alice = upstream_sub(e, e.browser)
    ok(isinstance(e.alice, str) and e.alice, "the upstream hears alice")
    e.docs = {path: get(e.p.url + path).json() for path in
              ("/oauth2/jwks", "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server")}
    ok(e.docs["/oauth2/jwks"]["keys"], "a JWKS")
    for stop in (e.pg.pause, lambda: e.pg.stop(keep=True)):  # pg_ctl stop -m fast, then -m immediate
        stop()
        check_away(e, rt, at)
        e.pg.start()
        nxt = check_back(e, rt)
        rt, at = nxt["refresh_token"], nxt["access_token"]
    no_server_errors(e.p)
    ok(e.p.proc.poll() is None and e.s.proc.poll() is None, "both nodes still run")
    eq(e.p.stop(), 0, "the primary stops cleanly")
    eq(e.s.stop(), 0, "the secondary stops cleanly")
    e.up.shutdown()


if __name__ == "__main__":
    run([test_database_away])
