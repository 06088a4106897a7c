"""A secondary's sessions re-validate with the primary every access-token lifetime (issue 10 item 3): a refresh grant
off the event loop renews roles (added or removed at the primary), a refused refresh ends the session, one refresh per
session however many requests arrive, and while the primary is down, hangs or answers something else than OAuth
(through a proxy that can spoil the refresh answers) the session keeps working and re-validates when it is back. Real
processes on loopback, access_token_ttl 3s."""
import http.client
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from federation import Federation, until, walk  # noqa: E402
from hubtest import Browser, eq, free_port, get, ok, run  # noqa: E402

TTL = 3
JSON = {"Accept": "application/json"}


def federation():
    return Federation(names=("A",), primary_conf={"primary": {"access_token_ttl": f"{TTL}s"}})


def me(b, fed):
    return b.get(fed.url("A", "/auth/me"), headers=JSON, follow=False)


def session_cookie(b):
    return b.cookies.get("127.0.0.1", {}).get("hub_secA_session")


def staff(b, fed):
    """/staff/ (role Employee) as an API caller with the session: 200, 403 (roles), or 401 (no session)."""
    return b.get(fed.url("A", "/staff/x"), headers=JSON, follow=False).status


def token_posts(fed):
    return sum('"POST /oauth2/token' in line for line in fed.primary.lines)


def reuse_warnings(fed):
    return [line for line in fed.primary.lines if "reuse" in line]


def test_roles_added_and_removed_apply():
    fed = federation()
    bob, alice = Browser(), Browser()
    walk(bob, fed.url("A"), user="bob").echo()
    walk(alice, fed.url("A")).echo()
    cookie = session_cookie(bob)
    eq((staff(bob, fed), staff(alice, fed)), (403, 200), "before: bob lacks Employee, alice holds it")
    fed.primary.hubctl("user", "roles", "bob", "--add", "Employee")
    fed.primary.hubctl("user", "roles", "alice", "--remove", "Employee")
    # idle for longer than an access token lives: the first request after that is re-validated before it is answered
    time.sleep(TTL + 1.5)
    eq(staff(bob, fed), 200, "bob's first request after the role was added")
    eq(session_cookie(bob), cookie, "the same session, no new sign-in")
    ok("Employee" in me(bob, fed).json()["roles"], "/auth/me shows the new role")
    # a role removal denies at once: 403 with the new roles, or 401 where the primary ended the grant
    ok(staff(alice, fed) in (401, 403), "alice's first request after the role was removed is denied")
    r = me(alice, fed)
    ok(r.status == 401 or "Employee" not in r.json()["roles"], f"/auth/me no longer shows Employee: {r.status} {r.text[:200]}")
    ok(not reuse_warnings(fed), "no refresh token presented twice:\n" + "\n".join(reuse_warnings(fed)))
    fed.finish()


def test_refused_refresh_ends_the_session():
    fed = federation()
    fed.add_user("carol", "Carol", "Employee")
    alice, bob, carol = Browser(), Browser(), Browser()
    for b, user in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        walk(b, fed.url("A"), user=user).echo()
        eq(me(b, fed).status, 200, f"{user} signed in")
    fed.primary.hubctl("user", "disable", "alice")
    fed.primary.hubctl("user", "del", "bob")
    for b, user in ((alice, "disabled alice"), (bob, "deleted bob")):
        until(lambda: me(b, fed).status == 401, 4 * TTL + 5, what=f"{user}'s session ended")
        r = b.get(fed.url("A", "/app/x"), follow=False)
        ok(r.status == 302 and "/auth/login" in (r.header("location") or ""), f"{user}: the browser is sent to sign in")
    eq(me(carol, fed).status, 200, "carol's session is untouched")
    eq(staff(carol, fed), 200, "carol still reaches /staff/")
    fed.finish()


def test_one_refresh_per_session():
    """Many concurrent requests of one session: one refresh grant at a time, never the same refresh token twice (the
    primary would revoke the family and end the session), about one per access-token lifetime."""
    fed = federation()
    b = Browser()
    walk(b, fed.url("A")).echo()
    cookie = {"Cookie": "hub_secA_session=" + session_cookie(b), **JSON}
    before, errors, stop = token_posts(fed), [], threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                r = get(fed.url("A", "/staff/h"), headers=cookie, timeout=5)
                if r.status != 200:
                    errors.append(r.status)
            except OSError as e:
                errors.append(repr(e))
            time.sleep(0.005)

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(4)]
    t0 = time.time()
    for t in threads:
        t.start()
    time.sleep(4 * TTL)
    stop.set()
    for t in threads:
        t.join(10)
    took = time.time() - t0
    refreshes = token_posts(fed) - before
    ok(not errors, f"every request answered 200 while refreshing: {errors[:10]}")
    ok(not reuse_warnings(fed), "no refresh token presented twice:\n" + "\n".join(reuse_warnings(fed)))
    ok(2 <= refreshes <= took / TTL + 2, f"{refreshes} refresh grants in {took:.1f}s (one per {TTL}s lifetime expected)")
    eq(get(fed.url("A", "/auth/me"), headers=cookie).status, 200, "the session is alive")
    fed.finish()


