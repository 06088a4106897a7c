"""Federation harness on top of hubtest: a primary with users, secondaries joined with join
tokens, an upstream app echoing the X-Hub-* headers, and a browser that signs in through them.
Everything runs as real processes (or threads) on loopback and is torn down by hubtest.run."""
import atexit
import base64
import hashlib
import html.parser
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from hubtest import Browser, Node, SOURCE_DIR, basic, eq, free_port, get, ok, post, request, serve_http, tmpdir

PASSWORD = "correct horse battery staple"
HUB_HEADERS = ("X-Hub-Sub", "X-Hub-Email", "X-Hub-Name", "X-Hub-Roles")

_upstreams = []


# ---- the upstream application ----

class _Echo(BaseHTTPRequestHandler):
    """Answers every request with JSON: method, path, the X-Hub-* headers it got (or null)."""
    protocol_version = "HTTP/1.1"

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        doc = {"method": self.command, "path": self.path, "body": body.decode("utf-8", "replace"),
               "headers": {h: self.headers.get(h) for h in HUB_HEADERS}}
        data = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, fmt, *args):
        pass


class Upstream:
    """An echo server in a thread of this process; stop() is also called by stop_upstreams()."""

    def __init__(self):
        self.server = serve_http(_Echo)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.thread = self.server.thread
        _upstreams.append(self)

    def stop(self):
        if self in _upstreams:
            _upstreams.remove(self)
            self.server.shutdown()
            self.server.server_close()


class DemoApp:
    """tools/demo-app.py as a process (the page with #greeting the browser test reads)."""

    def __init__(self, title="Demo app"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc = subprocess.Popen([sys.executable, os.path.join(SOURCE_DIR, "tools", "demo-app.py"), str(self.port), title],
                                     stdin=subprocess.DEVNULL)
        _upstreams.append(self)
        until(lambda: get(self.url).status == 200, 10, what="demo app up")

    def stop(self):
        if self in _upstreams:
            _upstreams.remove(self)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


atexit.register(lambda: stop_upstreams())


def stop_upstreams():
    for u in list(_upstreams):
        u.stop()


# ---- HTML forms ----

class _FormParser(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                               "inputs": [], "buttons": []})
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"].append((a.get("name"), (a.get("type") or "text").lower(), a.get("value") or ""))
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append((a.get("name"), a.get("value") or ""))


def forms_of(r):
    p = _FormParser()
    p.feed(r.text)
    return p.forms


def login_form(r):
    f = [f for f in forms_of(r) if any(t == "password" for _, t, _ in f["inputs"])]
    return f[0] if f else None


def consent_form(r):
    f = [f for f in forms_of(r) if "approve" in f["action"]]
    return f[0] if f else None


# ---- tokens ----

def b64json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_header(token):
    return b64json(token.split(".")[0])


def jwt_claims(token):
    return b64json(token.split(".")[1])


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge



def bearer(token):
    return {"Authorization": "Bearer " + token, "Accept": "application/json"}


def kv_lines(text):
    """'key: value' lines of hubctl output as a dict."""
    return {k.strip(): v.strip() for k, _, v in (l.partition(":") for l in text.splitlines()) if v}


# ---- the browser side ----

class Visit:
    """The outcome of a browser walk: the last response and what the user was asked."""

    def __init__(self, r, passwords, consents):
        self.r = r
        self.passwords = passwords
        self.consents = consents

    def echo(self):
        """The upstream's JSON answer, or an AssertionError saying where the walk ended."""
        ok(self.r.status == 200 and "application/json" in (self.r.header("content-type") or ""),
           f"reached the upstream app: ended at {getattr(self.r, 'url', '?')} with {self.r.status} {self.r.text[:300]}")
        return self.r.json()


def walk(b, url, user="alice", password=PASSWORD, decision="allow", max_steps=6):
    """GETs url in browser b, following redirects, filling the primary's sign-in form and
    answering its consent page with decision, until a page that is neither."""
    r = b.get(url)
    passwords = consents = 0
    for _ in range(max_steps):
        f = login_form(r)
        if f is not None:
            if passwords:  # asked again: the password was refused
                break
            passwords += 1
            data = {}
            for name, typ, value in f["inputs"]:
                if not name:
                    continue
                data[name] = password if typ == "password" else user if name == "username" else value
            r = b.post(urllib.parse.urljoin(r.url, f["action"] or r.url), form=data)
            continue
        f = consent_form(r)
        if f is not None:
            consents += 1
            data = {n: v for n, t, v in f["inputs"] if n}
            names = {n for n, _ in f["buttons"] if n}
            chosen = [(n, v) for n, v in f["buttons"] if n and v == decision]
            ok(chosen or not names, f"consent form offers {decision}: {f['buttons']}")
            for n, v in chosen[:1]:
                data[n] = v
            r = b.post(urllib.parse.urljoin(r.url, f["action"]), form=data)
            continue
        break
    return Visit(r, passwords, consents)


# ---- the nodes ----

