"""What a secondary lets through to its upstreams, attacked from the outside (issue 10 items 1, 2, 7, 13): route guards
against path tricks (an upstream that normalizes paths like common servers do, nested routes over it), the hub's
cookies and the client's forwarding headers kept from upstreams, request framing refused before anything is handled,
/metrics by address, HSTS under TLS, and a connection cap that keeps the loops idle when descriptors run out."""
import base64
import html
import http.server
import json
import os
import re
import resource
import socket
import ssl
import subprocess
import threading
import time
import unicodedata
import urllib.parse

from hubtest import Browser, HUBD, Node, eq, get, ok, post, run, send_raw, serve_http, tmpdir

PASSWORD = "correct horse battery staple"


# ---- an upstream that reads paths leniently, as many servers and frameworks do ----

def lenient(raw):
    """The path as a lenient server reads it: percent-decoded (a decoded '?' or '#' still cuts), NFKC, invisible
    format characters dropped, '\\' as '/', ';params' dropped, trailing dots and spaces dropped, dot segments
    resolved, case folded."""
    path = raw.split("?", 1)[0].split("#", 1)[0]
    path = urllib.parse.unquote(path, errors="replace").split("?", 1)[0].split("#", 1)[0]
    path = unicodedata.normalize("NFKC", path)
    path = "".join(ch for ch in path if unicodedata.category(ch) != "Cf").replace("\\", "/")
    out = []
    for seg in path.split("/"):
        seg = seg.split(";", 1)[0]
        if seg.strip(" ") == "..":
            if out:
                out.pop()
            continue
        seg = seg.rstrip(". ")
        if seg:
            out.append(seg)
    folded = ("/" + "/".join(out) + ("/" if path.endswith("/") and out else "")).upper().lower()
    return folded


# What a malicious application might set to plant a session or CSRF token of the hub in the user's browser.
PLANTED = ["hub_pxsec_session=planted; Path=/; HttpOnly", "hub_pxprim_csrf=planted; Path=/", "HUB_PXPRIM_SESSION=p",
           "__Host-hub_pxprim_csrf=planted; Secure; Path=/", "=hub_pxsec_session=planted; Path=/", "hub_pxsec_state=s"]


def area(served):
    return "admin" if served == "/admin" or served.startswith("/admin/") else "app"


