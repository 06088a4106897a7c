"""A cluster of primaries (SPEC §9) from real parts, for tests/integration/test_cluster.py: a PostgreSQL server
(tests/support/pg-start, password authentication), two primaries on its database (their own node.name, listen and
data_dir; the same public_url, haproxy's address, and the same cluster secret; node.proxy_protocol), Debian's haproxy
in front with conf/haproxy.cfg's configuration on free loopback ports, a secondary registered through haproxy and an
upstream app behind it. Every process runs on 127.0.0.1 and is stopped at the end (hubtest.run, atexit)."""
import atexit
import base64
import ctypes
import hashlib
import html
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse

from federation import Upstream
from hubtest import SOURCE_DIR, Browser, Node, PgServer, basic, eq, free_port, get, ok, post, request, tmpdir

PASSWORD = "correct horse battery staple"
REDIRECT = "http://127.0.0.1:9/cb"
HAPROXY_CFG = os.path.join(SOURCE_DIR, "conf", "haproxy.cfg")
USERS = ("alice", "bob", "carol")
PR_SET_PDEATHSIG = 1

_haproxies = []


def haproxy_bin():
    return shutil.which("haproxy") or "/usr/sbin/haproxy"


def haproxy_check(path):
    """haproxy -c on a configuration file: (ok, its output)."""
    p = subprocess.run([haproxy_bin(), "-c", "-f", path], capture_output=True, text=True, timeout=30)
    return p.returncode == 0, p.stdout + p.stderr


class Haproxy:
    """Debian's haproxy with conf/haproxy.cfg as it is, but for its addresses: the frontend on port, the primaries at
    backends (the example's 8081 and 8082, in its server and backup lines). Checked with haproxy -c before it starts;
    stopped by stop() or at exit."""

    def __init__(self, port, backends):
        self.port = port
        self.dir = tmpdir("hub-haproxy-")
        text = open(HAPROXY_CFG).read()
        text = text.replace("bind 127.0.0.1:8443", f"bind 127.0.0.1:{port}")
        for example, real in zip((8081, 8082), backends):
            text = text.replace(f"127.0.0.1:{example}", f"127.0.0.1:{real}")
        ok(f"127.0.0.1:{port}" in text and all(f"127.0.0.1:{b} " in text for b in backends), "the example's addresses")
        self.cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(self.cfg, "w") as f:
            f.write(text)
        valid, out = haproxy_check(self.cfg)
        ok(valid, "haproxy -c on the test's configuration: " + out)
        self.log_path = os.path.join(self.dir, "haproxy.log")
        self.log = open(self.log_path, "w", buffering=1)
        # it dies with this process, however this one ends (PR_SET_PDEATHSIG)
        self.proc = subprocess.Popen([haproxy_bin(), "-db", "-f", self.cfg], stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT,
                                     preexec_fn=lambda: ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL))
        _haproxies.append(self)

    def lines(self):
        """How many lines haproxy logged so far (its server state changes, on stderr with -db)."""
        with open(self.log_path) as f:
            return len(f.readlines())

    def said(self, needle, count=1, since=0):
        """Whether haproxy logged needle at least count times after its first since lines."""
        with open(self.log_path) as f:
            return sum(needle in line for line in f.readlines()[since:]) >= count

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if self in _haproxies:
            _haproxies.remove(self)


@atexit.register
def _stop_haproxies():
    for h in list(_haproxies):
        h.stop()


def write_secret(path):
    with open(path, "w") as f:
        f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    os.chmod(path, 0o600)
    return path


def creds(out):
    cid = re.search(r"client_id:\s*(\S+)", out)
    sec = re.search(r"client_secret:\s*(\S+)", out)
    return cid.group(1) if cid else None, sec.group(1) if sec else None


def wait_for(cond, what, timeout=15, pause=0.1):
    """Polls cond until it returns a true value (returned), at most timeout seconds."""
    end = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > end:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(pause)


