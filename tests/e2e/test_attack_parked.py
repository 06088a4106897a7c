"""Parked requests under clients that leave (hub/park.h): with the store's readers forced (HUB_READ_POOL=1, so reads queue
behind each other), clients send requests that park on the store (token, introspection, userinfo, sign-in with its
Argon2id check and its failure's write, authorize) and reset their connection at once or after a moment, at every
stage of the park, while other clients on fresh connections (which reuse the file descriptors the leavers freed) each
check that they get exactly one answer, their own: a refused leaver's 401 never lands on a reused connection. Over
HTTP/2 a reset stream disposes of its request while its job runs (the park's guard): the streams that stay on the same
connection each get one answer, their own, and the connection lives on. The node keeps serving, counts every sign-in
failure whose password was tried, and stops cleanly (under the sanitizers: no error, no leak)."""
import random
import re
import socket
import ssl
import struct
import threading
import time
import urllib.parse

from hubtest import Node, basic, eq, get, ok, post, run, self_signed, tmpdir

PASSWORD = "correct horse battery staple"
LEAVERS = 8       # threads of clients that leave
ROUNDS = 40       # requests each of them sends
HONEST = 4        # threads of clients that stay
HONEST_ROUNDS = 25


def start():
    n = Node("primary", name="parked", env={"HUB_READ_POOL": "1"},
             conf={"primary": {"login": {"max_failures": 1000, "address_max_failures": 100000}}})
    n.hubctl("init")
    n.hubctl("user", "add", "alice", "--email", "alice@example.com", input=PASSWORD + "\n")
    out = n.hubctl("client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes", "read",
                   "--redirect-uris", "").stdout
    n.svc = re.search(r"client_id:\s*(\S+)", out).group(1), re.search(r"client_secret:\s*(\S+)", out).group(1)
    n.start()
    ok(n.wait_log("1 readers (HUB_READ_POOL)"), "the store's readers were forced")
    return n


def raw_request(method, path, headers, body=b""):
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def leave(port, data, delay):
    """Sends data, waits delay seconds, and resets the connection (SO_LINGER 0: an RST, nothing read)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(data)
        if delay:
            time.sleep(delay)
    finally:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()


def one_answer(port, data):
    """Sends data with Connection: close and reads until the node closes: (number of status lines, first status)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    statuses = re.findall(rb"(?:^|\r\n)HTTP/1\.1 (\d{3}) ", out)
    return len(statuses), int(statuses[0]) if statuses else 0


def leavers_requests(n):
    """Requests that park, refused ones among them (401s a reused connection must never see)."""
    bad = basic(n.svc[0], "not-the-secret")
    good = basic(*n.svc)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    return [
        raw_request("POST", "/oauth2/token", {**form, **bad}, b"grant_type=client_credentials"),
        raw_request("POST", "/oauth2/token", {**form, **good}, b"grant_type=client_credentials"),
        raw_request("POST", "/oauth2/introspect", {**form, **bad}, b"token=x"),
        raw_request("GET", "/oauth2/userinfo", {"Authorization": "Bearer a.b.c"}),
        raw_request("GET", "/oauth2/authorize?client_id=" + n.svc[0] + "&response_type=code", {}),
        raw_request("GET", "/login", {}),
    ]


