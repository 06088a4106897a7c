"""node.proxy_protocol: behind a load balancer that sends a PROXY protocol v1 line, the address in it is the client's
for everything that looks at addresses (metrics_allow, the sign-in address limit); a connection without the line keeps
its own peer; without the setting a PROXY line is not a request."""
import http.client
import os
import re
import socket
import urllib.parse

from hubtest import Node, eq, ok, run, send_raw

PASSWORD = "correct horse battery staple"


def proxied(node, client, sport=40000):
    """An HTTPConnection to node whose first bytes are a PROXY line naming client (IPv4 or IPv6)."""
    fam = "TCP6" if ":" in client else "TCP4"
    dst = "::1" if fam == "TCP6" else "127.0.0.1"
    s = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    s.sendall(f"PROXY {fam} {client} {dst} {sport} {node.port}\r\n".encode())
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10)
    conn.sock = s
    return conn


def call(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=dict(headers or {}, Host="127.0.0.1"))
    r = conn.getresponse()
    data = r.read()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def metrics_status(node, client):
    conn = proxied(node, client)
    try:
        return call(conn, "GET", "/metrics")[0]
    finally:
        conn.close()


def failed_sign_in(node, client):
    """One wrong password for alice from client (through its own proxied connection); returns the status."""
    conn = proxied(node, client)
    try:
        status, headers, body = call(conn, "GET", "/login")
        eq(status, 200, "sign-in page")
        cookie = "; ".join(c.split(";", 1)[0] for c in [headers.get("set-cookie", "")] if c)
        token = re.search(rb'name="csrf_token" value="([^"]*)"', body).group(1).decode()
        form = urllib.parse.urlencode({"csrf_token": token, "username": "alice", "password": "wrong"})
        return call(conn, "POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})[0]
    finally:
        conn.close()


def test_addresses_come_from_the_proxy_line():
    n = Node("primary", name="pp", conf={"node": {"proxy_protocol": True, "metrics_allow": ["127.0.0.0/8"]},
                                         "primary": {"login": {"address_max_failures": 2, "max_failures": 100}}})
    n.hubctl("init")
    pw = os.path.join(n.dir, "pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    n.hubctl("user", "add", "alice", "--email", "alice@example.com", "--password-file", pw)
    n.start()
    try:
        eq(metrics_status(n, "203.0.113.7"), 403, "a client outside metrics_allow, named by the balancer")
        eq(metrics_status(n, "2001:db8::7"), 403, "an IPv6 client outside metrics_allow")
        eq(metrics_status(n, "127.0.0.5"), 200, "a client inside metrics_allow")
        out = send_raw(n.port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        ok(out.startswith(b"HTTP/1.1 200"), f"no PROXY line: the connection's own (loopback) peer: {out[:80]!r}")
        # the address limit counts the client the line names, not the balancer's address
        eq([failed_sign_in(n, "198.51.100.1") for _ in range(2)], [401, 401], "two guesses from one client")
        eq(failed_sign_in(n, "198.51.100.1"), 429, "its third waits")
        eq(failed_sign_in(n, "198.51.100.2"), 401, "another client behind the same balancer is still checked")
        eq(failed_sign_in(n, "2001:db8::1"), 401, "and an IPv6 one")
        log = open(n.log_path).read()
        ok("198.51.100.1" in log, "the access log names the client of the PROXY line")
    finally:
        eq(n.stop(), 0, "exit code on SIGTERM")


def test_without_the_setting_a_proxy_line_is_refused():
    n = Node("primary", name="nopp")
    n.hubctl("init")
    n.start()
    try:
        for line in (b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n", b"PROXY UNKNOWN\r\n"):
            out = send_raw(n.port, line + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            ok(not out.startswith(b"HTTP/1.1 200"), f"{line!r}: not taken for a request: {out[:80]!r}")
        ok(send_raw(n.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(b"HTTP/1.1 200"),
           "still serving")
    finally:
        eq(n.stop(), 0, "exit code on SIGTERM")


if __name__ == "__main__":
    run([test_addresses_come_from_the_proxy_line, test_without_the_setting_a_proxy_line_is_refused])
