"""Two primaries on one PostgreSQL behind haproxy (SPEC §9; the parts in tests/integration/cluster.py), a secondary
registered through haproxy in front of an upstream. A browser signed in through one primary continues through the
other, a code issued by one is redeemed at the other and its refresh token rotates on both; one rotation by hubctl
makes both sign with the new key; an unmodified relying party (openid-client, tests/rp) completes its flows through
haproxy; the database stopped and started again: /healthz 503 on both, haproxy still passes requests to the drained
primaries, which answer 503 with Retry-After and serve JWKS and discovery, the secondary keeps verifying and serving,
and all recover by themselves; kill -9 of one primary under a load of sign-ins, code flows and refresh chains through
haproxy: the load goes on through the other, and every token response that was received stays valid (its access token
introspects active, its refresh token or its chain's last one redeems)."""
import http.client
import os
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse

from cluster import (HAPROXY_CFG, PASSWORD, REDIRECT, USERS, Browser, Cluster, Nothing, access_log_errors, authorize,
                     authorize_url, cc, creds, form_fields, haproxy_check, introspect, jwks, jwt_claims, jwt_header, pkce,
                     redeem, refresh, request_or_none, secondary_sign_in, sign_in, token, unavailable, upstream_sub,
                     wait_for)
from hubtest import SOURCE_DIR, basic, eq, free_port, get, ok, post, run, tmpdir

RP_DIR = os.path.join(SOURCE_DIR, "tests", "rp")
TRANSIENT = (502, 503, 504)  # a primary gone under a request, or drained: the client tries again


def test_example_config():
    """conf/haproxy.cfg itself passes haproxy -c (the test's copy differs only in its addresses)."""
    valid, out = haproxy_check(HAPROXY_CFG)
    ok(valid, "haproxy -c conf/haproxy.cfg: " + out)


def check_across_primaries(c):
    a, b = c.a.url, c.b.url
    br = Browser()
    sign_in(br, a)
    names = sorted(br.cookies["127.0.0.1"])
    ok(names and all(n.startswith("hub_c.") for n in names), f"cookies named after the cluster: {names}")
    # signed in through a, authorized through b, the code redeemed at a, refreshed at b, then at a again
    verifier, challenge = pkce()
    code = authorize(br, b, c, challenge)
    r = redeem(a, c, code, verifier)
    eq(r.status, 200, "a code from b redeemed at a " + r.text)
    g = r.json()
    r = refresh(b, c, g["refresh_token"])
    eq(r.status, 200, "a's refresh token at b " + r.text)
    g2 = r.json()
    r = refresh(a, c, g2["refresh_token"])
    eq(r.status, 200, "b's refresh token at a " + r.text)
    g3 = r.json()
    for base, tok in ((b, g["access_token"]), (a, g2["access_token"]), (b, g3["access_token"])):
        eq(introspect(base, tok, c.web)["active"], True, "each primary knows the other's tokens")
        r = get(base + "/oauth2/userinfo", headers={"Authorization": "Bearer " + tok})
        eq((r.status, r.json().get("email")), (200, "alice@example.com"), "userinfo at " + base)
    # the reuse of a token b rotated, presented at a: the family is revoked on both
    r = refresh(a, c, g["refresh_token"])
    eq((r.status, r.json().get("error")), (400, "invalid_grant"), "a rotated token again")
    eq(introspect(b, g3["access_token"], c.web)["active"], False, "the family revoked everywhere")
    # the session works through haproxy too, and signing out through b ends it at a
    eq(br.get(c.url + "/account/", follow=False).status, 200, "the account page through haproxy")
    r = br.get(b + "/logout", follow=False)
    form = form_fields(r.text)
    form["decision"] = "yes"
    eq(br.post(b + "/logout", form=form, follow=False).status, 200, "signed out at b")
    r = br.get(a + "/account/", follow=False)
    ok(r.status == 302 and "/login" in (r.header("location") or ""), f"signed out at a too: {r.status}")
    # a secondary's sign-in through haproxy; the upstream hears alice
    sb, sub = secondary_sign_in(c)
    eq(upstream_sub(c, sb), sub, "the secondary's session")
    eq(sub, jwt_claims(g["id_token"])["sub"], "the same user")