def _b64json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_header(tok):
    return _b64json(tok.split(".")[0])


def jwt_claims(tok):
    return _b64json(tok.split(".")[1])


class Cluster:
    """PostgreSQL, primaries a and b, haproxy at url, a secondary s in front of an upstream; clients web (code flow,
    skip authorization) and svc (client_credentials; an audience the secondary accepts)."""

    def __init__(self):
        self.pg = PgServer(password="cluster-" + base64.urlsafe_b64encode(os.urandom(9)).decode())
        self.conninfo = self.pg.database("cluster")
        self.dir = tmpdir("hub-cluster-")
        self.secret = write_secret(os.path.join(self.dir, "cluster.secret"))
        self.lb_port = free_port()
        self.url = f"http://127.0.0.1:{self.lb_port}"
        self.a, self.b = self.primary("pa"), self.primary("pb")
        self.a.hubctl("init", "--alg", "ES256")
        p = self.b.hubctl("init", "--alg", "ES256", check=False)  # one database: b finds it made
        ok(p.returncode == 1 and "already initialised" in p.stderr, "a second init refused: " + p.stderr)
        self.populate()
        self.a.start()
        self.b.start()
        self.lb = Haproxy(self.lb_port, (self.a.port, self.b.port))
        wait_for(lambda: (request_or_none("GET", self.url + "/healthz") or Nothing).status == 200, "haproxy serves", 20)
        self.up = Upstream()
        self.s = self.secondary()

    def primary(self, name):
        """A primary of the cluster (not started): its own name, port and data dir; the shared rest."""
        n = Node("primary", name=name, store="postgresql", conf={
            "node": {"public_url": self.url, "proxy_protocol": True},
            "store": {"backend": "postgresql",
                      "postgresql": {"conninfo": self.conninfo, "password_file": self.pg.password_file, "pool": 4}},
            "primary": {"cluster_secret_file": self.secret, "signing_alg": "ES256",
                        "key_rotation": {"every": "30d", "publish_ahead": "2s"}}})
        return n

    def populate(self):
        a = self.a
        a.hubctl("role", "add", "Employee")
        a.hubctl("role", "add", "Service")
        for u in USERS:
            a.hubctl("user", "add", u, "--email", f"{u}@example.com", "--full-name", u.title(), "--role", "Employee",
                     input=PASSWORD + "\n")
        self.web = creds(a.hubctl("client", "add", "--app-name", "web", "--redirect-uris", REDIRECT,
                                  "--skip-authorization").stdout)
        self.svc = creds(a.hubctl("client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes",
                                  "read", "--redirect-uris", "").stdout)
        self.join = a.hubctl("node", "join-token", "--name", "csec").stdout.strip().split()[-1]

    def secondary(self):
        jf = os.path.join(self.dir, "join.token")
        with open(jf, "w") as f:
            f.write(self.join + "\n")
        s = Node("secondary", name="csec", conf={"secondary": {
            "server_url": self.url, "join_token_file": jf, "accept_audiences": [self.svc[0]],
            "routes": [{"path": "/app/", "upstream": self.up.url, "roles": ["Employee"]}]}}).start()
        ok(s.wait_log("signing keys of the primary", 15), "the secondary registered through haproxy and loaded the keys")
        return s

    def primaries(self):
        return (self.a, self.b)

    def stop(self):
        for n in (self.s, self.a, self.b):
            if n.proc is not None and n.proc.poll() is None:
                eq(n.stop(), 0, f"{n.name} stops cleanly")
        self.lb.stop()
        self.up.stop()


# ---- what a client does ----

def token(base, form, who, timeout=10):
    return post(base + "/oauth2/token", form=form, headers=basic(*who), timeout=timeout)


def cc(base, c):
    """A client_credentials access token from base: (kid, token)."""
    r = token(base, {"grant_type": "client_credentials"}, c.svc)
    eq(r.status, 200, f"client_credentials at {base}: {r.text}")
    t = r.json()["access_token"]
    return jwt_header(t)["kid"], t


