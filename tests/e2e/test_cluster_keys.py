"""Primaries of a cluster (SPEC §9) on one store: two hubd processes on one LMDB data dir (LMDB is safe for several
processes), different node.name and listen, the same public_url and cluster secret, behind a stand-in load balancer.
Private keys are sealed in the store (no key file), both publish the same JWKS and sign with the same key, exactly one
makes each rotation's successor, hubctl keys revoke reaches both; a browser signed in through one continues through
the other. Refused: a primary with another cluster secret or none, a tampered sealed key (a clear error at start, no
key of its own); another cluster's cookies (not signed in, 4xx, never 5xx)."""
import base64
import json
import os
import re
import select
import socket
import subprocess
import threading
import time
import urllib.parse

from hubtest import HUBD, Browser, Node, eq, get, hubctl, ok, post, run, tmpdir
from test_token import PASSWORD, _inputs, basic, creds, jwt_parts

EVERY, AHEAD = 8, 2  # a short rotation period, so that the test sees several


class Switch:
    """A stand-in for the load balancer: one loopback port whose connections go to the primary chosen last."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.target = None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe, args=(c, self.target.port), daemon=True).start()

    @staticmethod
    def _pipe(c, port):
        with c, socket.create_connection(("127.0.0.1", port), timeout=10) as u:
            while True:
                ready, _, _ = select.select([c, u], [], [], 10)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (u if s is c else c).sendall(data)

    def close(self):
        self.sock.close()


def write_secret(path, raw=None):
    with open(path, "w") as f:
        f.write(base64.b64encode(raw or os.urandom(32)).decode() + "\n")
    os.chmod(path, 0o600)
    return path


class Cluster:
    def __init__(self):
        self.dir = tmpdir("hub-cluster-")
        self.data = os.path.join(self.dir, "data")
        self.secret = write_secret(os.path.join(self.dir, "cluster.secret"))
        self.lb = Switch()
        self.url = f"http://127.0.0.1:{self.lb.port}"
        hubctl(self.data, "init", "--alg", "ES256")  # a key file, sealed in by the first primary
        hubctl(self.data, "user", "add", "alice", "--email", "alice@example.com", input=PASSWORD + "\n")
        self.svc = creds(hubctl(self.data, "client", "add", "--app-name", "svc", "--grant-type", "client_credentials",
                                "--scopes", "read", "--redirect-uris", "").stdout)
        self.redirect = "http://127.0.0.1:9/cb"
        self.web = creds(hubctl(self.data, "client", "add", "--app-name", "web", "--redirect-uris", self.redirect,
                                "--skip-authorization").stdout)
        self.a = self.primary("pa").start()
        self.b = self.primary("pb").start()
        self.lb.target = self.a

    def conf(self, secret):
        primary = {"key_rotation": {"every": f"{EVERY}s", "publish_ahead": f"{AHEAD}s"}, "access_token_ttl": "30s",
                   "id_token_ttl": "30s"}
        if secret:
            primary["cluster_secret_file"] = secret
        return {"node": {"public_url": self.url}, "primary": primary}

    def primary(self, name, secret=True):
        return Node("primary", name=name, data_dir=self.data, conf=self.conf(self.secret if secret is True else secret))

    def keys(self):
        return json.loads(hubctl(self.data, "keys", "list", "--json").stdout)

    def key_files(self):
        d = os.path.join(self.data, "keys")
        return [n for n in os.listdir(d) if n.endswith(".pem")] if os.path.isdir(d) else []


def cc_kid(n, c):
    r = post(n.url + "/oauth2/token", form={"grant_type": "client_credentials"}, headers=basic(*c.svc))
    eq(r.status, 200, f"client_credentials at {n.name}: {r.text}")
    return jwt_parts(r.json()["access_token"])[0]["kid"], r.json()["access_token"]


def jwks(n):
    r = get(n.url + "/oauth2/jwks")
    eq(r.status, 200, "jwks")
    return {k["kid"]: k for k in r.json()["keys"]}


def active(n, tok, c):
    r = post(n.url + "/oauth2/introspect", form={"token": tok}, headers=basic(*c.svc))
    eq(r.status, 200, "introspect " + r.text)
    return r.json()["active"]


def wait(cond, what, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(what)


_cluster = None


def cluster():
    """The cluster the tests share (made once); its primaries started again when a test's end stopped them."""
    global _cluster
    if _cluster is None:
        _cluster = Cluster()
    c = _cluster
    for attr, name in (("a", "pa"), ("b", "pb")):
        n = getattr(c, attr)
        if n.proc is None or n.proc.poll() is not None:
            setattr(c, attr, c.primary(name).start())
    c.lb.target = c.a
    return c