def check_rotation(c):
    """hubctl keys rotate on one primary's configuration: both publish the next key, then both sign with it (publish_ahead
    2s after the JWKS first served it); the old key's tokens stay valid; the secondary takes the new key's tokens."""
    old, old_tok = cc(c.a.url, c)
    eq(cc(c.b.url, c)[0], old, "one signing key")
    out = c.a.hubctl("keys", "rotate").stdout
    new = out.split("next:", 1)[1].split()[0] if "next:" in out else None
    ok(new and new != old, "a next key: " + out)
    wait_for(lambda: new in jwks(c.a.url) and new in jwks(c.b.url), "both publish the next key", 10)
    wait_for(lambda: cc(c.a.url, c)[0] == new and cc(c.b.url, c)[0] == new, "both sign with the new key", 20, 0.3)
    eq(introspect(c.b.url, old_tok, c.svc)["active"], True, "the old key's token")
    _, new_tok = cc(c.url, c)
    r = get(c.s.url + "/auth/me", headers={"Authorization": "Bearer " + new_tok, "Accept": "application/json"})
    eq((r.status, r.json().get("sub")), (200, c.svc[0]), "the secondary verifies the new key's token")


def check_rp_library(c):
    """The unmodified openid-client relying party (tests/rp/rp.js) against the cluster through haproxy."""
    if shutil.which("node") is None or not os.path.isdir(os.path.join(RP_DIR, "node_modules", "openid-client")):
        ok(not os.environ.get("CI"), "node or tests/rp/node_modules missing (run tools/bootstrap)")
        print("skip: node or tests/rp/node_modules missing (run tools/bootstrap)", flush=True)
        return
    a = c.a
    rp_port = free_port()
    redirect, signed_out, bcl = (f"http://127.0.0.1:{rp_port}/{p}" for p in ("cb", "signed-out", "bcl"))
    web = creds(a.hubctl("client", "add", "--app-name", "rp", "--redirect-uris", redirect, "--scopes",
                         "openid profile email roles", "--post-logout-redirect-uris", signed_out,
                         "--no-skip-authorization").stdout)
    spa = creds(a.hubctl("client", "add", "--app-name", "rp-spa", "--redirect-uris", redirect, "--scopes",
                         "openid profile email roles", "--auth-method", "none", "--no-skip-authorization").stdout)
    svc = creds(a.hubctl("client", "add", "--app-name", "rp-svc", "--grant-type", "client_credentials", "--scopes", "read",
                         "--role", "Service", "--redirect-uris", "").stdout)
    imp = creds(a.hubctl("client", "add", "--app-name", "rp-implicit", "--grant-type", "implicit", "--response-type",
                         "token", "--redirect-uris", redirect, "--scopes", "openid profile", "--auth-method", "none",
                         "--no-skip-authorization").stdout)
    join = a.hubctl("node", "join-token", "--name", "rp-node").stdout.strip().split()[-1]
    pw = os.path.join(tmpdir("hub-rp-"), "password")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    cmd = ["node", os.path.join(RP_DIR, "rp.js"), "--issuer", c.url, "--alg", "ES256", "--username", "carol",
           "--password-file", pw, "--client-id", web[0], "--client-secret", web[1], "--public-client-id", spa[0],
           "--redirect-uri", redirect, "--post-logout-redirect-uri", signed_out, "--expect-consent", "yes",
           "--cc-client-id", svc[0], "--cc-client-secret", svc[1], "--implicit-client-id", imp[0], "--join-token", join,
           "--backchannel-logout-uri", bcl]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    print(p.stdout, end="", flush=True)
    ok(p.returncode == 0, f"rp.js exited {p.returncode}:\n{p.stderr}")
    ok("steps passed (ES256)" in p.stdout, "rp.js reported success")


