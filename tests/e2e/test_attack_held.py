"""Variants of issue 10's attack classes that held when attacked again, kept as regressions: HTTP/1 framing spelled in
ways the first fixes did not list (signed, spaced, listed or hex lengths; transfer codings in lists, quoted, with a space
before the colon; bare CR; TE in HTTP/1.0), HTTP/2 header and pseudo-header tricks over TLS (CR/LF or NUL in :path and
values, bad header names, a second :path, split cookie crumbs carrying hub cookies), concurrent refreshes of one refresh
token, an attacker's code with the victim's state (PKCE), and anonymous floods of every endpoint writing nothing."""
import base64
import hashlib
import html
import http.server
import json
import os
import re
import secrets
import socket
import ssl
import subprocess
import threading
import urllib.parse

from hubtest import Browser, Node, basic, eq, ok, post, run, send_raw, serve_http, tmpdir

PASSWORD = "correct horse battery staple"
RP = "http://127.0.0.1:9/cb"


class Upstream:
    def __init__(self):
        self.seen = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.seen.append({"line": self.requestline, "headers": [(k.lower(), v) for k, v in self.headers.items()],
                                   "body": body})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = answer

            def log_message(self, *a):
                pass

        self.server = serve_http(H)
        self.port = self.server.server_address[1]


class Env:
    pass


E = Env()


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key



