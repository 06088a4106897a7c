"""SIGHUP re-reads node.tls: a connection made after the reload gets the new certificate, connections made before (one
mid-request, one still before its handshake) keep theirs and keep working; every kind of bad new pair is refused with
a log line and the current certificate stays; a node without TLS survives SIGHUP."""
import os
import signal
import socket
import ssl
import subprocess
import time

from hubtest import Node, eq, get, ok, run, tmpdir


def openssl(*args, cwd=None):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=cwd, timeout=60)


def make_pair(d, name):
    """A fresh P-256 key and a self-signed certificate for 127.0.0.1 with CN=name; returns (cert, key) paths."""
    cert, key = os.path.join(d, f"{name}.crt"), os.path.join(d, f"{name}.key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
            f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert)
    return cert, key


def make_expired(d, key):
    """A certificate for key (matching it) valid only in January 2020, signed by itself through `openssl ca`."""
    conf = os.path.join(d, "ca.cnf")
    with open(conf, "w") as f:
        f.write(f"""[ca]
default_ca = ca_default
[ca_default]
database = {d}/index.txt
new_certs_dir = {d}
serial = {d}/serial
default_md = sha256
policy = any
[any]
commonName = supplied
[req]
distinguished_name = dn
prompt = no
[dn]
CN = expired
""")
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("01\n")
    csr, cert = os.path.join(d, "expired.csr"), os.path.join(d, "expired.crt")
    openssl("req", "-new", "-key", key, "-config", conf, "-out", csr)
    openssl("ca", "-batch", "-config", conf, "-selfsign", "-keyfile", key, "-in", csr, "-out", cert,
            "-startdate", "20200101000000Z", "-enddate", "20200201000000Z")
    return cert


def der(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def install(src, dst):
    """Replaces dst the way renewal tools do: a new file renamed over the old one."""
    tmp = dst + ".new"
    with open(src, "rb") as f, open(tmp, "wb") as g:
        g.write(f.read())
    os.replace(tmp, dst)


def client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test compares the exact certificate instead
    return ctx


class KeepAlive:
    """One TLS connection carrying several HTTP/1.1 requests; fails if the server closes it."""

    def __init__(self, port, handshake=True):
        self.raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.tls = None
        if handshake:
            self.handshake()

    def handshake(self):
        self.tls = client_ctx().wrap_socket(self.raw)
        return self.tls.getpeercert(binary_form=True)

    def get(self, path="/healthz"):
        self.tls.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.tls.recv(4096)
            ok(chunk, "the connection stays open")
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0]
        while len(body) < length:
            body += self.tls.recv(4096)
        return int(head.split(b" ")[1])

    def close(self):
        (self.tls or self.raw).close()