class Upstream:
    """Serves every request, records (raw path, lenient path, headers as a list of pairs) and answers JSON with them.
    ?sts=1 makes it send its own Strict-Transport-Security (max-age=0), ?setcookie=1 Set-Cookie headers for hub cookies
    (PLANTED) and its own."""

    def __init__(self):
        self.seen = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                served = lenient(self.path)
                headers = [(k.lower(), v) for k, v in self.headers.items()]
                outer.seen.append({"raw": self.path, "served": served, "area": area(served), "headers": headers})
                body = json.dumps({"raw": self.path, "served": served, "area": area(served)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if "sts=1" in self.path:
                    self.send_header("Strict-Transport-Security", "max-age=0")
                if "setcookie=1" in self.path:
                    for c in PLANTED + ["app=1; Path=/", "hub=2", "x=hub_pxsec_session=v"]:
                        self.send_header("Set-Cookie", c)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = answer

            def log_message(self, *a):
                pass

        self.server = serve_http(Handler)
        self.port = self.server.server_address[1]

    def since(self, n):
        return self.seen[n:]

    def last_headers(self):
        ok(self.seen, "the upstream got a request")
        return self.seen[-1]["headers"]


# ---- raw HTTP/1.1 over a socket: paths and header lines exactly as written ----

def raw_request(port, head, body=b"", timeout=5, tls_ctx=None):
    """Sends head (str, CRLF-joined lines without the final blank line) and body; returns (status, headers, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls_ctx is not None:
        s = tls_ctx.wrap_socket(s, server_hostname="127.0.0.1")
    try:
        s.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head_raw, _, rest = data.partition(b"\r\n\r\n")
        lines = head_raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        headers = [(k.strip().lower(), v.strip()) for k, _, v in (l.partition(":") for l in lines[1:])]
        length = int(dict(headers).get("content-length", "0"))
        while len(rest) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, headers, rest[:length]
    finally:
        s.close()


def GET(port, path, headers=(), **kw):
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in headers]
    return raw_request(port, "\r\n".join(lines), **kw)


# ---- the federation: a primary, a secondary with nested routes over one upstream ----

class Env:
    pass


E = Env()


def cc(client):
    cid, sec = client
    r = post(E.p.url + "/oauth2/token", form={"grant_type": "client_credentials"},
             headers={"Authorization": "Basic " + base64.b64encode(f"{cid}:{sec}".encode()).decode()})
    eq(r.status, 200, "client_credentials: " + r.text)
    return r.json()["access_token"]


def add_cc_client(name, roles):
    args = ["client", "add", "--app-name", name, "--grant-type", "client_credentials", "--scopes", "read",
            "--redirect-uris", ""]
    for role in roles:
        args += ["--role", role]
    out = E.p.hubctl(*args).stdout
    return re.search(r"client_id:\s*(\S+)", out).group(1), re.search(r"client_secret:\s*(\S+)", out).group(1)


def secondary(name, extra_node=None, routes=None):
    token = E.p.hubctl("node", "join-token", "--name", name).stdout.strip().split()[-1]
    s = Node("secondary", name=name, conf={"node": dict(extra_node or {}), "secondary": {
        "server_url": E.p.url,
        "join_token_file": "",
        "accept_audiences": [E.admin[0], E.user[0]],
        "routes": routes or [
            {"path": "/app/", "upstream": f"http://127.0.0.1:{E.up.port}/", "roles": []},
            {"path": "/app/admin/", "upstream": f"http://127.0.0.1:{E.up.port}/admin/", "roles": ["Admin"]},
            {"path": "/relay/", "upstream": f"http://127.0.0.1:{E.up.port}/relay/", "roles": [], "pass_token": True},
        ]}})
    path = os.path.join(s.dir, "join.token")
    with open(path, "w") as f:
        f.write(token + "\n")
    s.conf["secondary"]["join_token_file"] = path
    return s


def setup():
    E.up = Upstream()
    p = Node("primary", name="pxprim", conf={"primary": {"skip_authorization": "auto"}})
    pw = os.path.join(p.dir, "pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    p.hubctl("init")
    p.hubctl("role", "add", "Admin")
    p.hubctl("role", "add", "Employee")
    p.hubctl("user", "add", "alice", "--email", "alice@example.com", "--role", "Employee", "--password-file", pw)
    E.p = p
    E.admin = add_cc_client("admin-svc", ["Admin", "Employee"])
    E.user = add_cc_client("user-svc", ["Employee"])
    p.start()
    E.s = secondary("pxsec")


def ensure_running():
    for n in (E.p, E.s):
        if n.proc is None or n.proc.poll() is not None:
            n.start()
    ok(E.s.wait_log("signing keys of the primary", 10), "the secondary loaded the primary's keys")
    if not hasattr(E, "user_tok"):
        E.user_tok, E.admin_tok = cc(E.user), cc(E.admin)


def bearer(tok):
    return [("Authorization", "Bearer " + tok), ("Accept", "application/json")]


# ---- item 1: route guards and path tricks ----

# Paths a caller without Admin might use to reach the upstream's admin area (/admin/ once it normalizes the path).
BYPASS = [
    # plain and encoded dot segments
    "/app/./admin/", "/app/x/../admin/", "/app/%2e/admin/", "/app/x/%2e%2e/admin/", "/app/x/%2E%2e/admin/",
    "/app/x/.%2e/admin/", "/app/x/%2e./admin/", "/app/admin/..", "/app/admin/.", "/app/x/../admin",
    "/app/admin/x/../..", "/app/.../admin/", "/app/x/..%20/admin/", "/app/x/.%20./admin/",
    # encoded separators, backslashes, empty segments
    "/app/x%2f..%2fadmin/", "/app/x%2F..%2Fadmin/x", "/app/x%5c..%5cadmin/", "/app/x\\..\\admin/", "/app\\admin\\",
    "/app/admin\\x", "/app//admin/", "/app/.//admin/", "/app/%2fadmin/",
    # path parameters (Tomcat, Jetty, Spring strip them)
    "/app/admin;/", "/app/admin;x=1/y", "/app/x/..;/admin/", "/app/..;/app/admin/", "/app/admin%3b/", "/app/%3badmin/",
    # letter case, trailing dots and spaces (case-insensitive servers, Windows)
    "/app/ADMIN/", "/app/Admin/x", "/app/aDmIn", "/app/admin./", "/app/admin../x", "/app/admin%20/", "/app/admin.%20/",
    "/app/ADMIN./x", "/app/admin::$DATA/", "/app/admin+/",
    # look-alike characters: NFKC, case mapping, invisible format characters
    "/app/adm%C4%B1n/", "/app/%EF%BD%81dmin/", "/app/%EF%BC%A1DMIN/", "/app/ad%E2%80%8Bmin/", "/app/ad%C2%ADmin/",
    "/app/admin%EF%BC%8E/", "/app/x/%EF%BC%8E%EF%BC%8E/admin/", "/app/x%EF%BC%8F..%EF%BC%8Fadmin/",
    # a '?' or '#' that a decoding server cuts at, the route's own path without its '/'
    "/app/admin%3F/x", "/app/admin%3f", "/app/admin%23/x", "/app/admin", "/app/admin?x=1",
    # bad and double encodings, control bytes
    "/app/%61dmin/", "/app/%252e%252e/admin/", "/app/%c0%ae%c0%ae/admin/", "/app/x/%c0%af../admin/", "/app/admin%00/",
    "/app/admin%0a/", "/app/%", "/app/%zz/admin/",
]


def test_path_tricks_never_reach_the_admin_area():
    ensure_running()
    port = E.s.port
    for tok, who in ((E.user_tok, "user"), ("", "anonymous")):
        for path in BYPASS:
            before = len(E.up.seen)
            status, headers, body = GET(port, path, bearer(tok) if tok else [("Accept", "application/json")])
            reached = [r for r in E.up.since(before) if r["area"] == "admin"]
            ok(not reached, f"{who} {path}: reached the admin area as {reached}")
            ok(status in (400, 401, 403, 404), f"{who} {path}: {status} {body[:200]!r}")
    # every variant that is not canonical is refused as a bad request, before any sign-in check
    for path in BYPASS:
        if path in ("/app/ADMIN/", "/app/Admin/x", "/app/aDmIn", "/app/admin", "/app/admin?x=1"):
            continue
        status, _, body = GET(port, path, [("Accept", "application/json")])
        eq(status, 400, f"{path} refused: {body[:200]!r}")
        ok(body.startswith(b"{") and json.loads(body)["error"] == "invalid_request", f"{path}: {body[:200]!r}")


def test_admin_still_reaches_admin_and_ordinary_paths_work():
    ensure_running()
    port = E.s.port
    for path, raw in (("/app/admin/", "/admin/"), ("/app/admin/x?y=1", "/admin/x?y=1"),
                      ("/app/admin/a%20b/caf%C3%A9", "/admin/a%20b/caf%C3%A9")):
        status, _, body = GET(port, path, bearer(E.admin_tok))
        eq(status, 200, f"admin {path}: {body[:200]!r}")
        eq((json.loads(body)["raw"], json.loads(body)["area"]), (raw, "admin"), f"admin {path} upstream")
    # the route's path without its '/' is guarded by that route and sent on to it
    status, headers, _ = GET(port, "/app/admin?q=1", bearer(E.admin_tok))
    eq((status, dict(headers).get("location")), (308, "/app/admin/?q=1"), "admin /app/admin")
    status, _, _ = GET(port, "/app/admin", bearer(E.user_tok))
    eq(status, 403, "user /app/admin")
    status, _, _ = GET(port, "/app/admin", [("Accept", "application/json")])
    eq(status, 401, "anonymous /app/admin")
    status, headers, _ = GET(port, "/app", bearer(E.user_tok))
    eq((status, dict(headers).get("location")), (308, "/app/"), "/app")
    # ordinary paths: query strings (whatever they hold), escaped spaces, UTF-8, dots inside names
    for path, raw in (("/app/hello?x=1&next=../../admin/", "/hello?x=1&next=../../admin/"),
                      ("/app/a%20b", "/a%20b"), ("/app/caf%C3%A9/%E6%97%A5%E6%9C%AC", "/caf%C3%A9/%E6%97%A5%E6%9C%AC"),
                      ("/app/file.tar.gz", "/file.tar.gz"), ("/app/.well-known/x", "/.well-known/x"),
                      ("/app/~user/a-b_c!$&'()*+,=:@", "/~user/a-b_c!$&'()*+,=:@"), ("/app/", "/"),
                      ("/app/administrator", "/administrator"), ("/app/100%25", "/100%25")):
        status, _, body = GET(port, path, bearer(E.user_tok))
        eq(status, 200, f"user {path}: {body[:200]!r}")
        eq(json.loads(body)["raw"], raw, f"user {path}: what the upstream got")
    # a query string cannot change the path decision
    status, _, _ = GET(port, "/app/x?/../admin/", bearer(E.user_tok))
    eq(status, 200, "a query with dots")
    eq(E.up.seen[-1]["area"], "app", "the query did not move the request")


def test_route_config_must_be_canonical():
    d = tmpdir()
    for path, why in (("/app/../admin/", "canonical"), ("/a%2Fb/", "canonical"), ("/app;x/", "canonical"),
                      ("/app//x/", "canonical")):
        conf = os.path.join(d, "bad.yaml")
        with open(conf, "w") as f:
            f.write("node:\n  role: secondary\nsecondary:\n  server_url: http://127.0.0.1:1\n  client_id: x\n"
                    "  client_secret_file: /dev/null\n  routes:\n"
                    f"    - {{path: \"{path}\", upstream: \"http://127.0.0.1:2/\"}}\n")
        p = subprocess.run([HUBD, "--check", "-c", conf], capture_output=True, text=True)
        eq(p.returncode, 2, f"{path}: {p.stderr}")
        ok(f"{conf}:8: secondary.routes[0].path:" in p.stderr and why in p.stderr, f"{path}: {p.stderr}")
    for a, b in (("/app/", "/APP/"), ("/app/", "/app"), ("/app/admin/", "/app/Admin./")):
        conf = os.path.join(d, "collide.yaml")
        with open(conf, "w") as f:
            f.write("node:\n  role: secondary\nsecondary:\n  server_url: http://127.0.0.1:1\n  client_id: x\n"
                    "  client_secret_file: /dev/null\n  routes:\n"
                    f"    - {{path: \"{a}\", upstream: \"http://127.0.0.1:2/\"}}\n"
                    f"    - {{path: \"{b}\", upstream: \"http://127.0.0.1:2/\"}}\n")
        p = subprocess.run([HUBD, "--check", "-c", conf], capture_output=True, text=True)
        eq(p.returncode, 2, f"{a} and {b}: {p.stderr}")
        ok("differ only in letter case" in p.stderr, f"{a} and {b}: {p.stderr}")


# ---- item 2: the hub's cookies never go upstream ----

def upstream_cookies():
    return [v for k, v in E.up.last_headers() if k == "cookie"]


def test_hub_cookies_stripped():
    ensure_running()
    port = E.s.port
    cases = [
        (["hub_pxsec_session=S1; theme=dark; lang=en"], "theme=dark; lang=en"),
        (["theme=dark; hub_pxsec_session=S1; lang=en"], "theme=dark; lang=en"),
        (["theme=dark; lang=en; hub_pxsec_session=S1"], "theme=dark; lang=en"),
        (["hub_pxprim_session=P1; hub_pxprim_csrf=C1; a=1; hub_pxsec_state=ST"], "a=1"),
        (["a=1", "hub_pxsec_session=S1", "b=2; HUB_pxprim_session=P1"], "a=1; b=2"),
        (["Hub_PxSec_Session=S1;a=1;__Host-hub_pxprim_csrf=C;__Secure-hub_x=y;b=2"], "a=1; b=2"),
        (["  a=1 ;;\thub_other_session=O ;  b = 2 ;"], "a=1; b = 2"),
        (["a=\"x; hub_pxsec_session=S1; y\""], "a=\"x; y\""),
        (["hub_pxsec_session=S1", "hub_pxprim_session=P1"], None),
        (["session=app; csrftoken=t; hubx=1; my_hub_session=2"], "session=app; csrftoken=t; hubx=1; my_hub_session=2"),
    ]
    for cookies, want in cases:
        status, _, body = GET(port, "/app/c", bearer(E.user_tok) + [("Cookie", c) for c in cookies])
        eq(status, 200, f"{cookies}: {body[:200]!r}")
        got = upstream_cookies()
        eq(got, [want] if want is not None else [], f"what the upstream got for {cookies}")


def test_bearer_token_not_forwarded():
    """The caller's Bearer token is the hub's, like its cookies: it does not reach an upstream (which could replay it
    on the node's other routes) unless the route says pass_token; other Authorization schemes go on."""
    ensure_running()
    port = E.s.port
    for auth in ("Bearer " + E.user_tok, "bearer " + E.user_tok, "BEARER  " + E.user_tok, "Bearer\t" + E.user_tok):
        status, _, body = GET(port, "/app/t", [("Authorization", auth), ("Accept", "application/json")])
        eq(status, 200, f"{auth[:10]!r}: {body[:200]!r}")
        got = [v for k, v in E.up.last_headers() if k == "authorization"]
        eq(got, [], f"no Authorization upstream for {auth[:10]!r}")
        ok(E.user_tok not in json.dumps(E.up.last_headers()), "the token appears nowhere upstream")
    # a route with pass_token forwards it
    status, _, body = GET(port, "/relay/b", bearer(E.user_tok))
    eq(status, 200, f"pass_token route: {body[:200]!r}")
    eq([v for k, v in E.up.last_headers() if k == "authorization"], ["Bearer " + E.user_tok], "pass_token: forwarded")


def test_real_session_cookies_stripped():
    """A browser signed in at the primary and the secondary (one host: one cookie jar) sends both nodes' cookies."""
    ensure_running()
    b = Browser()
    r = b.get(E.s.url + "/app/in")
    form = {html.unescape(n): html.unescape(v) for n, v in
            re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"', r.text)}
    form.update({"username": "alice", "password": PASSWORD})
    r = b.post(E.p.url + "/login", form=form)
    eq((r.status, r.url), (200, E.s.url + "/app/in"), "signed in through the primary: " + r.text[:300])
    jar = b.cookies["127.0.0.1"]
    ok(E.p.cookie_name("session") in jar and "hub_pxsec_session" in jar, f"both nodes' cookies: {jar}")
    jar["theme"] = "dark"
    r = b.get(E.s.url + "/app/again")
    eq(r.status, 200, "the session works")
    eq(upstream_cookies(), ["theme=dark"], "only the application's cookie went upstream")
    secrets = [v for k, v in jar.items() if k.startswith("hub_")]
    ok(not any(s in json.dumps(E.up.seen[-1]["headers"]) for s in secrets), "no hub cookie value anywhere upstream")


def test_upstream_cannot_set_hub_cookies():
    ensure_running()
    status, headers, body = GET(E.s.port, "/app/c?setcookie=1", bearer(E.user_tok))
    eq(status, 200, body[:200])
    eq([v for k, v in headers if k == "set-cookie"], ["app=1; Path=/", "hub=2", "x=hub_pxsec_session=v"],
       "only the application's own cookies reach the browser")
    ok(E.s.wait_log("tried to set a hub cookie", 5), "logged")


# ---- item 13: forwarding headers, framing, /metrics, HSTS ----

def test_forwarding_headers_set_by_the_node():
    ensure_running()
    forged = [("X-Forwarded-For", "6.6.6.6"), ("X_Forwarded_For", "6.6.6.7"), ("Forwarded", "for=6.6.6.6;host=evil"),
              ("X-Forwarded-Host", "evil.example"), ("X-Forwarded-Proto", "https"), ("x-forwarded-port", "443"),
              ("X-Real-IP", "6.6.6.6"), ("True-Client-IP", "6.6.6.6"), ("X-Client-IP", "6.6.6.6"),
              ("X-Original-URL", "/admin/"), ("X-Rewrite-URL", "/admin/"), ("X-Forwarded-Prefix", "/admin"),
              ("Via", "1.1 evil"), ("X-Hub-Roles", "Admin"), ("x_hub_sub", "forged")]
    status, _, body = GET(E.s.port, "/app/fwd", bearer(E.user_tok) + forged)
    eq(status, 200, body[:200])
    h = E.up.last_headers()
    values = lambda name: [v for k, v in h if k.replace("_", "-") == name]
    eq(values("x-forwarded-for"), ["127.0.0.1"], "X-Forwarded-For: the peer, nothing appended to")
    host = f"127.0.0.1:{E.s.port}"
    eq(values("forwarded"), [f'for=127.0.0.1;host="{host}";proto=http'], "Forwarded")
    eq(values("x-forwarded-host"), [host], "X-Forwarded-Host: the node's public host")
    eq(values("x-forwarded-proto"), ["http"], "X-Forwarded-Proto: the node's public scheme")
    for name in ("x-forwarded-port", "x-real-ip", "true-client-ip", "x-client-ip", "x-original-url", "x-rewrite-url",
                 "x-forwarded-prefix"):
        eq(values(name), [], f"{name} removed")
    ok(all("evil" not in v and "6.6.6" not in v for k, v in h), f"nothing forged left: {h}")
    eq(values("x-hub-roles"), ["Employee"], "X-Hub-Roles from the token")
    ok(not any(v == "forged" for k, v in h), "X-Hub-* only from the node")


# (what, the request's header lines after Host and the caller's credentials, body, line end)
FRAMING = [
    ("two Content-Length", "POST", ["Content-Length: 5", "Content-Length: 50"], b"hello", "\r\n"),
    ("two equal Content-Length", "POST", ["Content-Length: 5", "Content-Length: 5"], b"hello", "\r\n"),
    ("Content-Length and chunked", "POST", ["Content-Length: 5", "Transfer-Encoding: chunked"], b"0\r\n\r\n", "\r\n"),
    ("chunked and Content-Length", "POST", ["Transfer-Encoding: chunked", "content-length: 3"], b"0\r\n\r\n", "\r\n"),
    ("two Transfer-Encoding", "POST", ["Transfer-Encoding: chunked", "TRANSFER-ENCODING: chunked"], b"0\r\n\r\n",
     "\r\n"),
    ("obs-fold", "GET", ["X-A: a", " b"], b"", "\r\n"),
    ("obs-fold with a tab", "GET", ["X-A: a", "\tTransfer-Encoding: chunked"], b"", "\r\n"),
    ("obs-fold, LF only", "GET", ["X-A: a", " b"], b"", "\n"),
    ("obs-fold of Content-Length", "POST", ["Content-Length: 5", " 0"], b"hello", "\r\n"),
]


def send_raw_status(port, data, timeout=5):
    """Sends data and reads until the server closes; returns (status of the first response, everything read)."""
    out = send_raw(port, data, timeout)
    return (int(out.split(b" ", 2)[1]) if out.startswith(b"HTTP/") else 0), out


def test_framing_refused_on_both_roles():
    ensure_running()
    for node, path, auth in ((E.s, "/app/f", "Authorization: Bearer " + E.user_tok), (E.p, "/oauth2/token", None),
                             (E.p, "/healthz", None)):
        for what, method, lines, body, sep in FRAMING:
            before = len(E.up.seen)
            head = [f"{method} {path} HTTP/1.1", "Host: x"] + ([auth] if auth else []) + lines
            # a second, well-framed request on the same connection must not be answered
            data = sep.join(head).encode() + (sep + sep).encode() + body + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            status, out = send_raw_status(node.port, data)
            eq(status, 400, f"{node.name} {path} {what}: {out[:300]!r}")
            eq(out.count(b"HTTP/1.1 "), 1, f"{node.name} {path} {what}: the connection closes after the refusal")
            eq(len(E.up.seen), before, f"{node.name} {what}: nothing proxied")
    # the same requests framed once are served
    for extra, body in ((["Content-Length: 5"], b"hello"), (["Transfer-Encoding: chunked"], b"5\r\nhello\r\n0\r\n\r\n")):
        head = "\r\n".join(["POST /app/f HTTP/1.1", "Host: x", "Authorization: Bearer " + E.user_tok] + extra)
        status, _, _ = raw_request(E.s.port, head, body)
        eq(status, 200, f"{extra} alone")


def raw_request_from(port, source, head):
    """One request (with Connection: close) from the local address source; returns (status, everything read)."""
    s = socket.socket()
    s.settimeout(5)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(head.encode() + b"\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return int(data.split(b" ", 2)[1]), data
    finally:
        s.close()


def test_metrics_allow():
    ensure_running()
    eq(raw_request_from(E.s.port, "127.0.0.1", "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close")[0], 200,
       "default: loopback reads /metrics")
    eq(raw_request_from(E.s.port, "127.0.0.2", "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close")[0], 200,
       "default: all of 127.0.0.0/8")
    for ranges, allowed, refused in ((["127.0.0.2/32"], ["127.0.0.2"], ["127.0.0.1", "127.0.0.3"]),
                                     (["10.0.0.0/8", "127.0.0.0/31"], ["127.0.0.1"], ["127.0.0.2"]),
                                     (["::1/128"], [], ["127.0.0.1"]),
                                     (["0.0.0.0/0"], ["127.0.0.1", "127.0.0.9"], []),
                                     ([], [], ["127.0.0.1"])):
        n = Node("primary", name="metricsnode", conf={"node": {"metrics_allow": ranges}})
        n.hubctl("init")
        n.start()
        for src in allowed:
            eq(raw_request_from(n.port, src, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close")[0], 200,
               f"{ranges}: {src} may read")
        for src in refused:
            st, data = raw_request_from(n.port, src, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close")
            eq(st, 403, f"{ranges}: {src} may not read")
            ok(b"access_denied" in data and b"hub_http_requests_total" not in data, f"{ranges}: {src}: {data[-200:]!r}")
            eq(raw_request_from(n.port, src, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close")[0], 200,
               f"{ranges}: /healthz stays open to {src}")
        clean_stop(n)
    d = tmpdir()
    for bad in ("10.1.2.3/8", "300.0.0.1/32", "::1/129", "localhost", "10.0.0.0/"):
        conf = os.path.join(d, "m.yaml")
        with open(conf, "w") as f:
            f.write(f"node:\n  role: primary\n  metrics_allow:\n    - \"{bad}\"\n")
        p = subprocess.run([HUBD, "--check", "-c", conf], capture_output=True, text=True)
        eq(p.returncode, 2, f"{bad}: {p.stderr}")
        ok(f"{conf}:4: node.metrics_allow: {bad}" in p.stderr, f"{bad}: {p.stderr}")


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def test_hsts_under_tls():
    ensure_running()
    d = tmpdir()
    cert, key = make_cert(d)
    s = secondary("pxtls", extra_node={"tls": {"cert": cert, "key": key}})
    s.url = s.url.replace("http://", "https://")
    s.conf["node"]["public_url"] = s.url
    s.start()
    ok(s.wait_log("signing keys of the primary", 10), "the TLS secondary joined")
    ctx = ssl.create_default_context(cafile=cert)
    want = "max-age=31536000"
    for path, hdrs, status in (("/healthz", [], 200), ("/nope", [], 404), ("/app/x", bearer(E.user_tok), 200),
                               ("/app/x?sts=1", bearer(E.user_tok), 200), ("/app/admin/x", bearer(E.user_tok), 403),
                               ("/app/x", [("Accept", "application/json")], 401), ("/app/%2e%2e/", [], 400),
                               ("/auth/login", [], 302)):
        st, headers, body = GET(s.port, path, hdrs, tls_ctx=ctx)
        eq(st, status, f"TLS {path}: {body[:200]!r}")
        eq([v for k, v in headers if k == "strict-transport-security"], [want], f"HSTS on {path}")
    ok(E.up.seen[-1]["headers"] and dict(E.up.seen[-1]["headers"]).get("x-forwarded-proto") == "https",
       "X-Forwarded-Proto https under TLS")
    # the framing gate reads the decrypted head as well
    before = len(E.up.seen)
    st, headers, body = raw_request(s.port, "POST /app/x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + E.user_tok +
                                    "\r\nContent-Length: 5\r\nContent-Length: 50", b"hello", tls_ctx=ctx)
    eq(st, 400, f"two Content-Length over TLS: {body[:200]!r}")
    eq(len(E.up.seen), before, "nothing proxied")
    # and none over plain HTTP
    st, headers, _ = GET(E.s.port, "/healthz")
    ok(st == 200 and not any(k == "strict-transport-security" for k, v in headers), "no HSTS over plain HTTP")
    clean_stop(s)


# ---- item 7: a connection cap, and descriptors running out ----

def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15 of stat)


def cpu_share(pid, seconds=1.0):
    """The share of one core the process used over `seconds` (a loop spinning on a readable listener uses ~1 per
    thread; an idle node ~0)."""
    hz = os.sysconf("SC_CLK_TCK")
    t0, c0 = time.time(), cpu_ticks(pid)
    time.sleep(seconds)
    return (cpu_ticks(pid) - c0) / hz / (time.time() - t0)


def served(port, timeout):
    try:
        st, _, _ = raw_request(port, "GET /healthz HTTP/1.1\r\nHost: x", timeout=timeout)
        return st == 200
    except OSError:
        return False


def open_conns(port, n):
    """n keep-alive connections, each answered once (so the node has accepted it)."""
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        ok(b" 200 " in s.recv(4096).split(b"\r\n", 1)[0], "answered")
        out.append(s)
    return out


def test_connection_cap():
    n = Node("primary", name="capnode", conf={"node": {"max_connections": 8}})
    n.hubctl("init")
    n.start()
    ok(n.wait_log("at most 8 client connections at once", 5), "the cap is logged")
    held = open_conns(n.port, 8)
    # the ninth connection waits in the backlog: no answer, and the loops do not spin over it
    waiting = socket.create_connection(("127.0.0.1", n.port), timeout=5)
    waiting.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    waiting.settimeout(1.0)
    try:
        early = waiting.recv(4096)
    except socket.timeout:
        early = b""
    eq(early, b"", "not served past the cap")
    share = cpu_share(n.proc.pid)
    ok(share < 0.3, f"idle at the cap: {share:.2f} of a core")
    # closing connections lets the waiting one in
    for s in held[:2]:
        s.close()
    waiting.settimeout(5)
    ok(b" 200 " in waiting.recv(4096).split(b"\r\n", 1)[0], "the waiting connection is served once others close")
    waiting.close()
    ok(served(n.port, 5), "/healthz on a new connection")
    for s in held[2:]:
        s.close()
    clean_stop(n)


def limit_fds(n):
    def pre():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return pre


def start_limited(node, fds):
    node.write_conf()
    node.proc = subprocess.Popen([HUBD, "-c", node.conf_path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, env=node.env, text=True, errors="replace",
                                 preexec_fn=limit_fds(fds))
    import hubtest
    hubtest._nodes.append(node)
    node._reader = threading.Thread(target=node._read, daemon=True)
    node._reader.start()
    ok(node._ready.wait(20), "ready with a low descriptor limit: " + node.log())
    return node


def test_out_of_descriptors():
    # an explicit cap above what the descriptors allow: accept() meets EMFILE
    n = Node("primary", name="fdnode", conf={"node": {"max_connections": 100000}})
    n.hubctl("init")
    start_limited(n, 64)
    ok(n.wait_log("may need more descriptors than the open-file limit 64", 5), "the node warns about the limit")
    conns, refused = [], 0
    for _ in range(80):
        try:
            s = socket.create_connection(("127.0.0.1", n.port), timeout=2)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            conns.append(s)
        except OSError:
            refused += 1
    time.sleep(0.5)
    ok(n.wait_log("pausing new connections", 5), "EMFILE seen and logged")
    share = cpu_share(n.proc.pid)
    ok(share < 0.3, f"idle while out of descriptors: {share:.2f} of a core")
    for s in conns:
        s.close()
    deadline = time.time() + 10
    while time.time() < deadline and not served(n.port, 1):
        time.sleep(0.2)
    ok(served(n.port, 5), "/healthz served again once descriptors are free")
    clean_stop(n)
    # no cap configured: derived from the limit, so the loops pause at the cap before EMFILE
    n = Node("primary", name="fdauto", conf={})
    n.hubctl("init")
    start_limited(n, 96)
    ok(n.wait_log("at most 16 client connections at once (open-file limit 96)", 5), "derived cap: " + n.log())
    held = open_conns(n.port, 16)
    ok(not served(n.port, 1), "the 17th waits")
    share = cpu_share(n.proc.pid)
    ok(share < 0.3, f"idle at the derived cap: {share:.2f} of a core")
    held.pop().close()
    ok(served(n.port, 5), "served after one closed")
    for s in held:
        s.close()
    clean_stop(n)


def clean_stop(n):
    """SIGTERM: exit 0 with no sanitizer error (under a sanitizer build, leak reports only from outside the code this
    file tests)."""
    rc = n.stop()
    log = open(n.log_path).read()
    ok("runtime error" not in log and "ERROR: AddressSanitizer" not in log, f"{n.name}: sanitizer error:\n" + log[-4000:])
    leaks = log.split("ERROR: LeakSanitizer")[1:]
    mine = ("federation/", "hub/path", "hub/cookie", "hub/gate", "hub/cidr", "hub/server")
    ok(not any(m in l for l in leaks for m in mine), f"{n.name}: leak in the code under test:\n" + log[-4000:])
    ok(rc == 0 or (leaks and rc == 1), f"{n.name}: exit {rc}")


def test_clean_stop():
    ensure_running()
    clean_stop(E.s)
    clean_stop(E.p)


if __name__ == "__main__":
    setup()
    run([test_path_tricks_never_reach_the_admin_area, test_admin_still_reaches_admin_and_ordinary_paths_work,
         test_route_config_must_be_canonical, test_hub_cookies_stripped, test_real_session_cookies_stripped,
         test_upstream_cannot_set_hub_cookies,
         test_forwarding_headers_set_by_the_node, test_framing_refused_on_both_roles, test_metrics_allow,
         test_hsts_under_tls, test_connection_cap, test_out_of_descriptors, test_clean_stop])
