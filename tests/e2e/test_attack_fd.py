"""Connection places attacked again (issue 10 class 7): one client fills node.max_connections with connections that do
nothing (HTTP/2 connections kept alive with PING frames, which reset h2o's idle timer forever; HTTP/1 heads trickled in;
idle keep-alives; TLS handshakes never finished). At the cap the node closes connections that have nothing in flight
and finished no request for 2 s, so /healthz and real clients get in while the attack goes on; a request in flight
(a slow upstream behind a secondary) is never the one closed."""
import http.server
import os
import select
import socket
import ssl
import subprocess
import threading
import time

from hubtest import Node, eq, ok, post, run, serve_http, tmpdir

CAP = 16


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def h2_frame(ftype, flags, sid, payload):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


class Holders:
    """Connections that take places and do nothing useful, kept going by a thread until stop()."""

    def __init__(self, port, kind, n, ctx=None):
        self.port, self.kind, self.ctx = port, kind, ctx
        self.socks, self.closed_by_node = [], 0
        self.stopping = threading.Event()
        for _ in range(n):
            self.socks.append(self.open())
        self.thread = threading.Thread(target=self.keep, daemon=True)
        self.thread.start()

    def open(self):
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        if self.kind == "h2-ping":
            ctx = ssl.create_default_context(cafile=self.ctx)
            ctx.set_alpn_protocols(["h2"])
            s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b""))
            return s
        if self.kind == "tls-half-open":
            raw.sendall(b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03")  # the start of a ClientHello, never finished
            return raw
        if self.kind == "idle-keepalive":
            raw.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            raw.recv(4096)
            return raw
        raw.sendall(b"GET /healthz HTTP/1.1\r\n")  # slowloris: a header line now and then, never the end
        return raw

    @staticmethod
    def closed(s):
        """Whether the node closed s (what it sent meanwhile is read and dropped)."""
        try:
            while select.select([s], [], [], 0)[0]:
                if not s.recv(65536):
                    return True
        except (OSError, ssl.SSLError):
            return True
        return False

    def keep(self):
        while not self.stopping.wait(0.5):
            for i, s in enumerate(self.socks):
                try:
                    if self.closed(s):
                        raise ConnectionResetError()
                    if self.kind == "h2-ping":
                        s.sendall(h2_frame(6, 0, 0, b"12345678"))  # PING: the node answers, h2o's idle timer restarts
                    elif self.kind == "slowloris":
                        s.sendall(b"X-a: b\r\n")
                except OSError:
                    self.closed_by_node += 1
                    s.close()
                    try:
                        self.socks[i] = self.open()  # the attacker takes the place again at once
                    except OSError:
                        pass

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


def probe(port, ctx=None, timeout=30):
    """GET /healthz on a new connection; the status, or 0 when no answer came within timeout."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if ctx is not None:
            s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = s.recv(4096)
        s.close()
        return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    except (OSError, ValueError):
        return 0


def clean_stop(n):
    rc = n.stop()
    log = open(n.log_path).read()
    ok("runtime error" not in log and "ERROR: AddressSanitizer" not in log, f"{n.name}: sanitizer error:\n" + log[-3000:])
    eq(rc, 0, f"{n.name} exit code")


def test_cap_filled_with_connections_that_do_nothing():
    d = tmpdir()
    cert, key = make_cert(d)
    n = Node("primary", name="fdcap", conf={"node": {"max_connections": CAP, "tls": {"cert": cert, "key": key}}})
    n.url = n.url.replace("http://", "https://")
    n.conf["node"]["public_url"] = n.url
    n.hubctl("init")
    n.start()
    ctx = ssl.create_default_context(cafile=cert)
    eq(probe(n.port, ctx), 200, "served before the attack")
    # HTTP/2 connections kept alive with PINGs: h2o's idle timer restarts on every frame, so without the node's help
    # nobody else ever gets in
    holders = Holders(n.port, "h2-ping", CAP, ctx=cert)
    try:
        eq(probe(n.port, ctx, timeout=30), 200, "/healthz answered while HTTP/2 connections with PINGs hold every place")
        ok(n.wait_log("at the connection cap (16): closed", 5), "the closing is logged")
        end = time.time() + 5
        while holders.closed_by_node == 0 and time.time() < end:
            time.sleep(0.1)
        ok(holders.closed_by_node > 0, "the idle HTTP/2 connections were the ones closed")
    finally:
        holders.stop()
    # the other kinds, mixed, the attacker re-opening what is closed
    mixed = [Holders(n.port, kind, CAP // 4, ctx=cert) for kind in ("tls-half-open", "slowloris", "idle-keepalive", "h2-ping")]
    try:
        for _ in range(3):
            eq(probe(n.port, ctx, timeout=30), 200, "/healthz answered during a mixed attack")
    finally:
        for h in mixed:
            h.stop()
    eq(probe(n.port, ctx), 200, "served after the attack")
    clean_stop(n)


class SlowUpstream:
    def __init__(self, delay):
        self.done = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"slow")
                outer.done.append(self.path)

            def log_message(self, *a):
                pass

        self.server = serve_http(H)
        self.port = self.server.server_address[1]


def test_requests_in_flight_are_never_closed():
    up = SlowUpstream(4.0)
    p = Node("primary", name="fdprim")
    p.hubctl("init")
    out = p.hubctl("client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes", "read",
                   "--redirect-uris", "").stdout
    cid = out.split("client_id:")[1].split()[0]
    sec = out.split("client_secret:")[1].split()[0]
    p.start()
    import base64
    r = post(p.url + "/oauth2/token", form={"grant_type": "client_credentials"},
             headers={"Authorization": "Basic " + base64.b64encode(f"{cid}:{sec}".encode()).decode()})
    tok = r.json()["access_token"]
    join = p.hubctl("node", "join-token", "--name", "fdsec").stdout.strip().split()[-1]
    s = Node("secondary", name="fdsec", conf={"node": {"max_connections": 8}, "secondary": {
        "server_url": p.url, "join_token_file": "", "accept_audiences": [cid],
        "routes": [{"path": "/slow/", "upstream": f"http://127.0.0.1:{up.port}/", "roles": []}]}})
    path = os.path.join(s.dir, "join.token")
    with open(path, "w") as f:
        f.write(join + "\n")
    s.conf["secondary"]["join_token_file"] = path
    s.start()
    ok(s.wait_log("signing keys of the primary", 15), "joined")
    # two slow requests in flight (4 s upstream), the other places held by idle connections
    answers = []

    def slow(i):
        c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        c.sendall(f"GET /slow/{i} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        answers.append(data)

    slows = [threading.Thread(target=slow, args=(i,)) for i in range(2)]
    for t in slows:
        t.start()
    time.sleep(0.5)
    holders = Holders(s.port, "idle-keepalive", 6)
    try:
        eq(probe(s.port, timeout=30), 200, "/healthz answered at the cap")
        for t in slows:
            t.join(30)
        eq(len(answers), 2, "both slow requests answered")
        ok(all(a.startswith(b"HTTP/1.1 200") and a.endswith(b"slow") for a in answers), f"not cut: {answers}")
        ok(s.wait_log("closed", 5), "idle connections were closed to make room")
    finally:
        holders.stop()
    clean_stop(s)
    clean_stop(p)


if __name__ == "__main__":
    run([test_cap_filled_with_connections_that_do_nothing, test_requests_in_flight_are_never_closed])