def check_database_away(c):
    """The database stopped (pg_ctl stop -m fast) under the cluster, then started again."""
    g = fresh_grant(c, c.url)
    br, sub = secondary_sign_in(c, "bob")
    _, svc_tok = cc(c.url, c)
    docs = {p: get(c.a.url + p).json() for p in ("/oauth2/jwks", "/.well-known/openid-configuration")}
    c.lb.mark = c.lb.lines()
    c.pg.pause()
    for n in c.primaries():
        wait_for(lambda: get(n.url + "/healthz").status == 503, f"{n.name}'s /healthz says 503", 10)
    # haproxy's checks drain both (inter 1s, fall 2): then requests go to the backups, the same primaries
    wait_for(lambda: c.lb.said("Running on backup", since=c.lb.mark), "haproxy drained both primaries", 15)
    eq(get(c.url + "/healthz").status, 503, "haproxy passes /healthz to the drained primaries")
    for base in (c.a.url, c.b.url, c.url):
        unavailable(refresh(base, c, g["refresh_token"]), "refresh at " + base)
        unavailable(token(base, {"grant_type": "client_credentials"}, c.svc), "client_credentials at " + base)
        unavailable(post(base + "/oauth2/introspect", form={"token": svc_tok}, headers=basic(*c.svc)), "introspection")
        r = get(base + "/login", headers={"Accept": "text/html"})
        eq((r.status, r.header("retry-after")), (503, "1"), "the sign-in page at " + base)
        for p, before in docs.items():
            r = get(base + p)
            eq((r.status, r.json()), (200, before), f"{p} at {base} while the database is away")
    r = get(c.s.url + "/auth/me", headers={"Authorization": "Bearer " + svc_tok, "Accept": "application/json"})
    eq((r.status, r.json().get("sub") if r.status == 200 else None), (200, c.svc[0]), "the secondary verifies")
    eq(upstream_sub(c, br), sub, "the secondary's session reaches the upstream")
    c.pg.start()
    for n in c.primaries():
        wait_for(lambda: get(n.url + "/healthz").status == 200, f"{n.name} back", 15)
    eq(token(c.url, {"grant_type": "client_credentials"}, c.svc).status, 200, "a token through haproxy at once")
    wait_for(lambda: c.lb.said("is UP", 2, since=c.lb.mark), "haproxy sees both primaries up again", 15)
    r = refresh(c.url, c, g["refresh_token"])
    eq(r.status, 200, "the refresh token from before the outage " + r.text)
    eq(introspect(c.b.url, r.json()["access_token"], c.web)["active"], True, "its successor's access token")
    _, carol = secondary_sign_in(c, "carol")
    ok(carol and carol != sub, "a new sign-in through the secondary")


def fresh_grant(c, base, user="alice"):
    br = Browser()
    sign_in(br, base, user)
    verifier, challenge = pkce()
    r = redeem(base, c, authorize(br, base, c, challenge), verifier)
    eq(r.status, 200, "code flow " + r.text)
    return r.json()