def introspect(base, tok, who):
    r = post(base + "/oauth2/introspect", form={"token": tok}, headers=basic(*who))
    eq(r.status, 200, "introspection " + r.text)
    return r.json()


def jwks(base):
    r = get(base + "/oauth2/jwks")
    eq(r.status, 200, "JWKS at " + base)
    return {k["kid"] for k in r.json()["keys"]}


def form_fields(page):
    """The named inputs of a page's form with their values, unescaped."""
    return {html.unescape(m.group(1)): html.unescape(m.group(2))
            for m in re.finditer(r'<input[^>]*name="([^"]*)"[^>]*value="([^"]*)"', page)}


def sign_in(br, base, user="alice"):
    """Signs br in at base's sign-in page (GET then POST, never following the redirect)."""
    r = br.get(base + "/login", follow=False)
    eq(r.status, 200, f"sign-in page at {base}: {r.status}")
    form = form_fields(r.text)
    form.update(username=user, password=PASSWORD)
    r = br.post(base + "/login", form=form, follow=False)
    eq(r.status, 302, f"signed in at {base}: {r.status} {r.text[:200]}")


def pkce():
    verifier = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def authorize_url(c, challenge, base=None):
    """The web client's authorization request (at base, by default haproxy)."""
    q = urllib.parse.urlencode({"client_id": c.web[0], "response_type": "code", "redirect_uri": REDIRECT,
                                "scope": "openid profile email roles", "state": "s1", "nonce": "n1",
                                "code_challenge": challenge, "code_challenge_method": "S256"})
    return (base or c.url) + "/oauth2/authorize?" + q


def authorize(br, base, c, challenge):
    """A code for the web client from base with br's session (skip authorization: no page)."""
    r = br.get(authorize_url(c, challenge, base), follow=False)
    loc = r.header("location") or ""
    ok(r.status == 302 and loc.startswith(REDIRECT), f"a code from {base}, not {r.status} {loc} {r.text[:200]}")
    return urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)["code"][0]


def redeem(base, c, code, verifier):
    return token(base, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                        "code_verifier": verifier}, c.web)


def refresh(base, c, rt, timeout=10):
    return token(base, {"grant_type": "refresh_token", "refresh_token": rt}, c.web, timeout=timeout)


def access_log_errors(n):
    """The lines of n's access log with a 5xx other than 503."""
    return [line for line in n.lines if re.search(r'" 5(?!03)\d\d ', line)]


def unavailable(r, what):
    eq(r.status, 503, what + " " + r.text[:200])
    eq(r.header("retry-after"), "1", what + ": Retry-After")
    eq(r.json().get("error"), "temporarily_unavailable", what)


def upstream_sub(c, br):
    """The X-Hub-Sub the upstream hears through the secondary with br's session, or the status."""
    r = br.get(c.s.url + "/app/whoami", follow=False, headers={"Accept": "application/json"})
    return r.json()["headers"]["X-Hub-Sub"] if r.status == 200 else r.status


def secondary_sign_in(c, user="alice"):
    """A browser signed in at the secondary through haproxy's primaries; the sub the upstream hears."""
    br = Browser()
    r = br.get(c.s.url + "/app/whoami")
    ok(r.url.startswith(c.url + "/login"), f"sent to the cluster's sign-in page: {r.status} {r.url}")
    form = form_fields(r.text)
    form.update(username=user, password=PASSWORD)
    r = br.post(c.url + "/login", form=form)
    eq((r.status, r.url), (200, c.s.url + "/app/whoami"), "back at the upstream " + r.text[:200])
    return br, r.json()["headers"]["X-Hub-Sub"]


class Nothing:
    status = None


def request_or_none(method, url, **kw):
    """request(), or None when the connection failed (a primary killed under it)."""
    try:
        return request(method, url, **kw)
    except (OSError, http.client.HTTPException):  # refused, reset, timed out, a reply cut short
        return None
