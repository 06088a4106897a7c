"""Password checks off the event loop: the limits count checks still in flight (a burst of parallel guesses gets no
more tries than a sequence would), the bounded queue and the node's checks-per-second cap answer 503 with Retry-After,
a client that goes away while its check waits costs nothing and crashes nothing, and a stop lets queued checks finish."""
import concurrent.futures
import os
import re
import socket
import ssl
import subprocess
import time
import urllib.parse

from hubtest import Browser, Node, eq, get, ok, post, run, tmpdir

PASSWORD = "correct horse battery staple"


def primary(login, tls=False, name="workers"):
    conf = {"primary": {"login": login}}
    n = Node("primary", name=name, conf=conf)
    if tls:
        d = tmpdir()
        n.cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days",
                        "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out",
                        n.cert], check=True, capture_output=True)
        n.conf["node"]["tls"] = {"cert": n.cert, "key": key}
        n.url = n.url.replace("http://", "https://")
        n.conf["node"]["public_url"] = n.url
    n.hubctl("init")
    pw = os.path.join(n.dir, "pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    n.hubctl("user", "add", "alice", "--email", "alice@example.com", "--password-file", pw)
    return n.start()


def clean_stop(n):
    rc = n.stop()
    with open(n.log_path) as f:
        log = f.read()
    ok("Sanitizer" not in log and "runtime error" not in log, "sanitizer report:\n" + log[-4000:])
    eq(rc, 0, "exit code on SIGTERM")


def form_ticket(n):
    """(cookie header, csrf token) of one sign-in page: every request of a burst may reuse them."""
    b = Browser()
    r = b.get(n.url + "/login")
    token = re.search(r'action="/login">\s*<input type="hidden" name="csrf_token" value="([^"]*)"', r.text).group(1)
    jar = b._jar(n.url)
    return "; ".join(f"{k}={v}" for k, v in jar.items()), token


def burst(n, attempts, threads=40):
    """Sends every (username, password) of attempts at once; returns the responses in the same order."""
    cookie, token = form_ticket(n)

    def one(a):
        return post(n.url + "/login", form={"csrf_token": token, "username": a[0], "password": a[1]},
                    headers={"Cookie": cookie}, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as ex:
        return list(ex.map(one, attempts))


def statuses(rs):
    out = {}
    for r in rs:
        out[r.status] = out.get(r.status, 0) + 1
    return out


def test_address_limit_counts_checks_in_flight():
    n = primary({"max_failures": 100, "lockout": "2s", "address_max_failures": 5, "max_checks_per_second": 100000})
    rs = burst(n, [(f"nobody{i}", "wrong") for i in range(30)])
    eq(statuses(rs), {401: 5, 429: 25}, "exactly address_max_failures guesses are checked, however parallel")
    for r in rs:
        if r.status == 429:
            ra = r.header("retry-after")
            ok(ra is not None and ra.isdigit() and int(ra) >= 1, f"Retry-After: {ra}")
            ok('name="csrf_token"' in r.text and "Too many failed sign-in attempts" in r.text, "the form with a message")
    eq(get(n.url + "/healthz").status, 200, "healthy")
    clean_stop(n)


def test_account_lock_counts_checks_in_flight():
    """max_failures wrong guesses in flight lock the account: the right password sent while they still wait for a
    worker cannot slip in before the lock, and is answered exactly like any failure."""
    n = primary({"max_failures": 3, "lockout": "60s", "address_max_failures": 1000, "max_checks_per_second": 100000})
    cookie, token = form_ticket(n)

    def one(username, password):
        return post(n.url + "/login", form={"csrf_token": token, "username": username, "password": password},
                    headers={"Cookie": cookie}, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(max_workers=30) as ex:
        # other users' checks first, so alice's wrong guesses wait in the queue (in flight, not yet counted in the store)
        filler = [ex.submit(one, f"nobody{i}", "wrong") for i in range(20)]
        time.sleep(0.05)
        wrong = [ex.submit(one, "alice", f"wrong{i}") for i in range(3)]
        time.sleep(0.1)
        right = ex.submit(one, "alice", PASSWORD)
        results = [f.result() for f in filler + wrong] + [right.result()]
    eq(statuses(results), {401: 24}, "every guess fails, the right one too")
    ok(not any("session" in c for c in results[-1].header_all("set-cookie")), "no session")
    r = one("alice", PASSWORD)
    eq(r.status, 401, "the account is locked afterwards")
    ok("Incorrect username or password" in r.text, "a lock looks like any failure")
    clean_stop(n)


def test_queue_full_answers_503():
    n = primary({"max_failures": 1000, "lockout": "2s", "address_max_failures": 100000, "max_checks_per_second": 100000,
                 "max_queued": 2})
    rs = burst(n, [(f"nobody{i}", "wrong") for i in range(40)])
    st = statuses(rs)
    # at least the queue's two are checked, however the burst and the workers interleave on a loaded machine
    ok(set(st) <= {401, 503} and st.get(503, 0) >= 1 and st.get(401, 0) >= 2, f"401s and 503s: {st}")
    for r in rs:
        if r.status == 503:
            eq(r.header("retry-after"), "1", "Retry-After on 503")
            ok("text/html" in r.header("content-type") and 'name="csrf_token"' in r.text, "the sign-in form again")
            ok("Too many sign-ins are being checked" in r.text, "says why")
    eq(get(n.url + "/healthz").status, 200, "healthy")
    cookie, token = form_ticket(n)
    r = post(n.url + "/login", form={"csrf_token": token, "username": "alice", "password": PASSWORD}, headers={"Cookie": cookie})
    eq(r.status, 302, "signing in works once the burst is over")
    clean_stop(n)


def test_checks_per_second_cap():
    n = primary({"max_failures": 1000, "lockout": "2s", "address_max_failures": 100000, "max_checks_per_second": 2})
    rs = burst(n, [(f"nobody{i}", "wrong") for i in range(20)])
    st = statuses(rs)
    ok(set(st) <= {401, 503} and st.get(401, 0) >= 1 and st.get(503, 0) >= 10, f"the cap refuses most: {st}")
    ok(all(r.header("retry-after") == "1" for r in rs if r.status == 503), "Retry-After: 1")
    # the budget refills: a single attempt a little later is checked (bounded wait, not a speed assertion)
    cookie, token = form_ticket(n)
    end, status = time.time() + 10, None
    while time.time() < end and status != 302:
        time.sleep(0.6)
        status = post(n.url + "/login", form={"csrf_token": token, "username": "alice", "password": PASSWORD},
                      headers={"Cookie": cookie}).status
    eq(status, 302, "checked again once the budget refilled")
    clean_stop(n)


# ---- a minimal HTTP/2 client: HTTP/1.1 hides a disconnect until the answer is written, HTTP/2 does not ----

def h2_frame(ftype, flags, stream, payload):
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + stream.to_bytes(4, "big") + payload


def hpack_int(v, bits, flags=0):
    top = (1 << bits) - 1
    if v < top:
        return bytes([flags | v])
    out, v = [flags | top], v - top
    while v >= 128:
        out.append((v & 127) | 128)
        v >>= 7
    return bytes(out + [v])


def hpack_literal(name, value):
    """A literal header field without indexing, new name, no Huffman coding (RFC 7541 6.2.2)."""
    n, v = name.encode(), value.encode()
    return b"\x00" + hpack_int(len(n), 7) + n + hpack_int(len(v), 7) + v


def h2_posts_then_leave(n, body, cookie, count):
    """Opens an HTTP/2 connection, sends count POST /login streams, waits for the first answer and closes."""
    ctx = ssl.create_default_context(cafile=n.cert)
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("127.0.0.1", n.port), timeout=30)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    try:
        eq(s.selected_alpn_protocol(), "h2", "ALPN h2")
        out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b"")
        for i in range(count):
            sid = 2 * i + 1
            hdrs = b"".join(hpack_literal(k, v) for k, v in (
                (":method", "POST"), (":scheme", "https"), (":path", "/login"), (":authority", f"127.0.0.1:{n.port}"),
                ("content-type", "application/x-www-form-urlencoded"), ("content-length", str(len(body))),
                ("cookie", cookie)))
            out += h2_frame(1, 0x4, sid, hdrs) + h2_frame(0, 0x1, sid, body.encode())
        s.sendall(out)
        buf, end = b"", time.time() + 30
        while time.time() < end:  # frames until a HEADERS frame (an answer) comes back
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            answered = False
            while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                flen, ftype = int.from_bytes(buf[:3], "big"), buf[3]
                answered = answered or ftype == 1
                buf = buf[9 + flen:]
            if answered:
                return True
        return False
    finally:
        s.close()


def test_client_gone_while_queued():
    n = primary({"max_failures": 1000, "lockout": "2s", "address_max_failures": 100000, "max_checks_per_second": 100000},
                tls=True)
    ctx = ssl.create_default_context(cafile=n.cert)
    conn = socket.create_connection(("127.0.0.1", n.port), timeout=10)
    with ctx.wrap_socket(conn, server_hostname="127.0.0.1") as s:
        s.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        page = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            page += chunk
    text = page.decode(errors="replace")
    cookie = re.search(r"set-cookie: (" + re.escape(n.cookie_name("csrf")) + "=[^;]+)", text, re.I).group(1)
    token = re.search(r'action="/login">\s*<input type="hidden" name="csrf_token" value="([^"]*)"', text).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "username": "nobody", "password": "wrong"})
    for _ in range(3):  # several connections, each leaving with most of its checks still queued
        ok(h2_posts_then_leave(n, body, cookie, 40), "the first answer came back before leaving")
    ok(n.wait_log("left before its password check; skipped", 20), "checks of departed clients are skipped:\n" + n.log())
    status = None
    for _ in range(50):  # the node keeps serving (bounded wait for the skipped checks to drain)
        conn = socket.create_connection(("127.0.0.1", n.port), timeout=10)
        with ctx.wrap_socket(conn, server_hostname="127.0.0.1") as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            status = s.recv(100)[:12]
        if status == b"HTTP/1.1 200":
            break
        time.sleep(0.1)
    eq(status, b"HTTP/1.1 200", "healthz after the departed clients")
    clean_stop(n)