def setup():
    E.up = Upstream()
    p = Node("primary", name="hdprim", conf={"primary": {"skip_authorization": "auto"}})
    pw = os.path.join(p.dir, "pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    p.hubctl("init")
    for u in ("alice", "mallory"):
        p.hubctl("user", "add", u, "--email", f"{u}@example.com", "--password-file", pw)
    out = p.hubctl("client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes", "read",
                   "--redirect-uris", "").stdout
    E.svc = re.search(r"client_id:\s*(\S+)", out).group(1), re.search(r"client_secret:\s*(\S+)", out).group(1)
    out = p.hubctl("client", "add", "--app-name", "web", "--redirect-uris", RP).stdout
    E.web = re.search(r"client_id:\s*(\S+)", out).group(1), re.search(r"client_secret:\s*(\S+)", out).group(1)
    E.p = p
    p.start()
    d = tmpdir()
    E.cert, key = make_cert(d)
    join = p.hubctl("node", "join-token", "--name", "hdsec").stdout.strip().split()[-1]
    s = Node("secondary", name="hdsec", conf={"node": {"tls": {"cert": E.cert, "key": key}}, "secondary": {
        "server_url": p.url, "join_token_file": "", "accept_audiences": [E.svc[0]],
        "routes": [{"path": "/app/", "upstream": f"http://127.0.0.1:{E.up.port}/", "roles": []}]}})
    s.url = s.url.replace("http://", "https://")
    s.conf["node"]["public_url"] = s.url
    path = os.path.join(s.dir, "join.token")
    with open(path, "w") as f:
        f.write(join + "\n")
    s.conf["secondary"]["join_token_file"] = path
    E.s = s
    # a plain-HTTP secondary for the HTTP/1 framing variants and the sign-in flows
    join = p.hubctl("node", "join-token", "--name", "hdplain").stdout.strip().split()[-1]
    s2 = Node("secondary", name="hdplain", conf={"secondary": {
        "server_url": p.url, "join_token_file": "", "accept_audiences": [E.svc[0]],
        "routes": [{"path": "/app/", "upstream": f"http://127.0.0.1:{E.up.port}/", "roles": []}]}})
    path = os.path.join(s2.dir, "join.token")
    with open(path, "w") as f:
        f.write(join + "\n")
    s2.conf["secondary"]["join_token_file"] = path
    E.s2 = s2


def ensure_running():
    for n in (E.p, E.s, E.s2):
        if n.proc is None or n.proc.poll() is not None:
            n.start()
    for n in (E.s, E.s2):
        ok(n.wait_log("signing keys of the primary", 15), f"{n.name} has the primary's keys")
    if not hasattr(E, "tok"):
        r = post(E.p.url + "/oauth2/token", form={"grant_type": "client_credentials"}, headers=basic(*E.svc))
        E.tok = r.json()["access_token"]


# (what, request-line version, header lines, body); each followed on the connection by a second, well-framed request
FRAMING = [
    ("Content-Length with a sign", "HTTP/1.1", ["Content-Length: +5"], b"hello"),
    ("Content-Length negative", "HTTP/1.1", ["Content-Length: -1"], b"hello"),
    ("Content-Length with a space inside", "HTTP/1.1", ["Content-Length: 5 0"], b"hello"),
    ("Content-Length in hex", "HTTP/1.1", ["Content-Length: 0x5"], b"hello"),
    ("Content-Length as a list", "HTTP/1.1", ["Content-Length: 5, 5"], b"hello"),
    ("Content-Length empty", "HTTP/1.1", ["Content-Length: "], b"hello"),
    ("Content-Length overflowing", "HTTP/1.1", ["Content-Length: 99999999999999999999999"], b"hello"),
    ("chunked, identity", "HTTP/1.1", ["Transfer-Encoding: chunked, identity"], b"5\r\nhello\r\n0\r\n\r\n"),
    ("identity, chunked", "HTTP/1.1", ["Transfer-Encoding: identity, chunked"], b"5\r\nhello\r\n0\r\n\r\n"),
    ("xchunked", "HTTP/1.1", ["Transfer-Encoding: xchunked"], b"5\r\nhello\r\n0\r\n\r\n"),
    ("quoted chunked", "HTTP/1.1", ["Transfer-Encoding: \"chunked\""], b"5\r\nhello\r\n0\r\n\r\n"),
    ("space before the colon", "HTTP/1.1", ["Transfer-Encoding : chunked"], b"5\r\nhello\r\n0\r\n\r\n"),
    ("vertical tab before chunked", "HTTP/1.1", ["Transfer-Encoding:\x0bchunked"], b"5\r\nhello\r\n0\r\n\r\n"),
    ("TE and CL in HTTP/1.0", "HTTP/1.0", ["Transfer-Encoding: chunked", "Content-Length: 3"], b"5\r\nhello\r\n0\r\n\r\n"),
    ("a chunk extension holding LF", "HTTP/1.1", ["Transfer-Encoding: chunked"], b"5;e=\"a\nb\"\r\nhello\r\n0\r\n\r\n"),
    ("a chunk size overflowing", "HTTP/1.1", ["Transfer-Encoding: chunked"], b"ffffffffffffffffff5\r\nhello\r\n0\r\n\r\n"),
    ("a header name with a tab", "HTTP/1.1", ["Content-Length\t: 5"], b"hello"),
    ("a header line without a colon", "HTTP/1.1", ["Content-Length 5"], b"hello"),
    ("a header with an empty name", "HTTP/1.1", [": 5", "Content-Length: 5"], b"hello"),
    ("NUL in a value", "HTTP/1.1", ["X-A: a\x00b", "Content-Length: 5"], b"hello"),
    ("Expect with CL and TE", "HTTP/1.1", ["Expect: 100-continue", "Content-Length: 5", "Transfer-Encoding: chunked"],
     b"5\r\nhello\r\n0\r\n\r\n"),
]


def test_framing_variants_refused():
    ensure_running()
    auth = "Authorization: Bearer " + E.tok
    for what, ver, lines, body in FRAMING:
        before = len(E.up.seen)
        head = "\r\n".join([f"POST /app/f {ver}", "Host: x", auth] + lines).encode("latin-1")
        follow = b"GET /app/SMUGGLED HTTP/1.1\r\nHost: x\r\n" + auth.encode() + b"\r\n\r\n"
        out = send_raw(E.s2.port, head + b"\r\n\r\n" + body + follow, until_close=False)
        statuses = re.findall(rb"HTTP/1\.[01] (\d{3})", out)
        ok(statuses and statuses[-1] == b"400", f"{what}: {out[:200]!r}")
        eq(E.up.seen[before:], [], f"{what}: nothing proxied")
    # and bare CR line ends, request targets that are not a path
    for what, data in (("bare CR", b"GET /app/x HTTP/1.1\rHost: x\r" + auth.encode() + b"\r\r"),
                       ("absolute form", b"GET http://127.0.0.1/app/x HTTP/1.1\r\nHost: x\r\n" + auth.encode() + b"\r\n\r\n"),
                       ("asterisk", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")):
        before = len(E.up.seen)
        out = send_raw(E.s2.port, data, until_close=False)
        ok(out.startswith(b"HTTP/1.1 400"), f"{what}: {out[:100]!r}")
        eq(E.up.seen[before:], [], f"{what}: nothing proxied")


def hpack_int(v, bits):
    limit = (1 << bits) - 1
    if v < limit:
        return bytes([v])
    out, v = [limit], v - limit
    while v >= 128:
        out.append((v & 127) | 128)
        v >>= 7
    return bytes(out + [v])


def h2_frame(ftype, flags, sid, payload):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


def h2_request(headers):
    """One HTTP/2 stream over TLS with these header fields (literal, in order); returns 'status:N', 'reset' or 'goaway'."""
    ctx = ssl.create_default_context(cafile=E.cert)
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", E.s.port), timeout=10), server_hostname="127.0.0.1")
    try:
        block = b""
        for k, v in headers:
            kb, vb = k.encode("latin-1"), v.encode("latin-1")
            block += b"\x00" + hpack_int(len(kb), 7) + kb + hpack_int(len(vb), 7) + vb
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b"") + h2_frame(1, 0x5, 1, block))
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return "closed"
            buf += chunk
            while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                n, ftype, sid = int.from_bytes(buf[:3], "big"), buf[3], int.from_bytes(buf[5:9], "big")
                payload, buf = buf[9:9 + n], buf[9 + n:]
                if ftype == 7:
                    return "goaway"
                if ftype == 3 and sid == 1:
                    return "reset"
                if ftype == 1 and sid == 1:
                    return f"status-index:{payload[0] & 0x7f}" if payload[0] & 0x80 else "status:literal"
    finally:
        s.close()


def test_http2_header_tricks_refused():
    ensure_running()
    auth = [("authorization", "Bearer " + E.tok)]

    def req(path, extra=(), pseudo=None):
        return (pseudo or [(":method", "GET"), (":scheme", "https"), (":authority", "127.0.0.1"), (":path", path)]) + auth + list(extra)

    cases = [
        ("CRLF in the query", req("/app/x?a\r\nX-Hub-Roles: Admin")),
        ("LF in the path", req("/app/x\nX-Hub-Roles: Admin")),
        ("a space in the query", req("/app/x?a HTTP/1.1")),
        ("CRLF in a value", req("/app/x", [("user-agent", "u\r\nX-Hub-Roles: Admin")])),
        ("NUL in a value", req("/app/x", [("user-agent", "u\x00v")])),
        ("a colon in a name", req("/app/x", [("x-a:b", "c")])),
        ("a space in a name", req("/app/x", [("x-hub-roles ", "Admin")])),
        ("an upper-case name", req("/app/x", [("X-Hub-Roles", "Admin")])),
        ("two :path", [(":method", "GET"), (":scheme", "https"), (":authority", "x"), (":path", "/app/x"), (":path", "/app/y")] + auth),
        ("a pseudo-header after a field", [(":method", "GET"), ("authorization", "Bearer " + E.tok), (":path", "/app/x"),
                                           (":scheme", "https"), (":authority", "x")]),
        ("connection-specific field", req("/app/x", [("connection", "close")])),
        ("transfer-encoding", req("/app/x", [("transfer-encoding", "chunked")])),
        ("te other than trailers", req("/app/x", [("te", "chunked")])),
        ("an unknown pseudo-header", req("/app/x", [(":protocol", "websocket")])),
        ("a relative :path", req("app/x")),
        ("an absolute :path", req("https://127.0.0.1/app/x")),
        ("dot segments in :path", req("/app/x/../y")),
    ]
    for what, headers in cases:
        before = len(E.up.seen)
        got = h2_request(headers)
        ok(got in ("goaway", "reset", "status-index:12", "status:literal"), f"{what}: {got}")
        eq(E.up.seen[before:], [], f"{what}: nothing proxied")
    # split cookie crumbs (RFC 7540 8.1.2.5): every hub cookie removed, the application's joined once
    before = len(E.up.seen)
    got = h2_request(req("/app/ck", [("cookie", "a=1"), ("cookie", "hub_hdsec_session=S"), ("cookie", "b=2; __Host-hub_hdprim_csrf=C"),
                                     ("cookie", "HUB_x=3"), ("x-forwarded-for", "6.6.6.6"), ("x_hub_roles", "Admin")]))
    eq(got, "status-index:8", "served")
    h = E.up.seen[before]["headers"]
    eq([v for k, v in h if k == "cookie"], ["a=1; b=2"], "only the application's cookies")
    eq([v for k, v in h if k == "x-forwarded-for"], ["127.0.0.1"], "X-Forwarded-For from the node")
    ok(not any(k.replace("_", "-") == "x-hub-roles" and v == "Admin" for k, v in h), f"no forged role: {h}")


def hidden(r):
    return {html.unescape(n): html.unescape(v) for n, v in
            re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"', r.text)}


def signed_in_browser(user):
    b = Browser()
    r = b.get(E.p.url + "/login")
    f = hidden(r)
    f.update({"username": user, "password": PASSWORD})
    eq(b.post(E.p.url + "/login", form=f, follow=False).status, 302, "signed in")
    return b


def test_concurrent_refreshes_of_one_token():
    ensure_running()
    for _ in range(2):
        b = signed_in_browser("alice")
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        q = urllib.parse.urlencode({"client_id": E.web[0], "response_type": "code", "redirect_uri": RP, "scope": "openid",
                                    "code_challenge": challenge, "code_challenge_method": "S256"})
        r = b.get(E.p.url + "/oauth2/authorize?" + q, follow=False)
        if r.status == 200:
            f = hidden(r)
            f["decision"] = "allow"
            r = b.post(E.p.url + "/oauth2/approve", form=f, follow=False)
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.header("location")).query))["code"]
        t = post(E.p.url + "/oauth2/token", headers=basic(*E.web), form={"grant_type": "authorization_code", "code": code,
                                                                         "redirect_uri": RP, "code_verifier": verifier}).json()
        results = []

        def refresh():
            r = post(E.p.url + "/oauth2/token", headers=basic(*E.web),
                     form={"grant_type": "refresh_token", "refresh_token": t["refresh_token"]})
            results.append((r.status, r.json().get("refresh_token")))

        threads = [threading.Thread(target=refresh) for _ in range(12)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        good = [rt for st, rt in results if st == 200]
        ok(1 <= len(good) <= 2, f"one rotation and at most one retry answered: {[st for st, _ in results]}")
        for rt in good:  # the refused reuses revoked the family, successors included
            r = post(E.p.url + "/oauth2/token", headers=basic(*E.web), form={"grant_type": "refresh_token", "refresh_token": rt})
            eq(r.status, 400, "a successor after the reuse")


def pending(b, node):
    r = b.get(node.url + "/auth/login?next=/app/x", follow=False)
    return r.header("location")


def to_callback(b, authz, user):
    """Signs in at the primary in b and follows redirects up to (not into) the secondary's callback."""
    r = b.get(authz, follow=False)
    loc = r.header("location")
    for _ in range(8):
        if loc is None or loc.startswith(E.s2.url):
            break
        r = b.get(urllib.parse.urljoin(E.p.url, loc), follow=False)
        if r.status == 200 and 'type="password"' in r.text:
            f = hidden(r)
            f.update({"username": user, "password": PASSWORD})
            r = b.post(E.p.url + "/login", form=f, follow=False)
        loc = r.header("location")
    return loc


def test_code_injection_stopped_by_pkce():
    ensure_running()
    victim, attacker = Browser(), Browser()
    victim_authz = pending(victim, E.s2)
    attacker_cb = to_callback(attacker, pending(attacker, E.s2), "mallory")
    vstate = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(victim_authz).query))["state"]
    acode = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(attacker_cb).query))["code"]
    for what, url in (("the attacker's code with the victim's state",
                       E.s2.url + "/auth/callback?" + urllib.parse.urlencode({"code": acode, "state": vstate})),
                      ("the attacker's whole callback", attacker_cb)):
        r = victim.get(url, follow=False)
        eq(r.status, 400, what)
        ok(not any("session" in k for k in victim.cookies.get("127.0.0.1", {})), f"{what}: no session in the victim's browser")


