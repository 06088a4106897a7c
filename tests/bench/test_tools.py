"""Smoke tests of the bench tools (benches are not tests; these check the tools work, never their speed): bench-flowload
runs each flow end to end against a real primary for about a second with no failure, and reports a failure of each
kind it is meant to catch (exit 1, the kind named); bench-gen-store writes users, clients, sessions and refresh tokens
the node reads and signs in with; bench-commit commits."""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from hubtest import BUILD_DIR, Node, hubctl, run, tmpdir, ok, eq  # noqa: E402

FLOWLOAD = os.path.join(BUILD_DIR, "bench-flowload")
GEN_STORE = os.path.join(BUILD_DIR, "bench-gen-store")
COMMIT = os.path.join(BUILD_DIR, "bench-commit")
PASSWORD = "smoke test password 1"
REDIRECT = "http://127.0.0.1:9/cb"
LOGIN = {"max_failures": 1000, "address_max_failures": 1000000, "max_checks_per_second": 100000, "max_queued": 1000}


def secret_file(d, name, value):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(value + "\n")
    return path


def creds(out):
    return re.search(r"client_id:\s*(\S+)", out).group(1), re.search(r"client_secret:\s*(\S+)", out).group(1)


class Primary:
    """One primary for the flowload tests: two users, a code-flow client with skip_authorization, one without it, a
    client_credentials client."""

    def __init__(self):
        self.node = Node("primary", "smoke", conf={"primary": {"signing_alg": "ES256", "login": LOGIN}})
        self.node.hubctl("init", "--alg", "ES256")
        self.dir = self.node.dir
        self.pw = secret_file(self.dir, "pw", PASSWORD)
        for u in ("smoke0", "smoke1"):
            self.node.hubctl("user", "add", u, "--email", f"{u}@example.com", "--password-file", self.pw)
        self.code = self.client("code", "--redirect-uris", REDIRECT, "--skip-authorization")
        self.consent = self.client("consent", "--redirect-uris", REDIRECT)
        self.cc = self.client("cc", "--grant-type", "client_credentials", "--redirect-uris", "", "--scopes", "roles")
        self.node.start()

    def client(self, name, *args):
        cid, secret = creds(self.node.hubctl("client", "add", "--app-name", name, *args).stdout)
        return cid, secret_file(self.dir, name + ".secret", secret)


P = None


def primary():
    """The test's primary (the harness stops every node after each test, so each test starts its own)."""
    global P
    if P is None or P.node.proc is None or P.node.proc.poll() is not None:
        P = Primary()
    return P