def test_primary_down_then_back():
    """Availability first: with the primary stopped (then hung) the session keeps working past the access token's
    lifetime; once the primary is back the session re-validates and a change made meanwhile applies."""
    fed = federation()
    b = Browser()
    walk(b, fed.url("A")).echo()
    fed.primary.stop()
    fed.primary.hubctl("user", "roles", "alice", "--remove", "Employee")  # hubctl works on the data dir alone
    end = time.time() + 2 * TTL + 1
    while time.time() < end:
        t0 = time.time()
        eq(staff(b, fed), 200, "the session works while the primary is down (with the roles it had)")
        ok(time.time() - t0 < 2.5, f"answered without waiting for the primary ({time.time() - t0:.2f}s)")
        time.sleep(0.3)
    fed.primary.start()
    until(lambda: staff(b, fed) in (401, 403), 20, what="the change applies once the primary is back")
    # a hung primary: served from the session at once or within the wait bound, never stuck
    b2 = Browser()
    fed.primary.hubctl("user", "roles", "alice", "--add", "Employee")
    walk(b2, fed.url("A")).echo()
    fed.primary.freeze()
    try:
        time.sleep(TTL + 1)
        slow = []
        for i in range(8):
            t0 = time.time()
            eq(staff(b2, fed), 200, f"request {i} while the primary hangs")
            if time.time() - t0 > 2.5:
                slow.append(f"{i}: {time.time() - t0:.2f}s")
        ok(not slow, "requests waited for the hung primary: " + ", ".join(slow))
    finally:
        os.kill(fed.primary.proc.pid, signal.SIGCONT)
    fed.primary.hubctl("user", "disable", "alice")
    until(lambda: me(b2, fed).status == 401, 30, what="the session ends once the primary answers again")
    fed.finish()


def test_stop_while_refreshing():
    """The node stops cleanly while a session's refresh waits for a hung primary, with a request that gave up waiting
    and one still parked on it."""
    fed = federation()
    b = Browser()
    walk(b, fed.url("A")).echo()
    cookie = {"Cookie": "hub_secA_session=" + session_cookie(b), **JSON}
    node = fed["A"]
    fed.primary.freeze()
    try:
        time.sleep(TTL + 1)
        try:  # parked on the refresh, then the client goes away
            get(fed.url("A", "/auth/me"), headers=cookie, timeout=0.3)
        except OSError:
            pass
        answers = []

        def late():
            try:
                answers.append(get(fed.url("A", "/auth/me"), headers=cookie, timeout=5).status)
            except OSError as e:
                answers.append(repr(e))

        t = threading.Thread(target=late, daemon=True)
        t.start()
        time.sleep(0.1)
        rc = node.stop()
        t.join(10)
    finally:
        os.kill(fed.primary.proc.pid, signal.SIGCONT)
    log = open(node.log_path).read()
    ok("Sanitizer" not in log and "runtime error" not in log, "no sanitizer report:\n" + log[-3000:])
    eq(rc, 0, "the node exits 0")
    eq(answers, [200], "the parked request is answered from the session before the node exits")
    fed.finish()