def test_keys_sealed_and_shared():
    c = cluster()
    eq(c.key_files(), [], "private key files left in the data dir")
    ok(c.a.wait_log("now sealed in the store") or c.b.wait_log("now sealed in the store"), "the init key was sealed")
    wait(lambda: jwks(c.a) == jwks(c.b), "both primaries publish the same JWKS (the same public keys)")
    for _ in range(3):  # a rotation may fall between the two requests: then once more
        (ka, ta), (kb, tb) = cc_kid(c.a, c), cc_kid(c.b, c)
        if ka == kb:
            break
    eq(ka, kb, "both sign with the same key")
    ok(active(c.a, tb, c) and active(c.b, ta, c), "each verifies the other's tokens")


def keys_of(c):
    """The key list, and how many keys are next."""
    ks = c.keys()
    return ks, sum(1 for k in ks if k["state"] == "next")


def check_signers(c, ks, checked):
    """When a key has signed for a while and no next key is about to take over, both primaries sign with it."""
    now = time.time()
    act = [k for k in ks if k["state"] == "active"]
    nxt = [k for k in ks if k["state"] == "next" and k["activate_at"] and k["activate_at"] <= now + 1.5]
    if len(act) != 1 or nxt or not act[0]["activate_at"] or act[0]["activate_at"] > now - 1.5:
        return
    kid = act[0]["kid"]
    ka, kb = cc_kid(c.a, c)[0], cc_kid(c.b, c)[0]
    eq((ka, kb), (kid, kid), "both primaries sign with the active key")
    checked.add(kid)


def test_rotation_one_successor():
    """Both primaries rotate every EVERY seconds on one store: never two next keys, one successor per rotation."""
    c = cluster()
    first = {k["kid"] for k in c.keys()}
    most, checked, end = 0, set(), time.time() + 3 * EVERY
    while time.time() < end:
        jwks(c.a), jwks(c.b)  # served: a next key's publish_ahead counts from here
        ks, nxt = keys_of(c)
        most = max(most, nxt)
        check_signers(c, ks, checked)
        time.sleep(0.3)
    ok(most <= 1, f"{most} next keys at once: two primaries made a successor for one rotation")
    made = sorted(k["created_at"] for k in c.keys() if k["kid"] not in first)
    ok(len(made) >= 2, f"rotations happened: {made}")
    for x, y in zip(made, made[1:]):
        ok(y - x >= EVERY - AHEAD - 2, f"two successors {y - x}s apart: {made}")
    ok(len(checked) >= 2, f"both primaries were seen signing with each active key: {checked}")
    eq(c.key_files(), [], "private key files in the data dir")


def revoke(c, kid):
    out = hubctl(c.data, "keys", "revoke", kid).stdout
    new = re.search(r"signing: (\S+)", out)
    ok(new is not None, "a key took over: " + out)
    return new.group(1)