def test_anonymous_floods_write_nothing():
    ensure_running()
    cid = E.web[0]
    floods = [
        (E.p, "GET /login?next=/" + "a" * 3000, b""),
        (E.p, f"GET /oauth2/authorize?client_id={cid}&response_type=code&redirect_uri={urllib.parse.quote(RP)}&state={'s' * 2000}", b""),
        (E.p, "POST /login", b"username=u&password=x&csrf_token=zz"),
        (E.p, "POST /oauth2/register", b'{"redirect_uris":["http://127.0.0.1:1/cb"]}'),
        (E.p, "POST /oauth2/token", b"grant_type=refresh_token&refresh_token=" + secrets.token_urlsafe(32).encode()),
        (E.p, "POST /oauth2/revoke", b"token=" + secrets.token_urlsafe(32).encode()),
        (E.p, "GET /oauth2/logout?id_token_hint=a.b.c&state=s", b""),
        (E.p, "POST /logout", b"csrf_token=x&decision=yes"),
        (E.s2, "GET /auth/login?next=/" + "a" * 1000, b""),
        (E.s2, "GET /auth/callback?code=x&state=" + secrets.token_urlsafe(16), b""),
        (E.s2, "POST /auth/backchannel-logout", b"logout_token=a.b.c"),
        (E.s2, "POST /auth/jwks-changed", b""),
    ]
    before = {n.name: n.store_counts() for n in (E.p, E.s2)}
    ok(before[E.p.name].get("clients"), f"the primary's records are counted: {before[E.p.name]}")
    for node, line, body in floods:
        method, target = line.split(" ", 1)
        req = (f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        out = send_raw(node.port, req * 50 + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=20, until_close=False)
        ok(out.count(b"HTTP/1.1 ") == 51, f"{line[:40]}: every request answered ({out.count(b'HTTP/1.1 ')})")
    # sweeps may only remove records; none may be added
    for n in (E.p, E.s2):
        after = n.store_counts()
        grown = {k: (before[n.name].get(k, 0), v) for k, v in after.items() if v > before[n.name].get(k, 0)}
        eq(grown, {}, f"{n.name}: records added by anonymous requests")


def test_clean_stop():
    ensure_running()
    for n in (E.s, E.s2, E.p):
        rc = n.stop()
        log = open(n.log_path).read()
        ok("runtime error" not in log and "ERROR: AddressSanitizer" not in log, f"{n.name}: sanitizer error:\n" + log[-3000:])
        eq(rc, 0, f"{n.name} exit code")


if __name__ == "__main__":
    setup()
    run([test_framing_variants_refused, test_http2_header_tricks_refused, test_concurrent_refreshes_of_one_token,
         test_code_injection_stopped_by_pkce, test_anonymous_floods_write_nothing, test_clean_stop])
