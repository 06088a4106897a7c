"""The primary's signing keys (SPEC §4 JWKS, §2 hubctl keys): a next key signs only publish_ahead after the JWKS first
served it, durably across a restart; hubctl keys revoke takes a key out of the JWKS at once, every token it signed is
refused, a new key signs, and every registered node is told (POST <origin>/auth/jwks-changed), also when the
revocation was made while no primary ran."""
import json
import os
import re
import time
from http.server import BaseHTTPRequestHandler

from hubtest import Node, eq, get, ok, post, request, run, serve_http
from test_token import PASSWORD, basic, creds, get_code, jwt_parts, pkce

PUBLISH_AHEAD = 3


class Receiver:
    """A stand-in for a registered node on its own loopback origin: records every request it gets."""

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self):
                n = int(self.headers.get("Content-Length") or 0)
                outer.requests.append((self.command, self.path, self.rfile.read(n) if n else b""))
                self.send_response(204)
                self.end_headers()

            do_GET = do_POST = _record

            def log_message(self, *args):
                pass

        self.httpd = serve_http(Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = self.httpd.thread

    def count(self, path="/auth/jwks-changed"):
        return sum(1 for m, p, _ in list(self.requests) if m == "POST" and p == path)

    def wait(self, n, timeout=10):
        end = time.time() + timeout
        while time.time() < end and self.count() < n:
            time.sleep(0.05)
        return self.count()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def jwks_kids(n):
    r = get(n.url + "/oauth2/jwks")
    eq(r.status, 200, "jwks")
    return {k["kid"] for k in r.json()["keys"]}


def make_primary(name):
    n = Node("primary", name=name, conf={"primary": {"key_rotation": {"every": "30d", "publish_ahead": f"{PUBLISH_AHEAD}s"}}})
    n.hubctl("init", "--alg", "ES256")
    n.hubctl("role", "add", "Employee")
    n.hubctl("user", "add", "alice", "--email", "alice@example.com", "--role", "Employee", input=PASSWORD + "\n")
    n.svc = creds(n.hubctl("client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes", "read",
                           "--redirect-uris", "").stdout)
    n.redirect = "http://127.0.0.1:9/cb"
    n.web = creds(n.hubctl("client", "add", "--app-name", "web", "--redirect-uris", n.redirect,
                           "--skip-authorization").stdout)
    n.start()
    return n


def cc_token(n):
    r = post(n.url + "/oauth2/token", form={"grant_type": "client_credentials"}, headers=basic(*n.svc))
    eq(r.status, 200, "client_credentials " + r.text)
    return r.json()["access_token"]


def user_tokens(n):
    """An access token and an id_token of alice for the web client (the code flow with PKCE)."""
    verifier, challenge = pkce()
    code = get_code(n, n.web[0], challenge=challenge)
    r = post(n.url + "/oauth2/token", form={"grant_type": "authorization_code", "code": code, "redirect_uri": n.redirect,
                                            "code_verifier": verifier}, headers=basic(*n.web))
    eq(r.status, 200, "code exchange " + r.text)
    return r.json()["access_token"], r.json()["id_token"]


def kid_of(tok):
    return jwt_parts(tok)[0]["kid"]


def register_node(n, receiver):
    out = n.hubctl("node", "join-token", "--name", "rcv").stdout
    jt = re.findall(r"[A-Za-z0-9_-]{40,}", out)[-1]
    md = {"client_name": "rcv", "redirect_uris": [receiver.origin + "/auth/callback"],
          "backchannel_logout_uri": receiver.origin + "/auth/backchannel-logout",
          "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
          "token_endpoint_auth_method": "client_secret_basic"}
    r = post(n.url + "/oauth2/register", body=json.dumps(md),
             headers={"Content-Type": "application/json", "Authorization": "Bearer " + jt})
    eq(r.status, 201, "node registration " + r.text)
    return r.json()["client_id"]


def test_next_key_counts_from_first_serving():
    n = make_primary("served")
    old = kid_of(cc_token(n))
    out = n.hubctl("keys", "rotate").stdout
    new = re.search(r"next: (\S+)", out).group(1)
    k = n.keys()[new]
    eq((k["state"], k["first_served"], k["activate_at"]), ("next", None, None), "a next key waits for the JWKS")
    # written more than publish_ahead ago but never served: the old key keeps signing (counting from the write signed
    # with the new key here)
    time.sleep(PUBLISH_AHEAD + 1.5)
    for _ in range(3):
        eq(kid_of(cc_token(n)), old, "never served: the old key signs")
    eq(n.keys()[new]["state"], "next", "still next")
    # a HEAD delivers no key: it starts nothing
    eq(request("HEAD", n.url + "/oauth2/jwks").status, 200, "HEAD /oauth2/jwks")
    time.sleep(1.5)
    eq(n.keys()[new]["first_served"], None, "a HEAD does not count as serving")
    # the JWKS serves it now: it signs publish_ahead later, not a second before
    t0 = time.time()
    ok(new in jwks_kids(n), "the next key is published")
    t1 = time.time()
    switched = None
    deadline = t0 + PUBLISH_AHEAD + 8
    while time.time() < deadline:
        tok = cc_token(n)
        received = time.time()
        if kid_of(tok) == new:
            ok(received >= t0 + PUBLISH_AHEAD,
               f"signed {received - t0:.2f} s after the JWKS first served it (publish_ahead {PUBLISH_AHEAD} s)")
            switched = received
            break
        eq(kid_of(tok), old, "the old key until then")
        time.sleep(0.1)
    ok(switched is not None, "the new key signs once publish_ahead has passed")
    k = n.keys()[new]
    ok(int(t0) < k["first_served"] <= int(t1) + 1, f"first_served rounded up: {k['first_served']} for {t0:.2f}..{t1:.2f}")
    eq(k["activate_at"], k["first_served"] + PUBLISH_AHEAD, "activates publish_ahead after the first serving")
    eq((k["state"], n.keys()[old]["state"]), ("active", "retiring"), "states")
    # recorded once and durably: later servings and a restart keep it
    served = k["first_served"]
    jwks_kids(n)
    eq(n.stop(), 0, "clean stop")
    n.start()
    jwks_kids(n)
    time.sleep(1.5)
    eq(n.keys()[new]["first_served"], served, "first_served survives a restart and later servings")
    eq(kid_of(cc_token(n)), new, "the new key signs after the restart")
    n.stop()


def test_revoke():
    n = make_primary("revoke")
    rcv, other = Receiver(), Receiver()
    try:
        register_node(n, rcv)
        gone = register_node(n, other)
        n.hubctl("node", "revoke", gone)  # a revoked node is not told
        at, idt = user_tokens(n)
        cc = cc_token(n)
        kid = kid_of(at)
        eq(kid_of(cc), kid, "one signing key")
        eq(get(n.url + "/oauth2/userinfo", headers={"Authorization": "Bearer " + at}).status, 200, "userinfo before")
        # usage errors: exit 2, naming the argument; nothing changes
        for args, what in ((("no-such-kid",), "KID"), ((), "KID"), ((kid, "extra"), "extra")):
            p = n.hubctl("keys", "revoke", *args, check=False)
            eq(p.returncode, 2, f"keys revoke {args}: exit code")
            ok(what in p.stderr, f"keys revoke {args} names {what}: {p.stderr}")
        eq(n.keys()[kid]["state"], "active", "nothing revoked by a usage error")
        ok(kid in n.private_keys(), "the store holds the private key of the active key")
        p = n.hubctl("keys", "revoke", kid)
        ok(f"revoked: {kid}" in p.stdout, "revoke output: " + p.stdout)
        new = re.search(r"signing: (\S+)", p.stdout).group(1)
        ok(new != kid, "a new key signs")
        t0 = time.time()
        while time.time() < t0 + 5 and kid in jwks_kids(n):
            time.sleep(0.1)
        ok(kid not in jwks_kids(n), "out of the JWKS")
        ok(time.time() - t0 < 3, f"out of the JWKS within seconds ({time.time() - t0:.2f} s)")
        ok(new in jwks_kids(n), "the new key is published")
        k = n.keys()[kid]
        ok(k["state"] == "revoked" and k["revoked_at"], "listed as revoked: " + json.dumps(k))
        ok(not os.path.exists(os.path.join(n.data_dir, "keys", kid + ".pem")), "its private key file is gone")
        ok(kid not in n.private_keys(), "the store holds its private key no more (either backend)")
        # every token it signed is refused
        r = get(n.url + "/oauth2/userinfo", headers={"Authorization": "Bearer " + at})
        eq((r.status, r.json().get("error")), (401, "invalid_token"), "userinfo refuses a token of the revoked key")
        r = post(n.url + "/oauth2/userinfo", form={"access_token": at})
        eq(r.status, 401, "userinfo (form) refuses it")
        for tok, who in ((at, n.web), (cc, n.svc)):
            r = post(n.url + "/oauth2/introspect", form={"token": tok}, headers=basic(*who))
            eq(r.json(), {"active": False}, "introspection: inactive")
        eq(post(n.url + "/oauth2/revoke", form={"token": at}, headers=basic(*n.web)).status, 200, "revocation answers 200")
        r = get(n.url + "/oauth2/logout?id_token_hint=" + idt)
        eq(r.status, 400, "an id_token of the revoked key is no logout hint")
        # the next tokens are signed by the new key and work
        at2, _ = user_tokens(n)
        eq((kid_of(at2), kid_of(cc_token(n))), (new, new), "the new key signs")
        eq(get(n.url + "/oauth2/userinfo", headers={"Authorization": "Bearer " + at2}).status, 200, "new token works")
        # the live node is told at once; the revoked one never
        eq(rcv.wait(1, 5), 1, "the node got POST /auth/jwks-changed")
        ok(n.wait_log("told 1 registered node", 5), "logged")
        # revoking it again tells the nodes again and changes nothing else
        p = n.hubctl("keys", "revoke", kid)
        ok("already" in p.stdout and "signing:" not in p.stdout, "repeated revoke: " + p.stdout)
        eq(rcv.wait(2, 5), 2, "told again")
        eq(kid_of(cc_token(n)), new, "still the new key")
        time.sleep(1.5)
        eq((rcv.count(), other.count()), (2, 0), "once per revocation, never to a revoked node")
        eq(n.keys()[kid]["state"], "revoked", "still revoked")
        # a next key takes over when the active key is revoked
        nxt = re.search(r"next: (\S+)", n.hubctl("keys", "rotate").stdout).group(1)
        p = n.hubctl("keys", "revoke", new)
        ok(f"signing: {nxt}" in p.stdout, "the next key signs at once: " + p.stdout)
        deadline = time.time() + 5
        while time.time() < deadline and kid_of(cc_token(n)) != nxt:
            time.sleep(0.1)
        eq(kid_of(cc_token(n)), nxt, "signed by the promoted next key")
        eq(rcv.wait(3, 5), 3, "told about the second revocation")
    finally:
        rcv.close()
        other.close()
    n.stop()


def test_revoke_while_down():
    n = make_primary("down")
    rcv = Receiver()
    try:
        register_node(n, rcv)
        kid = kid_of(cc_token(n))
        eq(n.stop(), 0, "stopped")
        p = n.hubctl("keys", "revoke", kid)
        ok("signing:" in p.stdout, "revoked while no primary runs: " + p.stdout)
        eq(rcv.count(), 0, "nobody told yet")
        n.start()
        eq(rcv.wait(1, 10), 1, "the node is told once the primary starts")
        ok(kid not in jwks_kids(n), "not published")
        ok(kid_of(cc_token(n)) != kid, "not signing")
        time.sleep(1.5)
        eq(rcv.count(), 1, "told once")
        # a restart does not tell it again
        n.stop()
        n.start()
        time.sleep(2)
        eq(rcv.count(), 1, "not again after a restart")
    finally:
        rcv.close()
    n.stop()


if __name__ == "__main__":
    run([test_next_key_counts_from_first_serving, test_revoke, test_revoke_while_down])