def login_form(n):
    """A fresh sign-in form: (its CSRF token, the pre-session cookie)."""
    r = get(n.url + "/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
    cookie = r.header("set-cookie").split(";")[0]
    return token, cookie


def test_clients_leave_at_every_stage():
    n = start()
    port = n.port
    templates = leavers_requests(n)
    token, cookie = login_form(n)
    wrong = raw_request("POST", "/login", {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
                        urllib.parse.urlencode({"csrf_token": token, "username": "alice",
                                                "password": "wrong"}).encode())
    templates.append(wrong)
    honest = raw_request("POST", "/oauth2/token", {"Content-Type": "application/x-www-form-urlencoded",
                                                   "Connection": "close", **basic(*n.svc)},
                         b"grant_type=client_credentials")
    seen = []
    errors = []

    def leaver(seed):
        rnd = random.Random(seed)
        try:
            for _ in range(ROUNDS):
                # at once (before the read runs), or a moment later (during or after it, or in the password check)
                leave(port, rnd.choice(templates), rnd.choice((0, 0, 0.0005, 0.002, 0.01, 0.05)))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    def stayer():
        try:
            for _ in range(HONEST_ROUNDS):
                seen.append(one_answer(port, honest))
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=leaver, args=(i,)) for i in range(LEAVERS)]
    threads += [threading.Thread(target=stayer) for _ in range(HONEST)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    eq(errors, [], "every client ran")
    eq(len(seen), HONEST * HONEST_ROUNDS, "answers to the clients that stayed")
    eq(sorted(set(seen)), [(1, 200)], "each got exactly one answer, its own")
    # the node goes on serving, the parked paths included
    eq(get(n.url + "/healthz").status, 200, "healthz")
    r = post(n.url + "/oauth2/token", form={"grant_type": "client_credentials"}, headers=basic(*n.svc))
    eq(r.status, 200, "a token after the attack")
    eq(n.stop(), 0, "a clean stop (no sanitizer error, no leak)")


def test_sign_in_failures_count_when_clients_leave():
    """Wrong passwords sent by clients that reset their connection during the Argon2id check: every guess whose password
    was tried is recorded, so the account locks as for clients that waited."""
    n = Node("primary", name="parkedlock", env={"HUB_READ_POOL": "1"},
             conf={"primary": {"login": {"max_failures": 3, "lockout": "15m", "address_max_failures": 1000}}})
    n.hubctl("init")
    n.hubctl("user", "add", "bob", "--email", "bob@example.com", input=PASSWORD + "\n")
    n.start()
    def count(needle):
        return sum(needle in line for line in n.lines)

    for _ in range(20):
        token, cookie = login_form(n)
        body = urllib.parse.urlencode({"csrf_token": token, "username": "bob", "password": "wrong"}).encode()
        data = raw_request("POST", "/login", {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}, body)
        outcomes = count("login: failed attempt") + count("left before its password check")
        leave(n.port, data, 0.01)  # gone before the check ends (an Argon2id check takes tens of ms)
        end = time.time() + 10
        while time.time() < end and count("login: failed attempt") + count("left before its password check") == outcomes:
            time.sleep(0.01)
        if count("login: failed attempt") >= 3:
            break
    tried = count("login: failed attempt")
    ok(tried >= 3, f"three guesses tried by clients that left ({tried})")
    token, cookie = login_form(n)
    r = post(n.url + "/login", form={"csrf_token": token, "username": "bob", "password": PASSWORD},
             headers={"Cookie": cookie})
    eq(r.status, 401, "locked: the right password is refused")
    eq(n.stop(), 0, "a clean stop")


def hpack_literal(name, value):
    """A header field as an HPACK literal without indexing (names and values short: one-byte lengths)."""
    nb, vb = name.encode(), value.encode()
    return b"\x00" + bytes([len(nb)]) + nb + bytes([len(vb)]) + vb


def h2_frame(ftype, flags, sid, payload):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") + payload


def h2_post(sid, path, auth, body):
    block = b"".join(hpack_literal(k, v) for k, v in (
        (":method", "POST"), (":scheme", "https"), (":authority", "127.0.0.1"), (":path", path),
        ("content-type", "application/x-www-form-urlencoded"), ("content-length", str(len(body))), ("authorization", auth)))
    return h2_frame(1, 0x4, sid, block) + h2_frame(0, 0x1, sid, body)  # HEADERS (END_HEADERS), DATA (END_STREAM)


def h2_frames(s, buf):
    """Reads one chunk and returns (frames parsed: [(type, flags, stream, payload)], the rest of buf)."""
    chunk = s.recv(65536)
    if not chunk:
        raise AssertionError("the node closed the HTTP/2 connection")
    buf += chunk
    frames = []
    while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
        n = int.from_bytes(buf[:3], "big")
        frames.append((buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7fffffff, buf[9:9 + n]))
        buf = buf[9 + n:]
    return frames, buf


def test_http2_streams_reset_while_parked():
    d = tmpdir("hub-parkedh2-cert-")
    cert, key = self_signed(d)
    n = Node("primary", name="parkedh2", env={"HUB_READ_POOL": "1"}, conf={"node": {"tls": {"cert": cert, "key": key}}})
    n.hubctl("init")
    out = n.hubctl("client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes", "read",
                   "--redirect-uris", "").stdout
    svc = re.search(r"client_id:\s*(\S+)", out).group(1), re.search(r"client_secret:\s*(\S+)", out).group(1)
    n.start()
    good_auth, bad_auth = basic(*svc)["Authorization"], basic(svc[0], "not-the-secret")["Authorization"]
    ctx = ssl.create_default_context(cafile=cert)
    ctx.set_alpn_protocols(["h2"])
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", n.port), timeout=20), server_hostname="127.0.0.1")
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b""))
    headers_of = {}
    good, buf, sid = [], b"", 1
    for batch in range(10):
        data = b""
        for i in range(30):
            if i % 3 == 0:
                data += h2_post(sid, "/oauth2/token", good_auth, b"grant_type=client_credentials")
                good.append(sid)
            else:  # refused once read; reset at once, the read queued or running
                data += h2_post(sid, "/oauth2/token", bad_auth, b"grant_type=client_credentials")
                data += h2_frame(3, 0, sid, (8).to_bytes(4, "big"))  # RST_STREAM CANCEL
            sid += 2
        s.sendall(data)
        end = time.time() + 30
        while time.time() < end and not all(g in headers_of for g in good):
            frames, buf = h2_frames(s, buf)
            for ftype, flags, stream, payload in frames:
                ok(ftype != 7, f"no GOAWAY (batch {batch})")
                if ftype == 4 and not flags & 1:
                    s.sendall(h2_frame(4, 1, 0, b""))  # SETTINGS ACK
                if ftype == 1:
                    headers_of.setdefault(stream, []).append(payload[:1])
    s.close()
    eq([g for g in good if headers_of.get(g) != [b"\x88"]], [], "every stream that stayed got one answer: 200")
    eq([k for k, v in headers_of.items() if len(v) != 1], [], "no stream got two answers")
    eq(n.stop(), 0, "a clean stop (no sanitizer error, no leak)")


if __name__ == "__main__":
    run([test_clients_leave_at_every_stage, test_sign_in_failures_count_when_clients_leave, test_http2_streams_reset_while_parked])