def flowload(mode, client, *extra, url=None, password=None, users=("--user-prefix", "smoke", "--user-count", "2",
                                                                    "--user-digits", "0"), during=None):
    """Runs bench-flowload (-c 4, 1 s) against the primary; during(), when given, runs half a second into the measured
    window. Its result line as a dict, with failure_kinds and rc."""
    p = primary()
    cmd = [FLOWLOAD, "--url", url or p.node.url, "--mode", mode, "-c", "4", "-d", "1", "--warmup", "0.2",
           "--client-id", client[0], "--client-secret-file", client[1], "--node-pid", str(p.node.proc.pid), "--setup-timeout", "20"]
    if mode != "cc":
        cmd += ["--redirect-uri", REDIRECT, "--scope", "openid profile email roles", "--password-file", password or p.pw,
                *users]
    proc = subprocess.Popen(cmd + list(extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if during is not None:
        ok(p.node.wait_log("/oauth2/token", 20), "no token request reached the node")
        time.sleep(0.7)
        during()
    out, err = proc.communicate(timeout=120)
    m = re.search(r"^result (.*)$", out, re.M)
    ok(m is not None, f"no result line: {out}{err}")
    res = dict(kv.split("=", 1) for kv in m.group(1).split())
    res["failure_kinds"] = dict(re.findall(r"^failure (\S+) (\d+)$", out, re.M))
    res["rc"] = proc.returncode
    return res


# ---- bench-flowload: every flow works ----

def test_each_flow_runs_without_failure():
    p = primary()
    per_flow = {"signin": 4, "sso": 2, "refresh": 1, "introspect": 1, "cc": 1}
    for mode, reqs in per_flow.items():
        r = flowload(mode, p.cc if mode == "cc" else p.code)
        eq(r["rc"], 0, f"{mode}: exit code ({r})")
        eq(r["failures"], "0", f"{mode}: failures")
        ok(int(r["flows"]) > 0, f"{mode}: no flow completed")
        ok(abs(float(r["requests_per_flow"]) - reqs) < 0.5, f"{mode}: {r['requests_per_flow']} requests per flow, not {reqs}")
        ok(float(r["node_cpu_pct"]) >= 0, f"{mode}: the node's CPU was not read")
    # the sign-ins really happened at the node
    ok(p.node.wait_log("signed in", 1), "no sign-in in the node's log")


# ---- bench-flowload: what it must catch ----

def test_failures_are_counted_by_kind():
    p = primary()
    d = p.dir
    cases = [
        ("a wrong client secret", dict(mode="signin", client=(p.code[0], secret_file(d, "bad", "not-the-secret"))),
         "token_code:status_401"),
        ("a wrong password", dict(mode="signin", client=p.code, password=secret_file(d, "badpw", "wrong password")),
         "login_post:status_401"),
        ("an unknown user", dict(mode="signin", client=p.code, users=("--user", "nobody")), "login_post:status_401"),
        ("a consent page instead of a code", dict(mode="signin", client=p.consent), "resume:status_200"),
        ("an unknown client", dict(mode="sso", client=("no-such-client", p.code[1])), "authorize:status_400"),
        ("client_credentials for a code client", dict(mode="cc", client=p.code), "client_credentials:status_400"),
    ]
    for what, kw, kind in cases:
        mode, client = kw.pop("mode"), kw.pop("client")
        r = flowload(mode, client, "--setup-timeout", "3", **kw)
        eq(r["rc"], 1, f"{what}: exit code")
        ok(int(r["failures"]) > 0 and kind in r["failure_kinds"], f"{what}: expected {kind}, got {r['failure_kinds']}")
    # nobody listening
    r = flowload("cc", p.cc, url="http://127.0.0.1:9")
    eq(r["rc"], 1, "closed port: exit code")
    ok("conn:connect" in r["failure_kinds"], f"closed port: {r['failure_kinds']}")


def test_revocation_mid_run_is_caught():
    """Users disabled while the flows run: their refresh chains stop (invalid_grant) and their access tokens introspect
    inactive; the driver counts both."""
    p = primary()

    def disable():
        for u in ("smoke0", "smoke1"):
            p.node.hubctl("user", "disable", u)

    def enable():
        for u in ("smoke0", "smoke1"):
            p.node.hubctl("user", "enable", u)

    for mode, kind in (("refresh", "refresh:status_400"), ("introspect", "introspect:not_active")):
        r = flowload(mode, p.code, "-d", "2", during=disable)
        eq(r["rc"], 1, f"{mode}: exit code")
        ok(kind in r["failure_kinds"], f"{mode}: expected {kind}, got {r['failure_kinds']}")
        enable()


def test_bad_usage():
    p = primary()
    for args in (["--mode", "sso"], ["--url", "http://localhost:80", "--mode", "cc"], ["--url", p.node.url, "--mode", "nope"],
                 ["--url", p.node.url, "--mode", "cc", "--client-id", "x", "--client-secret-file", "/nonexistent"],
                 ["--url", p.node.url, "--mode", "sso", "--client-id", "x", "--client-secret-file", p.pw, "-c", "0"]):
        r = subprocess.run([FLOWLOAD] + args, capture_output=True, text=True, timeout=30)
        eq(r.returncode, 2, f"{args}: exit code ({r.stderr.strip()})")
        ok(r.stderr.startswith("flowload: "), f"{args}: one line on stderr: {r.stderr!r}")


# ---- bench-gen-store ----

def entries(data_dir):
    out = subprocess.run(["mdb_stat", "-a", data_dir], capture_output=True, text=True).stdout
    found, name = {}, None
    for line in out.splitlines():
        m = re.match(r"Status of (\S+)", line)
        name = m.group(1) if m else name
        m = re.match(r"\s+Entries: (\d+)", line)
        if m:
            found[name] = int(m.group(1))
    return found


def test_gen_store_writes_what_the_node_reads():
    d = tmpdir("hub-bench-gen-")
    data = os.path.join(d, "data")
    pw = secret_file(d, "pw", PASSWORD)
    r = subprocess.run([GEN_STORE, "-d", data, "--users", "40", "--password-file", pw], capture_output=True, text=True,
                       timeout=120)
    eq(r.returncode, 1, "an uninitialised data dir (no roles) is refused")
    ok("hubctl init" in r.stderr, f"the refusal says what to do: {r.stderr!r}")
    hubctl(data, "init", "--alg", "ES256")
    r = subprocess.run([GEN_STORE, "-d", data, "--users", "40", "--clients", "5", "--sessions", "20", "--refresh", "200",
                        "--expiring", "10", "--expire-in", "3600", "--password-file", pw, "--batch", "7"],
                       capture_output=True, text=True, timeout=300)
    eq(r.returncode, 0, f"gen-store: {r.stderr}")
    ok("generated users=40 clients=5 sessions=20 refresh=200 expiring=10" in r.stdout, r.stdout)
    e = entries(data)
    eq((e["users"], e["users_by_name"], e["clients"], e["sessions"], e["refresh"], e["families"]), (40, 40, 5, 40, 210, 210),
       "records per table (a session is two records)")
    eq(e.get("owner_index"), 20 + 210, "every session under its user, every family under its client")
    eq(e.get("user_families"), 210, "every family under its user and client")
    users = hubctl(data, "user", "list").stdout
    eq(len(re.findall(r"^user00000\d\d ", users, re.M)), 40, "hubctl lists the generated users")
    # a second run without users or clients gives its tokens to those in the store
    r = subprocess.run([GEN_STORE, "-d", data, "--refresh", "50", "--quiet"], capture_output=True, text=True, timeout=120)
    eq(r.returncode, 0, f"second gen-store: {r.stderr}")
    eq(entries(data)["refresh"], 260, "refresh tokens added to the store")
    # the node signs the generated users in with the password, and they get tokens
    node = Node("primary", "gen", conf={"primary": {"signing_alg": "ES256", "login": LOGIN}}, data_dir=data)
    cid, secret = creds(hubctl(data, "client", "add", "--app-name", "g", "--redirect-uris", REDIRECT,
                               "--skip-authorization").stdout)
    node.start()
    res = subprocess.run([FLOWLOAD, "--url", node.url, "--mode", "signin", "-c", "4", "-d", "1", "--warmup", "0.2",
                          "--client-id", cid, "--client-secret-file", secret_file(d, "s", secret), "--redirect-uri", REDIRECT,
                          "--password-file", pw, "--user-prefix", "user", "--user-count", "40"],
                         capture_output=True, text=True, timeout=120)
    eq(res.returncode, 0, f"sign-ins of generated users: {res.stdout}")
    eq(node.stop(), 0, "the node on a generated store exits 0")
    with open(node.log_path, errors="replace") as f:
        ok("indexing the token families" not in f.read(), "a generated store is indexed already: the node builds nothing")
    for args in (["--users", "1"], ["-d", data, "--expiring", "5"], ["-d", data, "--users", "x"], ["-d", data, "--bogus"]):
        r = subprocess.run([GEN_STORE] + args, capture_output=True, text=True, timeout=30)
        ok(r.returncode != 0 and r.stderr, f"{args}: refused with a message ({r.returncode})")


def test_commit_rate_commits():
    d = tmpdir("hub-bench-commit-")
    r = subprocess.run([COMMIT, "-D", os.path.join(d, "data"), "-d", "0.3"], capture_output=True, text=True, timeout=60)
    eq(r.returncode, 0, r.stderr)
    m = re.search(r"commits (\d+) rate ([\d.]+)", r.stdout)
    ok(m is not None and int(m.group(1)) > 0, f"bench-commit: {r.stdout}")
    eq(entries(os.path.join(d, "data"))["codes"], int(m.group(1)), "one record per commit")


if __name__ == "__main__":
    run([test_each_flow_runs_without_failure, test_failures_are_counted_by_kind, test_revocation_mid_run_is_caught,
         test_bad_usage,
         test_gen_store_writes_what_the_node_reads, test_commit_rate_commits])