class Federation:
    """A primary (users alice: Employee, bob: no role) and secondaries joined with join
    tokens, each guarding /app/ (any user) and /staff/ (role Employee) in front of one
    upstream echo app. primary_conf/secondary_conf are merged over the defaults."""

    def __init__(self, names=("A", "B"), primary_conf=None, secondary_conf=None, start=True, upstream=None):
        self.upstream = upstream or Upstream()
        conf = {"primary": {"access_token_ttl": "5m"}}
        for k, v in (primary_conf or {}).items():
            if isinstance(v, dict):
                conf.setdefault(k, {}).update(v)
            else:
                conf[k] = v
        self.primary = Node("primary", name="fedp", conf=conf)
        self.primary.hubctl("init")
        self.pwfile = os.path.join(self.primary.dir, "pw")
        with open(self.pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        self.primary.hubctl("role", "add", "Employee")
        self.add_user("alice", "Alice Example", "Employee")
        self.add_user("bob", "Bob Builder")
        self.secondaries = {}
        for n in names:
            self.secondaries[n] = self.make_secondary(n, secondary_conf)
        if start:
            self.start()

    def add_user(self, name, full_name, *roles):
        args = ["user", "add", name, "--email", f"{name}@example.com", "--full-name", full_name,
                "--password-file", self.pwfile]
        for r in roles:
            args += ["--role", r]
        self.primary.hubctl(*args)

    def make_secondary(self, n, conf=None):
        sec = {"server_url": self.primary.url,
               "clock_skew": "5s",
               "routes": [{"path": "/app/", "upstream": self.upstream.url, "roles": []},
                          {"path": "/staff/", "upstream": self.upstream.url, "roles": ["Employee"]}]}
        sec.update(conf or {})
        node = Node("secondary", name=f"sec{n}", conf={"secondary": sec})
        node.join_token_path = os.path.join(node.dir, "join.token")
        return node

    def join(self, node, n):
        """Writes a fresh join token for node and points its config at it."""
        token = self.primary.hubctl("node", "join-token", "--name", n).stdout.strip()
        ok(token and "\n" not in token, f"join-token prints one token: {token!r}")
        with open(node.join_token_path, "w") as f:
            f.write(token + "\n")
        node.conf["secondary"]["join_token_file"] = node.join_token_path

    def start(self):
        self.primary.start()
        for n, node in self.secondaries.items():
            if "client_id" not in node.conf["secondary"]:
                self.join(node, n)
            node.start()
        for node in self.secondaries.values():
            self.wait_ready(node)
        return self

    def wait_ready(self, node, timeout=15):
        """Waits until the node has credentials at the primary (registered or stored)."""
        until(lambda: any("federation: registered" in l or "credentials of client" in l for l in node.lines), timeout,
              what=f"{node.name} registered with the primary; log:\n{node.log()}")

    def __getitem__(self, n):
        return self.secondaries[n]

    def url(self, n, path="/app/"):
        return self.secondaries[n].url + path

    def nodes(self):
        out = self.primary.hubctl("node", "list", "--json").stdout
        return json.loads(out)

    def node_id(self, n):
        ids = [x["id"] for x in self.nodes() if x.get("name") in (n, f"sec{n}")]
        ok(len(ids) == 1, f"one node named {n} at the primary: {self.nodes()}")
        return ids[0]

    def add_client(self, *args):
        out = self.primary.hubctl("client", "add", *args).stdout
        kv = kv_lines(out)
        return kv["client_id"], kv.get("client_secret")

    def code_token(self, b, cid, secret, redirect_uri, scope="openid profile email roles"):
        """Runs the authorization code flow (PKCE) for client cid in browser b, which must be
        signed in at the primary; stops at the redirect to the client and redeems the code."""
        verifier, challenge = pkce()
        q = {"client_id": cid, "response_type": "code", "redirect_uri": redirect_uri, "scope": scope, "state": "s1",
             "nonce": "n1", "code_challenge": challenge, "code_challenge_method": "S256"}
        r = b.get(self.primary.url + "/oauth2/authorize?" + urllib.parse.urlencode(q), follow=False)
        f = consent_form(r)
        if f is not None:
            data = {n: v for n, t, v in f["inputs"] if n}
            data.update({n: v for n, v in f["buttons"] if n and v == "allow"})
            r = b.post(urllib.parse.urljoin(self.primary.url, f["action"]), form=data, follow=False)
        loc = r.header("location") or ""
        ok(r.status in (302, 303) and loc.startswith(redirect_uri), f"redirect to the client: {r.status} {loc} {r.text[:300]}")
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query)).get("code")
        ok(code, "code in " + loc)
        r = post(self.primary.url + "/oauth2/token", headers=basic(cid, secret),
                 form={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                       "code_verifier": verifier})
        eq(r.status, 200, f"code redeemed: {r.text[:300]}")
        return r.json()

    def client_token(self, cid, secret, scope=None):
        form = {"grant_type": "client_credentials"}
        if scope:
            form["scope"] = scope
        r = post(self.primary.url + "/oauth2/token", form=form, headers=basic(cid, secret))
        eq(r.status, 200, f"client_credentials token: {r.text[:300]}")
        return r.json()["access_token"]

    def warnings(self, limit=20):
        """The warn/error lines of every node so far (the tail hubtest prints may miss them)."""
        out = []
        for node in [self.primary, *self.secondaries.values()]:
            out += [f"{node.name}: {l.rstrip()}" for l in node.lines if " warn " in l or " error " in l or "hubd:" in l
                    and "listening" not in l]
        return "\n".join(out[-limit:])

    def finish(self):
        """Stops every node gracefully: each exits 0 with no sanitizer report."""
        errors = []
        for node in [*self.secondaries.values(), self.primary]:
            if node.proc is None:
                continue
            rc = node.stop()
            log = open(node.log_path).read()
            if "Sanitizer" in log or "runtime error" in log:
                errors.append(f"{node.name}: sanitizer report:\n{log[-3000:]}")
            if rc != 0:
                errors.append(f"{node.name}: exit code {rc}")
        self.upstream.stop()
        ok(not errors, "\n".join(errors))


def until(fn, timeout=10, interval=0.1, what="condition"):
    """Polls fn until it returns a truthy value; raises after timeout (bounded waits only)."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            last = fn()
            if last:
                return last
        except (OSError, AssertionError) as e:
            last = e
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")