class Load:
    """Refresh chains and code flows (each with a sign-in) through haproxy, in threads, until stop(). An answer lost to a
    primary gone under it (no answer, 502, 503, 504) is asked again: a refresh token once more (the retry within the
    grace), a code once more (a code a lost try redeemed is refused: nothing was received from it), a sign-in anew. Keeps
    every token response received, the live refresh token of each chain, and every refusal no lost answer explains."""

    def __init__(self, c, grants, users):
        self.c = c
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.received = []  # (time, kind, body)
        self.live = {}  # chain -> its last refresh token
        self.failures = []
        self.lost = 0
        self.threads = [threading.Thread(target=self._chain, args=(f"chain{i}", g["refresh_token"]), daemon=True)
                        for i, g in enumerate(grants)]
        self.threads += [threading.Thread(target=self._flows, args=(u,), daemon=True) for u in users]
        for t in self.threads:
            t.start()

    def _got(self, kind, chain, body):
        with self.lock:
            self.received.append((time.time(), kind, body))
            self.live[chain] = body["refresh_token"]

    def _fail(self, what, r):
        with self.lock:
            self.failures.append(f"{what}: {r.status} {r.text[:200]}")

    def _lost(self):
        with self.lock:
            self.lost += 1

    def _step(self, br, method, url, want, form=None):
        """br's request (through haproxy); the response when its status is want, else None: a lost answer counted, or a
        refusal recorded as a failure (self.failures)."""
        try:
            r = br.request(method, url, form=form, follow=False)
        except (OSError, http.client.HTTPException):
            r = None
        if r is not None and r.status == want:
            return r
        if r is None or r.status in TRANSIENT:
            self._lost()
        else:
            self._fail(f"{method} {url.split('?')[0]}", r)
        return None

    def _token(self, form):
        """The token endpoint's answer, asked again while it is lost (at most 10 tries): (response or None, retried)."""
        for i in range(10):
            r = request_or_none("POST", self.c.url + "/oauth2/token", form=form, headers=basic(*self.c.web), timeout=30)
            if r is not None and r.status not in TRANSIENT:
                return r, i != 0
            self._lost()
            time.sleep(0.05)
        return None, True

    def _chain(self, chain, rt):
        while not self.stopping.is_set():
            r, _ = self._token({"grant_type": "refresh_token", "refresh_token": rt})
            if r is None or r.status != 200:
                return self._fail(chain, r or Nothing)
            rt = r.json()["refresh_token"]
            self._got("refresh", chain, r.json())

    def _flow(self, user, n):
        """One sign-in and code flow; 0 when it ended (tokens, or a lost step: begun again), -1 on a failure."""
        br, base = Browser(), self.c.url
        verifier, challenge = pkce()
        r = self._step(br, "GET", base + "/login", 200)
        if r is not None:
            form = form_fields(r.text)
            form.update(username=user, password=PASSWORD)
            r = self._step(br, "POST", base + "/login", 302, form)
        if r is not None:
            r = self._step(br, "GET", authorize_url(self.c, challenge), 302)
        if r is None:
            return -1 if self.failures else 0
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(r.header("location")).query)["code"][0]
        r, retried = self._token({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                  "code_verifier": verifier})
        if r is not None and r.status == 200:
            self._got("code", f"{user}-{n}", r.json())
        elif r is None or r.status != 400 or not retried:
            self._fail(f"{user}'s code flow {n}", r or Nothing)
            return -1
        return 0

    def _flows(self, user):
        n = 0
        while not self.stopping.is_set() and self._flow(user, n) == 0:
            n += 1

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(60)
        ok(not any(t.is_alive() for t in self.threads), "the load stopped")


def check_kill_under_load(c):
    """kill -9 of one primary under the load: haproxy moves it to the other; every response received stays valid."""
    grants = [fresh_grant(c, c.url, u) for u in USERS]
    load = Load(c, grants, ("alice", "bob"))
    time.sleep(3)
    before = len(load.received)
    c.a.proc.send_signal(signal.SIGKILL)
    c.a.proc.wait(10)
    killed_at = time.time()
    time.sleep(4)
    load.stop()
    eq(load.failures, [], "refusals under the load")
    after = [k for t, k, _ in load.received if t > killed_at + 0.5]
    ok(before > 0 and "refresh" in after and "code" in after, f"the load went on through b: {before} before, "
                                                                 f"{len(after)} after ({sorted(set(after))})")
    print(f"load: {len(load.received)} token responses ({before} before the kill), {load.lost} answers lost and asked "
          "again", flush=True)
    keys = jwks(c.url)
    for _, kind, body in load.received:
        ok(jwt_header(body["access_token"])["kid"] in keys, "signed with a published key")
        eq(introspect(c.url, body["access_token"], c.web)["active"], True, f"a {kind} response's access token")
    for chain, rt in load.live.items():
        r = refresh(c.url, c, rt)
        eq(r.status, 200, f"{chain}'s last refresh token redeems after the kill: {r.text}")
    for n in c.primaries():
        eq(access_log_errors(n), [], f"{n.name}'s server errors")
    # the killed primary comes back and serves
    c.a.start()
    wait_for(lambda: get(c.a.url + "/healthz").status == 200, "a back", 10)
    g = fresh_grant(c, c.a.url, "carol")
    eq(refresh(c.b.url, c, g["refresh_token"]).status, 200, "a's grant refreshed at b")


CASES = (check_across_primaries, check_rotation, check_rp_library, check_database_away, check_kill_under_load)


def test_cluster():
    """The cases on one cluster, in order (each one's time printed); the cluster is stopped at the end."""
    c = Cluster()
    for case in CASES:
        start = time.time()
        case(c)
        print(f"     {case.__name__} ({time.time() - start:.2f}s)", flush=True)
    c.stop()


def main():
    run([test_example_config, test_cluster])


if __name__ == "__main__":
    main()
