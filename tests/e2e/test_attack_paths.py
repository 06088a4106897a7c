"""Route guards attacked again (issue 10 class 1, variants the first fixes missed): a secondary with a route at "/" and
nested protected routes over one upstream that reads paths leniently (NFKC, case, trailing dots and spaces, invisible
characters, ';params', dot segments). Every Unicode letter that compatibility mapping reads as a letter of a protected
segment (circled, mathematical, superscript, roman numeral, modifier letters...), spaces and invisible characters that
make a dot segment, presentation forms of '..' ';' '?' and letter-like symbols holding a '/' must be refused, over
HTTP/1.1 and HTTP/2 (TLS); and cleartext HTTP/2 (an "Upgrade: h2c" request skipped the HTTP/1 framing checks) is off."""
import base64
import json
import os
import re
import socket
import ssl
import subprocess
import unicodedata
import urllib.parse
import http.server

from hubtest import Node, eq, ok, post, run, send_raw, serve_http, tmpdir

PROTECTED = ("/admin", "/files", "/app/admin")  # upstream areas only Admin may reach


def lenient(raw):
    """The path as a lenient server reads it: percent-decoded, NFKC, format characters dropped, '\\' as '/', ';params'
    dropped, trailing dots and spaces dropped, dot segments resolved, case folded."""
    path = urllib.parse.unquote(raw.split("?", 1)[0], errors="replace").split("?", 1)[0].split("#", 1)[0]
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
    return ("/" + "/".join(out)).upper().lower()


def protected(raw):
    served = lenient(raw)
    return any(served == p or served.startswith(p + "/") for p in PROTECTED)