def test_revoke_reaches_both():
    """hubctl keys revoke (twice: the second one, at the latest, has no next key to hand over to and makes a key, sealed
    with the cluster secret the primaries named, after refused primaries named others) reaches both primaries."""
    c = cluster()
    for _ in range(2):
        before = {k["kid"] for k in c.keys()}
        kid, tok = cc_kid(c.a, c)
        new = revoke(c, kid)
        wait(lambda: kid not in jwks(c.a) and kid not in jwks(c.b), "the revoked key left both JWKS", 3)
        wait(lambda: cc_kid(c.a, c)[0] == new and cc_kid(c.b, c)[0] == new, "both sign with the successor", 3)
        ok(not active(c.a, tok, c) and not active(c.b, tok, c), "a token the revoked key signed is refused by both")
    ok(new not in before, "the second revocation made a key")
    eq(c.key_files(), [], "hubctl sealed the new key too (no key file)")


def sign_in(br, c):
    r = br.get(c.url + "/login")
    eq(r.status, 200, "login page")
    form = _inputs(r.text)
    form.update(username="alice", password=PASSWORD)
    r = br.post(c.url + "/login", form=form, follow=False)
    eq(r.status, 302, "signed in: " + r.text[:200])
    return r


def authorize(br, c):
    q = urllib.parse.urlencode({"client_id": c.web[0], "response_type": "code", "redirect_uri": c.redirect,
                                "scope": "openid", "state": "s1", "nonce": "n1"})
    return br.get(c.url + "/oauth2/authorize?" + q, follow=False)


def code_of(r, c):
    loc = r.header("location") or ""
    ok(r.status == 302 and loc.startswith(c.redirect), f"a code for the client, not {r.status} {loc}")
    return urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)["code"][0]


def test_session_across_primaries():
    """Signed in through A, authorized through B, the code redeemed at A: one session, one store, one cookie name."""
    c = cluster()
    br = Browser()
    c.lb.target = c.a
    sign_in(br, c)
    names = sorted(br.cookies["127.0.0.1"])
    ok(all(n.startswith("hub_c.") for n in names) and not any("pa" in n or "pb" in n for n in names),
       f"cookies named after the cluster: {names}")
    c.lb.target = c.b
    code = code_of(authorize(br, c), c)
    c.lb.target = c.a
    r = post(c.url + "/oauth2/token", form={"grant_type": "authorization_code", "code": code, "redirect_uri": c.redirect},
             headers=basic(*c.web))
    eq(r.status, 200, "code exchange at the other primary " + r.text)
    c.lb.target = c.b
    r = br.get(c.url + "/login")
    eq(sorted(br.cookies["127.0.0.1"]), names, "B names its cookies as A does")


def other_cluster():
    d = tmpdir("hub-cluster-x-")
    x = Node("primary", name="pa", data_dir=os.path.join(d, "data"),
             conf={"primary": {"cluster_secret_file": write_secret(os.path.join(d, "x.secret"))}})
    x.hubctl("init", "--alg", "ES256")
    x.hubctl("user", "add", "alice", "--email", "alice@example.com", input=PASSWORD + "\n")
    return x.start()


def test_other_cluster_cookies():
    """A session and a sign-in form of another cluster (another public_url and secret, the same node.name) count for
    nothing here: not signed in, however the cookies are renamed; a clear 4xx, never a 5xx."""
    c = cluster()
    c.lb.target = c.a
    x = other_cluster()
    bx = Browser()
    r = bx.get(x.url + "/login")
    form = _inputs(r.text)
    form.update(username="alice", password=PASSWORD)
    eq(bx.post(x.url + "/login", form=form, follow=False).status, 302, "signed in at the other cluster")
    xnames = dict(bx.cookies["127.0.0.1"])
    r = authorize(bx, c)
    ok(r.status == 302 and "/login" in r.header("location"), "the other cluster's session is not ours: " + repr(r))
    ours = Browser()
    ours.get(c.url + "/login")
    prefix = next(iter(ours.cookies["127.0.0.1"])).rsplit("_", 1)[0]
    ok(not any(n.startswith(prefix) for n in xnames), f"other names: {xnames} / {prefix}")
    # the other cluster's session, renamed to our session cookie
    forged = Browser()
    forged.cookies["127.0.0.1"] = {prefix + "_" + n.rsplit("_", 1)[1]: v for n, v in xnames.items()}
    r = authorize(forged, c)
    ok(r.status == 302 and "/login" in r.header("location"), "a renamed foreign session: " + repr(r))
    # the other cluster's sign-in form with its pre-session, renamed to ours: the form has expired
    bx2 = Browser()
    token = _inputs(bx2.get(x.url + "/login").text)["csrf_token"]
    pre = next(v for n, v in bx2.cookies["127.0.0.1"].items() if n.endswith("_csrf"))
    forged = Browser()
    forged.cookies["127.0.0.1"] = {prefix + "_csrf": pre}
    r = forged.post(c.url + "/login", form={"csrf_token": token, "username": "alice", "password": PASSWORD}, follow=False)
    eq(r.status, 400, "a foreign form at sign-in " + r.text[:200])
    x.stop()


