"""node.tls: a primary serves HTTPS with the configured certificate, and its cookies carry Secure."""
import http.client
import os
import re
import ssl
import subprocess

from hubtest import Node, eq, ok, run, tmpdir


def https(node, method, path, body=None, headers=None):
    ctx = ssl.create_default_context(cafile=node.cert)
    conn = http.client.HTTPSConnection("127.0.0.1", node.port, context=ctx, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, [(k.lower(), v) for k, v in r.getheaders()], r.read()
    finally:
        conn.close()


def tls_primary():
    d = tmpdir()
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    n = Node("primary", name="tlsprim", conf={"node": {"tls": {"cert": cert, "key": key}}})
    n.url = n.url.replace("http://", "https://")
    n.conf["node"]["public_url"] = n.url
    n.cert = cert
    n.hubctl("init")
    return n.start()


def test_https_and_secure_cookies():
    n = tls_primary()
    status, headers, body = https(n, "GET", "/healthz")
    eq(status, 200, "healthz over TLS")
    status, headers, body = https(n, "GET", "/.well-known/openid-configuration")
    ok(b'"issuer":"' + n.url.encode() + b'"' in body, "issuer is the https public_url")
    status, headers, body = https(n, "GET", "/login")
    eq(status, 200, "sign-in page over TLS")
    cookies = [v for k, v in headers if k == "set-cookie"]
    ok(cookies and all(re.search(r";\s*Secure", c) for c in cookies), f"every cookie is Secure: {cookies}")
    ok(all("HttpOnly" in c and "SameSite=Lax" in c for c in cookies), "HttpOnly, SameSite=Lax")
    # __Host- (RFC 6265bis 4.1.3.2): only from this origin over HTTPS, Path=/ and no Domain, so neither a sibling host
    # nor a plain-HTTP port of the same host can plant or overwrite the primary's cookies
    ok(all(c.startswith(n.cookie_name("")) for c in cookies) and n.cookie_name("").startswith("__Host-hub_"),
       f"__Host- prefixed names, still per node (or cluster): {cookies}")
    ok(all("Path=/;" in c + ";" and "domain=" not in c.lower() for c in cookies), f"Path=/ and no Domain: {cookies}")
    pre = cookies[0].split(";")[0]
    status, headers, body = https(n, "GET", "/login", headers={"Cookie": pre})
    ok(not [v for k, v in headers if k == "set-cookie"], "the __Host- pre-session cookie is read back")
    token = re.search(rb'name="csrf_token" value="([^"]*)"', body).group(1).decode()
    form = f"csrf_token={token}&username=nobody&password=x"
    status, headers, body = https(n, "POST", "/login", form, {"Cookie": pre, "Content-Type": "application/x-www-form-urlencoded"})
    eq(status, 401, "a sign-in form with the __Host- cookie passes CSRF")
    unprefixed = pre.replace("__Host-", "", 1)
    status, headers, body = https(n, "POST", "/login", form, {"Cookie": unprefixed,
                                                               "Content-Type": "application/x-www-form-urlencoded"})
    eq(status, 400, "the same value in a cookie without the prefix (one any site of the host could set) is ignored")
    # plain HTTP on the TLS port is not served
    import socket
    with socket.create_connection(("127.0.0.1", n.port), timeout=5) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            data = s.recv(100)
        except OSError:
            data = b""
    ok(not data.startswith(b"HTTP/1.1 200"), "no plain HTTP answer on the TLS port")
    eq(n.stop(), 0, "clean stop")


if __name__ == "__main__":
    run([test_https_and_secure_cookies])