class Upstream:
    def __init__(self):
        self.seen = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.seen.append((self.path, body))
                out = json.dumps({"raw": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = answer

            def log_message(self, *a):
                pass

        self.server = serve_http(H)
        self.port = self.server.server_address[1]

    def reached_protected(self, since):
        return [p for p, _ in self.seen[since:] if protected(p)]


class Env:
    pass


E = Env()


def add_cc(name, role):
    out = E.p.hubctl("client", "add", "--app-name", name, "--grant-type", "client_credentials", "--scopes", "read",
                     "--redirect-uris", "", "--role", role).stdout
    cid, sec = re.search(r"client_id:\s*(\S+)", out).group(1), re.search(r"client_secret:\s*(\S+)", out).group(1)
    return cid, sec


def token(client):
    cid, sec = client
    r = post(E.p.url + "/oauth2/token", form={"grant_type": "client_credentials"},
             headers={"Authorization": "Basic " + base64.b64encode(f"{cid}:{sec}".encode()).decode()})
    eq(r.status, 200, r.text)
    return r.json()["access_token"]


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def secondary(name, tls=None):
    up = f"http://127.0.0.1:{E.up.port}"
    join = E.p.hubctl("node", "join-token", "--name", name).stdout.strip().split()[-1]
    s = Node("secondary", name=name, conf={"node": {"tls": tls} if tls else {}, "secondary": {
        "server_url": E.p.url, "join_token_file": "", "accept_audiences": [E.admin[0], E.user[0]],
        "routes": [{"path": "/", "upstream": up + "/", "roles": []},
                   {"path": "/admin/", "upstream": up + "/admin/", "roles": ["Admin"]},
                   {"path": "/files", "upstream": up + "/files", "roles": ["Admin"]},
                   {"path": "/app/", "upstream": up + "/app/", "roles": []},
                   {"path": "/app/admin/", "upstream": up + "/app/admin/", "roles": ["Admin"]}]}})
    if tls:
        s.url = s.url.replace("http://", "https://")
        s.conf["node"]["public_url"] = s.url
    path = os.path.join(s.dir, "join.token")
    with open(path, "w") as f:
        f.write(join + "\n")
    s.conf["secondary"]["join_token_file"] = path
    s.start()
    ok(s.wait_log("signing keys of the primary", 15), f"{name} joined")
    return s


def setup():
    E.up = Upstream()
    E.p = Node("primary", name="apprim")
    E.p.hubctl("init")
    E.p.hubctl("role", "add", "Admin")
    E.p.hubctl("role", "add", "Employee")
    E.admin, E.user = add_cc("admin-svc", "Admin"), add_cc("user-svc", "Employee")
    E.p.start()
    E.s = secondary("apsec")
    E.user_tok, E.admin_tok = token(E.user), token(E.admin)


def ensure_running():
    """hubtest.run stops every node after each test: start them again on the same data."""
    for n in (E.p, E.s):
        if n.proc is None or n.proc.poll() is not None:
            n.start()
    ok(E.s.wait_log("signing keys of the primary", 15), "the secondary has the primary's keys")


# ---- raw HTTP/1.1 ----

def http1(port, path, headers=(), body=b"", method="GET", tls_ctx=None, extra=b""):
    """One request (Connection: close); returns (status, body, everything read)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    if tls_ctx is not None:
        s = tls_ctx.wrap_socket(s, server_hostname="127.0.0.1")
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"] + [f"{k}: {v}" for k, v in headers]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    try:
        s.sendall("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body + extra)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    status = int(out.split(b" ", 2)[1]) if out.startswith(b"HTTP/1.1 ") else 0
    return status, out.partition(b"\r\n\r\n")[2], out


# ---- HTTP/2 over TLS: literal header fields, no Huffman coding ----

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


def h2_get(ctx, port, paths, headers):
    """GETs each path on its own stream of one connection; returns {path: (status byte or None, body)}."""
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="127.0.0.1")
    eq(s.selected_alpn_protocol(), "h2", "ALPN h2")
    out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b"")
    streams = {}
    for i, path in enumerate(paths):
        sid = 2 * i + 1
        streams[sid] = path
        block = b""
        for k, v in [(":method", "GET"), (":scheme", "https"), (":authority", "127.0.0.1"), (":path", path)] + headers:
            kb, vb = k.encode(), v.encode("latin-1")
            block += b"\x00" + hpack_int(len(kb), 7) + kb + hpack_int(len(vb), 7) + vb
        out += h2_frame(1, 0x5, sid, block)
    s.sendall(out)
    got, done, buf = {}, set(), b""
    try:
        while len(done) < len(paths):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                n, ftype, flags, sid = int.from_bytes(buf[:3], "big"), buf[3], buf[4], int.from_bytes(buf[5:9], "big")
                payload, buf = buf[9:9 + n], buf[9 + n:]
                if ftype == 4 and not flags & 1:
                    s.sendall(h2_frame(4, 1, 0, b""))
                if sid in streams and ftype in (0, 1):
                    st, body = got.get(sid, (None, b""))
                    if ftype == 1 and payload[:1] and payload[0] & 0x80:
                        st = payload[0] & 0x7F  # an indexed :status (8 = 200, 12 = 400, 13 = 404)
                    got[sid] = (st, body + (payload if ftype == 0 else b""))
                    if flags & 1:
                        done.add(sid)
                if sid in streams and ftype == 3:
                    done.add(sid)
    finally:
        s.close()
    return {streams[sid]: v for sid, v in got.items()}


# ---- the variants ----

def lookalikes(letter, limit=None):
    """Every non-ASCII character that NFKC and case mapping read as this ASCII letter."""
    out = []
    for cp in range(0x80, 0x30000):
        c = chr(cp)
        if unicodedata.category(c) == "Cs":
            continue
        if unicodedata.normalize("NFKC", c).upper().lower() == letter:
            out.append(c)
    return out[:limit] if limit else out


def quoted(text):
    return urllib.parse.quote(text, safe="/")


def letter_variants(prefix, word, rest="/x"):
    out = []
    for i, ch in enumerate(word):
        for alt in lookalikes(ch):
            out.append(prefix + quoted(word[:i] + alt + word[i + 1:]) + rest)
    return out


# (path, why) that must be refused as not canonical: they read as delimiters, dot segments or blanks
NOT_CANONICAL = [
    "/app/x/..%C2%A0/admin/",  # ".." and a no-break space (NFKC: a space, trimmed)
    "/app/x/%C2%A0../admin/",
    "/app/x/..%E3%80%80/admin/",  # ideographic space
    "/app/x/.%E2%80%83./admin/",  # em space between the dots
    "/app/x/..%EF%BB%BF/admin/",  # a BOM after the dots
    "/x/..%C2%A0/admin/",
    "/app/%E2%80%8B/admin/",  # a segment of one zero-width space
    "/app/x/%EF%B8%B0/admin/",  # presentation form two dot leader: ".."
    "/x/%EF%B8%B0/admin/",
    "/app/x/%EF%B8%99/admin/",  # presentation form ellipsis
    "/app/admin%EF%B8%94x/y",  # presentation form ';' (a lenient server drops ";x")
    "/admin%EF%B8%94x/y",
    "/app/admin%EF%B8%96/x",  # presentation form '?'
    "/%E2%84%80dmin/x",  # account of: "a/c"
    "/app/x%E2%84%85/x",  # care of: "c/o"
    "/%E3%8F%82/x",  # a.m.
]


def test_compatibility_letters_never_reach_protected_areas():
    ensure_running()
    variants = letter_variants("/", "admin") + letter_variants("/", "files") + letter_variants("/app/", "admin")
    variants += ["/admin%C2%A0/x", "/files%C2%A0", "/app/admin%E2%80%87/x", "/ADMIN%E2%80%8B/x"]
    ok(len(variants) > 300, f"enough variants: {len(variants)}")
    for who, tok in (("user", E.user_tok), ("anonymous", None)):
        before = len(E.up.seen)
        statuses = {}
        for path in variants:
            hdrs = [("Accept", "application/json")] + ([("Authorization", "Bearer " + tok)] if tok else [])
            status, body, _ = http1(E.s.port, path, hdrs)
            statuses.setdefault(status, []).append(path)
        reached = E.up.reached_protected(before)
        ok(not reached, f"{who}: {len(reached)} look-alike paths reached a protected area, e.g. {reached[:5]}")
        ok(set(statuses) <= {400, 401}, f"{who}: refused: { {k: v[:3] for k, v in statuses.items()} }")
    # the same through the gate, not only the guard: every one is a 400 before anything is proxied
    status, body, _ = http1(E.s.port, variants[0], [("Authorization", "Bearer " + E.user_tok)])
    eq(status, 400, f"{variants[0]}: {body[:200]!r}")
    ok(json.loads(body)["error"] == "invalid_request", body[:200])


def test_blank_and_delimiter_look_alikes_not_canonical():
    ensure_running()
    before = len(E.up.seen)
    for path in NOT_CANONICAL:
        status, body, _ = http1(E.s.port, path, [("Authorization", "Bearer " + E.user_tok), ("Accept", "application/json")])
        eq(status, 400, f"{path}: {body[:200]!r}")
        ok("not canonical" in json.loads(body)["error_description"], f"{path}: {body[:200]!r}")
        status, body, _ = http1(E.p.port, path.replace("/app/", "/oauth2/"), [("Accept", "application/json")])
        eq(status, 400, f"primary {path}: {body[:200]!r}")
    eq(E.up.seen[before:], [], "nothing proxied")


def test_ordinary_unicode_paths_still_served():
    ensure_running()
    for path, raw in (("/app/caf%C3%A9", "/app/caf%C3%A9"), ("/app/%E6%97%A5%E6%9C%AC/x", "/app/%E6%97%A5%E6%9C%AC/x"),
                      ("/app/%EF%BD%81dm", "/app/%EF%BD%81dm"), ("/app/na%C3%AFve", "/app/na%C3%AFve"),
                      ("/%E2%91%A0/x", "/%E2%91%A0/x"), ("/adminx/y", "/adminx/y"), ("/filesystem", "/filesystem")):
        status, body, _ = http1(E.s.port, path, [("Authorization", "Bearer " + E.user_tok)])
        eq(status, 200, f"{path}: {body[:200]!r}")
        eq(json.loads(body)["raw"], raw, f"{path}: what the upstream got")
    # and an administrator still reaches the protected areas
    for path in ("/admin/x", "/files", "/files/a", "/app/admin/y"):
        status, body, _ = http1(E.s.port, path, [("Authorization", "Bearer " + E.admin_tok)])
        eq(status, 200, f"admin {path}: {body[:200]!r}")


def test_http2_over_tls_same_answers():
    ensure_running()
    d = tmpdir()
    cert, key = make_cert(d)
    s = secondary("aptls", tls={"cert": cert, "key": key})
    ctx = ssl.create_default_context(cafile=cert)
    paths = letter_variants("/", "admin")[::7] + NOT_CANONICAL
    before = len(E.up.seen)
    got = h2_get(ctx, s.port, paths, [("authorization", "Bearer " + E.user_tok), ("accept", "application/json")])
    eq(sorted(got), sorted(paths), "every stream answered")
    bad = {p: v for p, v in got.items() if v[0] != 12}
    ok(not bad, f"HTTP/2: not all 400: {list(bad.items())[:3]}")
    eq(E.up.reached_protected(before), [], "nothing reached a protected area over HTTP/2")
    got = h2_get(ctx, s.port, ["/app/caf%C3%A9"], [("authorization", "Bearer " + E.user_tok)])
    eq(got["/app/caf%C3%A9"][0], 8, "an ordinary path over HTTP/2: 200")
    eq(s.stop(), 0, "the TLS secondary stops cleanly")


# An HTTP/1.1 request asking to switch to cleartext HTTP/2 reached the handlers as HTTP/2, so the gate never read its
# HTTP/1 framing: conflicting lengths and folded headers were proxied (and a front proxy would tunnel h2c past itself).
UPGRADE = ["Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA"]
FRAMING = [
    ("Content-Length and chunked", ["Content-Length: 5", "Transfer-Encoding: chunked"], b"5\r\nhello\r\n0\r\n\r\n"),
    ("chunked and Content-Length", ["Transfer-Encoding: chunked", "Content-Length: 40"], b"5\r\nhello\r\n0\r\n\r\n"),
    ("two Content-Length", ["Content-Length: 5", "Content-Length: 6"], b"hello!"),
    ("obs-fold", ["Content-Length: 5", "X-A: a", " b"], b"hello"),
]


def test_h2c_upgrade_does_not_skip_the_gate():
    ensure_running()
    for node, path, auth in ((E.s, "/app/up", ["Authorization: Bearer " + E.user_tok]), (E.p, "/oauth2/token", [])):
        for what, lines, body in FRAMING:
            before = len(E.up.seen)
            head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"] + auth + UPGRADE + lines
            out = send_raw(node.port, "\r\n".join(head).encode() + b"\r\n\r\n" + body, until_close=False)
            ok(out.startswith(b"HTTP/1.1 400 "), f"{node.name} {what} with Upgrade: h2c: {out[:200]!r}")
            ok(b" 101 " not in out.split(b"\r\n", 1)[0], f"{node.name} {what}: no switch to HTTP/2")
            eq(E.up.seen[before:], [], f"{node.name} {what}: nothing proxied")
    # a well-framed request asking to upgrade is simply answered over HTTP/1.1
    before = len(E.up.seen)
    status, body, out = http1(E.s.port, "/app/up", [("Authorization", "Bearer " + E.user_tok), ("Connection", "Upgrade, HTTP2-Settings"),
                                                    ("Upgrade", "h2c"), ("HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA")],
                              body=b"hello", method="POST")
    eq(status, 200, f"upgrade request answered as HTTP/1.1: {out[:200]!r}")
    eq(E.up.seen[before:], [("/app/up", b"hello")], "proxied once, with its body")
    # cleartext HTTP/2 by prior knowledge is refused as well, on both roles
    for node in (E.s, E.p):
        out = send_raw(node.port, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b""), until_close=False)
        ok(out.startswith(b"HTTP/1.1 400 "), f"{node.name}: h2c prior knowledge: {out[:100]!r}")


def test_clean_stop():
    ensure_running()
    for n in (E.s, E.p):
        rc = n.stop()
        log = open(n.log_path).read()
        ok("runtime error" not in log and "ERROR: AddressSanitizer" not in log, f"{n.name}: sanitizer error:\n" + log[-3000:])
        eq(rc, 0, f"{n.name} exit code")


if __name__ == "__main__":
    setup()
    run([test_compatibility_letters_never_reach_protected_areas, test_blank_and_delimiter_look_alikes_not_canonical,
         test_ordinary_unicode_paths_still_served, test_http2_over_tls_same_answers, test_h2c_upgrade_does_not_skip_the_gate,
         test_clean_stop])