def served_cert(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with client_ctx().wrap_socket(s) as t:
            return t.getpeercert(binary_form=True)


class TlsNode:
    def __init__(self, name, threads=2):
        self.d = tmpdir("hub-tlsreload-")
        self.a = make_pair(self.d, "first")
        self.cert, self.key = os.path.join(self.d, "live.crt"), os.path.join(self.d, "live.key")
        install(self.a[0], self.cert)
        install(self.a[1], self.key)
        self.node = Node("primary", name=name, conf={"node": {"threads": threads, "tls": {"cert": self.cert, "key": self.key}}})
        self.node.url = self.node.url.replace("http://", "https://")
        self.node.conf["node"]["public_url"] = self.node.url
        self.node.hubctl("init")
        self.node.start()
        self.reloads = 0
        self.refusals = 0

    def count(self, needle):
        return sum(needle in l for l in self.node.lines)

    def sighup(self, expect_ok):
        before_ok, before_bad = self.count("TLS certificate reloaded"), self.count("keeping the current certificate")
        self.node.proc.send_signal(signal.SIGHUP)
        needle = "TLS certificate reloaded" if expect_ok else "keeping the current certificate"
        want = (before_ok if expect_ok else before_bad) + 1
        end = time.time() + 10
        while self.count(needle) < want and time.time() < end:
            time.sleep(0.05)
        eq(self.count(needle), want, f"log line '{needle}' after SIGHUP")
        eq(self.count("TLS certificate reloaded"), before_ok + (1 if expect_ok else 0), "reload lines")
        eq(self.count("keeping the current certificate"), before_bad + (0 if expect_ok else 1), "refusal lines")


def test_new_connections_get_the_new_certificate():
    t = TlsNode("tlsreload", threads=1)  # one listener: connections are accepted in the order they were made
    port = t.node.port
    eq(served_cert(port), der(t.a[0]), "the first certificate at start")
    before = KeepAlive(port)
    eq(before.get(), 200, "a connection before the reload")
    pending = [KeepAlive(port, handshake=False) for _ in range(3)]  # accepted, no ClientHello yet
    eq(served_cert(port), der(t.a[0]), "a later connection served: the loop has accepted the pending ones")

    b = make_pair(t.d, "second")
    install(b[0], t.cert)
    install(b[1], t.key)
    t.sighup(expect_ok=True)
    ok(t.count("subject CN = second"), "the log names the new certificate")
    eq(served_cert(port), der(b[0]), "a connection after the reload sees the new certificate")
    for _ in range(3):
        eq(before.get(), 200, "the connection made before keeps working")
    eq(before.tls.getpeercert(binary_form=True), der(t.a[0]), "on its original certificate")
    before.close()
    # a connection accepted before the reload but whose handshake comes after: it was accepted with the old context,
    # which must stay alive for it (h2o keeps a bare pointer until the handshake starts)
    c = make_pair(t.d, "third")
    install(c[0], t.cert)
    install(c[1], t.key)
    t.sighup(expect_ok=True)
    eq(served_cert(port), der(c[0]), "new connections: the latest certificate")
    # now nothing but the pending connections holds the first context: the loop's cache and the server moved on and
    # the one handshaken connection on it is closed
    for p in pending:
        eq(p.handshake(), der(t.a[0]), "a handshake begun after the reload, on a connection accepted before it")
        eq(p.get(), 200, "and it serves")
        p.close()
    eq(t.node.stop(), 0, "clean stop")


def test_bad_new_pairs_are_refused():
    t = TlsNode("tlsbad")
    port = t.node.port
    b = make_pair(t.d, "good")
    other = make_pair(t.d, "other")
    expired = make_expired(t.d, b[1])
    garbage = os.path.join(t.d, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
    empty = os.path.join(t.d, "empty.pem")
    open(empty, "w").close()
    truncated = os.path.join(t.d, "truncated.pem")
    with open(b[0]) as f, open(truncated, "w") as g:
        g.write(f.read()[:200])
    current = KeepAlive(port)

    variants = [
        ("a certificate file that is not PEM", garbage, b[1]),
        ("an empty certificate file", empty, b[1]),
        ("a truncated certificate", truncated, b[1]),
        ("a certificate whose key is another one", b[0], other[1]),
        ("a key file holding a certificate", b[0], b[0]),
        ("an expired certificate (with its own key)", expired, b[1]),
        ("a missing certificate file", None, b[1]),
        ("a missing key file", b[0], None),
    ]
    for what, cert, key in variants:
        for src, dst in ((cert, t.cert), (key, t.key)):
            if src is None:
                os.unlink(dst)
            else:
                install(src, dst)
        t.sighup(expect_ok=False)
        for _ in range(4):  # on either loop thread
            eq(served_cert(port), der(t.a[0]), f"{what}: new connections still get the current certificate")
        eq(current.get(), 200, f"{what}: an open connection keeps working")
        ok(t.node.proc.poll() is None, f"{what}: the node runs on")
    ok(t.count("node.tls.key: cannot load") >= 2 and t.count("node.tls.cert: cannot load") >= 3, "the reason is logged")
    ok(t.count("has expired") == 1, "an expired certificate is named as such")
    # and a good pair is still taken afterwards
    install(b[0], t.cert)
    install(b[1], t.key)
    t.sighup(expect_ok=True)
    for _ in range(4):
        eq(served_cert(port), der(b[0]), "a good pair after the refusals")
    eq(current.get(), 200, "the old connection still works")
    current.close()
    eq(t.node.stop(), 0, "clean stop")


def test_sighup_without_tls():
    n = Node("primary", name="plainhup")
    n.hubctl("init")
    n.start()
    for _ in range(3):
        n.proc.send_signal(signal.SIGHUP)
        ok(n.wait_log("SIGHUP: no node.tls"), "logged")
    eq(get(n.url + "/healthz").status, 200, "a plain node serves on after SIGHUP")
    eq(n.stop(), 0, "clean stop")


if __name__ == "__main__":
    run([test_new_connections_get_the_new_certificate, test_bad_new_pairs_are_refused, test_sighup_without_tls])