def refused_start(c, node, needle):
    node.start(expect_ready=False)
    try:
        rc = node.proc.wait(20)
    except subprocess.TimeoutExpired:
        node.kill()
        raise AssertionError(f"{node.name} started: " + node.log())
    node._reader.join(5)
    eq(rc, 1, f"{node.name}'s exit code")
    ok(needle in node.log(), f"{node.name} says why: {needle!r} in\n{node.log()}")
    node.stop()


def test_wrong_secret_or_none():
    c = cluster()
    before = {k["kid"] for k in c.keys()}
    other = write_secret(os.path.join(c.dir, "other.secret"))
    refused_start(c, c.primary("pc", other), "the cluster secret does not open key")
    refused_start(c, c.primary("pd", None), "is sealed in the store with a cluster secret, and this node has none")
    group = write_secret(os.path.join(c.dir, "group.secret"))
    os.chmod(group, 0o640)
    pe = c.primary("pe", group)
    pe.write_conf()
    p = subprocess.run([HUBD, "--check", "-c", pe.conf_path],
                       capture_output=True, text=True, timeout=30)
    eq(p.returncode, 2, "hubd --check of an exposed secret")
    ok("primary.cluster_secret_file: " in p.stderr and "chmod 600" in p.stderr, p.stderr)
    made = [k for k in c.keys() if k["kid"] not in before and k["state"] != "next"]  # the primaries rotate meanwhile
    eq(made, [], "no key was made by a refused primary (one of its own would sign at once)")
    eq(c.key_files(), [], "no key file was made")


def tamper(c, kid):
    """Flips one character of kid's sealed box in the store, with LMDB's own tools (mdb_dump/mdb_load)."""
    dump = subprocess.run(["mdb_dump", "-p", "-s", "key_secrets", c.data], capture_output=True, text=True, check=True,
                          timeout=30).stdout
    lines = [line for line in dump.split("\n") if not line.startswith("db_pagesize=")]  # mdb_load reads no such key
    i = lines.index(" " + kid) + 1
    m = re.search(r'"box":"([A-Za-z0-9_-]{40})', lines[i])
    ok(m is not None, "a sealed box: " + lines[i][:80])
    j = m.start(1) + 30
    lines[i] = lines[i][:j] + ("A" if lines[i][j] != "A" else "B") + lines[i][j + 1:]
    subprocess.run(["mdb_load", "-s", "key_secrets", c.data], input="\n".join(lines), text=True, check=True,
                   timeout=30)


def test_tampered_sealed_key():
    c = cluster()
    kid = next(k["kid"] for k in c.keys() if k["state"] == "active")
    tamper(c, kid)
    refused_start(c, c.primary("pf"), f"the cluster secret does not open key {kid}")


if __name__ == "__main__":
    try:
        run([test_keys_sealed_and_shared, test_session_across_primaries, test_rotation_one_successor,
             test_wrong_secret_or_none, test_revoke_reaches_both, test_other_cluster_cookies, test_tampered_sealed_key])
    finally:
        if _cluster is not None:
            _cluster.lb.close()