class SpoilingProxy:
    """The primary as the secondary (and the browser) see it: forwards everything to the primary's port, except that
    refresh grants take the answers queued in spoil (one each, in order) instead of the primary's."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.target = None
        self.spoil, self.spoiled, self.passed = [], [], 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._handle(b"")

            def do_POST(self):
                self._handle(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def _handle(self, body):
                mode = None
                if self.command == "POST" and self.path == "/oauth2/token" and b"grant_type=refresh_token" in body:
                    with outer.lock:
                        mode = outer.spoil.pop(0) if outer.spoil else None
                        if mode is None:
                            outer.passed += 1
                        else:
                            outer.spoiled.append(mode)
                if mode is not None:
                    return outer.answer(self, mode)
                conn = http.client.HTTPConnection("127.0.0.1", outer.target, timeout=10)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
                conn.request(self.command, self.path, body=body if self.command == "POST" else None, headers=headers)
                r = conn.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()

    @staticmethod
    def answer(h, mode):
        if mode == "drop":  # the connection closes without an answer
            h.close_connection = True
            return
        if mode == "hang":  # longer than the node waits (5 s), then nothing
            time.sleep(7)
            h.close_connection = True
            return
        status, ctype, body = {
            "503": (503, "text/html", b"<h1>down for maintenance</h1>"),
            "502": (502, "text/html", b"<h1>bad gateway</h1>"),
            "404 html": (404, "text/html", b"<h1>not found</h1>"),
            "400 no error": (400, "text/html", b"<h1>bad request</h1>"),
            "200 garbage": (200, "application/json", b"{not json"),
            "200 no token": (200, "application/json", b'{"token_type":"Bearer"}'),
            "200 forged token": (200, "application/json", json.dumps({
                "access_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6Im5vcGUiLCJ0eXAiOiJhdCtqd3QifQ.eyJzdWIiOiJtYWxsb3J5In0.AAAA",
                "token_type": "Bearer", "expires_in": 3600}).encode()),
            "invalid_grant": (400, "application/json", b'{"error":"invalid_grant","error_description":"revoked"}'),
        }[mode]
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_refresh_answers_classified():
    """Refresh answers that are not the primary's word keep the session (503, 502, a dropped connection, a timeout,
    an HTML 404 or 400, garbage, no token, a token that does not verify); an OAuth refusal ends it."""
    proxy = SpoilingProxy()
    fed = Federation(names=("A",), primary_conf={"primary": {"access_token_ttl": f"{TTL}s"}, "node": {"public_url": proxy.url}},
                     secondary_conf={"server_url": proxy.url}, start=False)
    proxy.target = fed.primary.port
    fed.start()
    try:
        kept = ["503", "502", "drop", "404 html", "400 no error", "200 garbage", "200 no token", "200 forged token"]
        browsers = [Browser() for _ in kept]
        for b in browsers:
            walk(b, fed.url("A")).echo()
        with proxy.lock:
            proxy.spoil = list(kept)
        end = time.time() + 40
        while time.time() < end and len(proxy.spoiled) < len(kept):
            for i, b in enumerate(browsers):
                eq(staff(b, fed), 200, f"session {i} while refreshes get {proxy.spoiled}")
            time.sleep(0.2)
        eq(sorted(proxy.spoiled), sorted(kept), "every spoiled answer was used")
        passed = proxy.passed

        def all_revalidated():
            for i, b in enumerate(browsers):
                eq(staff(b, fed), 200, f"session {i} while answers are good again")
            return proxy.passed >= passed + len(kept)

        until(all_revalidated, 30, interval=0.3, what="every session re-validates once answers are good again")
        for i, b in enumerate(browsers):
            eq(staff(b, fed), 200, f"session {i} alive after re-validating")
            eq(me(b, fed).json()["sub"], me(browsers[0], fed).json()["sub"], "still alice (not the forged token's sub)")
        ok(not reuse_warnings(fed), "no refresh token presented twice:\n" + "\n".join(reuse_warnings(fed)))
        # a timeout: requests are answered meanwhile, the session stays
        b = browsers[0]
        with proxy.lock:
            proxy.spoil = ["hang"]
        until(lambda: staff(b, fed) == 200 and proxy.spoiled[-1:] == ["hang"], 3 * TTL, interval=0.3,
              what="a refresh meets the hang")
        for i in range(6):
            t0 = time.time()
            eq(staff(b, fed), 200, f"request {i} while the refresh hangs")
            ok(time.time() - t0 < 2.5, f"request {i} waited {time.time() - t0:.2f}s")
            time.sleep(0.3)
        # the primary's refusal ends the session it came for, and only that one
        time.sleep(TTL)
        with proxy.lock:
            proxy.spoil = ["invalid_grant"]
        until(lambda: sum(me(x, fed).status == 401 for x in browsers) == 1 and proxy.spoiled[-1:] == ["invalid_grant"], 20,
              interval=0.3, what="one session ended by the refusal")
        eq(sum(me(x, fed).status == 200 for x in browsers), len(browsers) - 1, "the others live on")
        fed.finish()
    finally:
        proxy.stop()


if __name__ == "__main__":
    run([test_roles_added_and_removed_apply, test_refused_refresh_ends_the_session, test_one_refresh_per_session,
         test_primary_down_then_back, test_refresh_answers_classified, test_stop_while_refreshing])