def test_stop_lets_queued_checks_finish():
    n = primary({"max_failures": 1000, "lockout": "2s", "address_max_failures": 100000, "max_checks_per_second": 100000})
    cookie, token = form_ticket(n)

    def one(i):
        try:
            return post(n.url + "/login", form={"csrf_token": token, "username": f"nobody{i}", "password": "wrong"},
                        headers={"Cookie": cookie}, timeout=60)
        except OSError:
            return None  # not accepted before the listener closed

    with concurrent.futures.ThreadPoolExecutor(max_workers=30) as ex:
        futures = [ex.submit(one, i) for i in range(30)]
        time.sleep(0.2)  # sent and queued: 30 checks take the workers several hundred milliseconds
        n.proc.send_signal(15)
        results = [f.result() for f in futures]
    answered = [r for r in results if r is not None]
    ok(all(r.status in (401, 503) for r in answered), f"every answer is a sign-in answer: {statuses(answered)}")
    ok(statuses(answered).get(401, 0) >= 20, f"the checks queued before the stop finished: {statuses(answered)}")
    clean_stop(n)


if __name__ == "__main__":
    run([test_address_limit_counts_checks_in_flight, test_account_lock_counts_checks_in_flight, test_queue_full_answers_503,
         test_checks_per_second_cap, test_client_gone_while_queued, test_stop_lets_queued_checks_finish])
