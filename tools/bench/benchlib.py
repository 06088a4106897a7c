"""Shared helpers of the benchmark scripts: a Release build in build/bench, hubd nodes on
loopback with generated configs in a temp dir (always stopped), hubctl, wrk and
`openssl speed` runs with their output parsed, and a small table printer."""
import atexit
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
from hubtest import Browser, free_port, yaml_dump  # noqa: E402,F401  (the test harness's browser, config writer, port picker)
from hubtest import PgServer, pg_server  # noqa: E402,F401  (a throwaway PostgreSQL server: tests/support/pg-start)
from hubtest import request as hub_request  # noqa: E402,F401
# HUB_BENCH_BUILD: another build dir (say an older commit's, for a before/after; with HUB_BENCH_NO_BUILD=1)
BUILD = os.environ.get("HUB_BENCH_BUILD") or os.path.join(TOP, "build", "bench")
HUBD = os.path.join(BUILD, "hubd")
HUBCTL = os.path.join(BUILD, "hubctl")

_nodes = []
_tmpdirs = []


def _cleanup():
    for n in list(_nodes):
        n.kill()
    if os.environ.get("HUB_KEEP_TMP") != "1":
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def _on_signal(signum, frame):
    sys.exit(128 + signum)  # runs atexit, which stops the nodes


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)


def die(msg):
    print(f"{os.path.basename(sys.argv[0])}: {msg}", file=sys.stderr)
    sys.exit(1)


def build_commit(commit, targets=("hubd", "hubctl")):
    """A Release build of an older commit of this repository (git archive into build/commit-COMMIT/src, built in
    build/commit-COMMIT/build, targets only; reused when there); its build dir. Dies when git cannot give it."""
    top = os.path.join(TOP, "build", f"commit-{commit}")
    src, out = os.path.join(top, "src"), os.path.join(top, "build")
    if all(os.path.exists(os.path.join(out, t)) for t in targets):
        return out
    os.makedirs(src, exist_ok=True)
    arch = subprocess.run(["git", "-C", TOP, "archive", commit], capture_output=True)
    if arch.returncode != 0:
        die(f"git archive {commit}: {arch.stderr.decode(errors='replace').strip()} (a clone with the history is needed)")
    subprocess.run(["tar", "-x", "-C", src], input=arch.stdout, check=True)
    subprocess.run(["cmake", "-S", src, "-B", out, "-DCMAKE_BUILD_TYPE=Release"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", out, "-j2", "--target", *targets], check=True, stdout=subprocess.DEVNULL)
    return out


def build(extra_targets=()):
    """Configures and builds the Release tree in build/bench (hubd, hubctl and extra_targets only), unless
    HUB_BENCH_NO_BUILD=1."""
    if os.environ.get("HUB_BENCH_NO_BUILD") == "1":
        return
    subprocess.run(["cmake", "-S", TOP, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", BUILD, "-j2", "--target", "hubd", "hubctl", *extra_targets], check=True,
                   stdout=subprocess.DEVNULL)


def tmpdir(prefix="hub-bench-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


def hubctl(data_dir, *args, input=None, build=None):
    """Runs hubctl -d data_dir ARGS (build's hubctl, default HUBCTL); returns stdout, dies with its stderr on failure."""
    return run_hubctl(["-d", data_dir, *args], input=input, build=build)


def run_hubctl(args, input=None, build=None):
    r = subprocess.run([os.path.join(build, "hubctl") if build else HUBCTL, *args], input=input, capture_output=True, text=True)
    if r.returncode != 0:
        die(f"hubctl {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def cluster_secret(directory):
    """A new cluster secret (primary.cluster_secret_file: 32 random bytes, base64) in directory; its path."""
    return write_secret(directory, "cluster.secret", base64.b64encode(os.urandom(32)).decode())


def pid_cpu_seconds(pid):
    """User + system CPU time process pid has used so far (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pg_cpu_seconds(pg):
    """CPU time used so far by a PgServer's postmaster and its live children (backends, checkpointer, WAL writer)."""
    with open(os.path.join(pg.dir, "data", "postmaster.pid")) as f:
        master = int(f.readline())
    total = pid_cpu_seconds(master)
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == master:
                        total += pid_cpu_seconds(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return total


def creds(out):
    """client_id and client_secret from hubctl client add's output."""
    cid = re.search(r"client_id:\s*(\S+)", out)
    sec = re.search(r"client_secret:\s*(\S+)", out)
    if not cid or not sec:
        die(f"unexpected hubctl client add output: {out!r}")
    return cid.group(1), sec.group(1)


class Node:
    """A hubd process with a generated config; start() waits for its ready line, stop()
    sends SIGTERM. Every node still running at exit is killed."""

    def __init__(self, role, name, conf=None, data_dir=None, log_level="info", build=None):
        self.role, self.name = role, name
        self.build = build  # another build dir's hubd and hubctl (None: HUBD, HUBCTL)
        self.port = free_port()
        self.dir = tmpdir(f"hub-bench-{name}-")
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = {"node": {"role": role, "name": name, "listen": f"127.0.0.1:{self.port}", "public_url": self.url,
                              "data_dir": self.data_dir, "threads": 2, "log_level": log_level}}
        for section, values in (conf or {}).items():
            self.conf.setdefault(section, {}).update(values)
        self.proc = None
        self.log_path = os.path.join(self.dir, "hubd.log")

    def write_conf(self):
        conf_path = os.path.join(self.dir, "hub.yaml")
        with open(conf_path, "w") as f:
            f.write(yaml_dump(self.conf) + "\n")
        return conf_path

    def on_postgresql(self):
        return (self.conf.get("store") or {}).get("backend") == "postgresql"

    def use_postgresql(self, pg, conninfo=None, secret_file=None, pool=4):
        """Puts this primary's store in a database of pg (a PgServer; a new database unless conninfo names one) and
        gives it the cluster secret of secret_file (a new one unless given), as SPEC §9 wants of a PostgreSQL primary."""
        conninfo = conninfo or pg.database(self.name)
        self.conf["store"] = {"backend": "postgresql",
                              "postgresql": {"conninfo": conninfo, "password_file": pg.password_file, "pool": pool}}
        self.conf.setdefault("primary", {})["cluster_secret_file"] = secret_file or cluster_secret(self.dir)
        self.pg = pg
        return self

    def hubctl(self, *args, input=None):
        """hubctl on this node's store: -d DATA_DIR on LMDB, -c CONFIG on PostgreSQL; stdout (dies on failure)."""
        if self.on_postgresql():
            return run_hubctl(["-c", self.write_conf(), *args], input=input, build=self.build)
        return hubctl(self.data_dir, *args, input=input, build=self.build)

    def start(self, timeout=20):
        conf_path = self.write_conf()
        log = open(self.log_path, "w")
        hubd = os.path.join(self.build, "hubd") if self.build else HUBD
        self.proc = subprocess.Popen([hubd, "-c", conf_path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        _nodes.append(self)
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                die(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            with open(self.log_path, errors="replace") as f:
                if "listening on" in f.read():
                    return self
            time.sleep(0.05)
        die(f"{self.name}: no ready line within {timeout}s:\n{self.log_tail()}")

    def log_tail(self, n=20):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def cpu_seconds(self):
        """User + system CPU time the node has used so far."""
        return pid_cpu_seconds(self.proc.pid)

    def stop(self, timeout=20):
        """SIGTERM, then the exit code (killed after timeout)."""
        if self.proc is None:
            return None
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self in _nodes:
            _nodes.remove(self)
        self.proc = None
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in _nodes:
            _nodes.remove(self)


def http(method, url, body=None, headers=None, timeout=10):
    """(status, body text) of one request; HTTP errors are returned, not raised."""
    req = urllib.request.Request(url, data=body.encode() if isinstance(body, str) else body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def basic(cid, secret):
    q = urllib.parse.quote
    return "Basic " + base64.b64encode(f"{q(cid, safe='')}:{q(secret, safe='')}".encode()).decode()


def introspect_active(url, cid, secret, token):
    """True when the node's introspection endpoint (RFC 7662; it checks the signature) calls the token active."""
    status, text = http("POST", url + "/oauth2/introspect", "token=" + urllib.parse.quote(token),
                        {"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic(cid, secret)})
    try:
        return status == 200 and json.loads(text).get("active") is True
    except ValueError:
        return False


def jwt_header(token):
    seg = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def wait_ok(url, timeout=20):
    """Polls url until it answers 200; True when it did."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            if http("GET", url, timeout=2)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


def wrk(url, threads=2, conns=32, duration=10, script=None, headers=()):
    """Runs wrk and returns {requests, rps, non2xx, errors, p50_ms, p99_ms}."""
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--latency"]
    for h in headers:
        cmd += ["-H", h]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    if r.returncode != 0:
        die(f"wrk failed: {r.stderr.strip()}")
    out = r.stdout
    res = {"cmd": " ".join(cmd), "requests": 0, "rps": 0.0, "non2xx": 0, "errors": 0, "p50_ms": None, "p99_ms": None}
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    res["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    res["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["errors"] = sum(int(x) for x in m.groups()) if m else 0
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m:
            res[key] = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    res["raw"] = out
    return res


OPENSSL_ALGS = {"RS256": ("rsa2048", r"^rsa 2048 bits"), "ES256": ("ecdsap256", r"\(nistp256\)"),
                "EdDSA": ("ed25519", r"\(Ed25519\)")}


def openssl_signs(alg, seconds=3, multi=True):
    """Signatures per second of one process: `openssl speed -seconds N -multi 1 ...` divides by
    wall-clock time (so it feels the machine's other load, as the node does); without -multi,
    openssl divides by its CPU user time (signatures per CPU-second)."""
    name, pattern = OPENSSL_ALGS[alg]
    cmd = ["openssl", "speed", "-seconds", str(seconds)] + (["-multi", "1"] if multi else []) + [name]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 4 + 60)
    for line in r.stdout.splitlines():
        if re.search(pattern, line):
            return float(line.split()[-2]), " ".join(cmd)
    die(f"cannot parse {' '.join(cmd)}:\n{r.stdout}{r.stderr}")


def table(header, rows):
    """Prints rows (lists of str) under header, columns padded."""
    cols = [header] + rows
    widths = [max(len(str(r[i])) for r in cols) for i in range(len(header))]
    for r in cols:
        print("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
    print(flush=True)


WRK_POST_LUA = """-- POSTs the same form (answers are counted by wrk itself: non-2xx, socket errors).
wrk.method = "POST"
wrk.body = %(body)s
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = %(authz)s
"""


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk_post_script(directory, body, authz):
    """Writes a wrk Lua script that POSTs body with an Authorization header; returns its path."""
    path = os.path.join(directory, "post.lua")
    with open(path, "w") as f:
        f.write(WRK_POST_LUA % {"body": lua_str(body), "authz": lua_str(authz)})
    return path


def hubctl_ready():
    """True when this build's hubctl is the real one (not the placeholder that exits 1)."""
    r = subprocess.run([HUBCTL, "--help"], capture_output=True, text=True)
    return r.returncode == 0 or "usage" in (r.stdout + r.stderr).lower()


def cc_client(node, app_name="bench", scopes="roles", alg=None):
    """A client_credentials client (client_secret_basic) on a primary that is not started
    yet: through hubctl (init --alg, client add); (client_id, secret, how)."""
    args = ["init"] + (["--alg", alg] if alg else [])
    b_out = hubctl(node.data_dir, *args)
    del b_out
    out = hubctl(node.data_dir, "client", "add", "--app-name", app_name, "--grant-type", "client_credentials",
                 "--redirect-uris", "", "--scopes", scopes)
    return creds(out)


def cc_client_registered(node, app_name="bench", scopes="roles"):
    """The same through RFC 7591 registration on a running primary with
    registration.require_join_token false (used while hubctl is not built)."""
    md = {"client_name": app_name, "grant_types": ["client_credentials"], "response_types": [], "scope": scopes,
          "token_endpoint_auth_method": "client_secret_basic"}
    status, text = http("POST", node.url + "/oauth2/register", json.dumps(md), {"Content-Type": "application/json"})
    if status != 201:
        die(f"registration answered {status}: {text}")
    body = json.loads(text)
    return body["client_id"], body["client_secret"]


def fetch_token(url, cid, secret):
    """(status, parsed body) of one client_credentials request with client_secret_basic."""
    status, text = http("POST", url + "/oauth2/token", "grant_type=client_credentials",
                        {"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic(cid, secret)})
    try:
        return status, json.loads(text)
    except ValueError:
        return status, {"raw": text}


WRK_COLLECT_LUA = """-- POSTs the same form and appends each access_token to %(prefix)s<thread>.
wrk.method = "POST"
wrk.body = %(body)s
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = %(authz)s
local n = 0
function setup(thread) n = n + 1; thread:set("id", n) end
function init(args) out = io.open(%(prefix)s .. id, "w") end
function response(status, headers, body)
  local t = string.match(body, '"access_token":"([^"]+)"')
  if status == 200 and t then out:write(t, "\\n") end
end
"""

WRK_MANY_BEARER_LUA = """-- GETs with a different Bearer token from %(file)s on every request.
local tokens = {}
for line in io.lines(%(file)s) do tokens[#tokens + 1] = line end
local n = 0
function setup(thread) n = n + 1; thread:set("id", n) end
function init(args) i = (id * 7919) %% #tokens end
function request()
  i = i %% #tokens + 1
  return wrk.format("GET", nil, {["Authorization"] = "Bearer " .. tokens[i]})
end
"""


def collect_tokens(url, cid, secret, directory, want, seconds=30):
    """At least `want` distinct access tokens (client_credentials), collected by wrk; returns the
    path of a file with one per line."""
    prefix = os.path.join(directory, "tokens.")
    script = os.path.join(directory, "collect.lua")
    with open(script, "w") as f:
        f.write(WRK_COLLECT_LUA % {"prefix": lua_str(prefix), "body": lua_str("grant_type=client_credentials"),
                                   "authz": lua_str(basic(cid, secret))})
    tokens, end = set(), time.time() + seconds
    while len(tokens) < want and time.time() < end:
        wrk(url + "/oauth2/token", 2, 16, 3, script=script)
        for name in os.listdir(directory):
            if name.startswith("tokens."):
                with open(os.path.join(directory, name)) as f:
                    tokens.update(l.strip() for l in f if l.strip())
    if len(tokens) < want:
        die(f"collected {len(tokens)} tokens, wanted {want}")
    path = os.path.join(directory, "tokens.txt")
    with open(path, "w") as f:
        f.write("\n".join(sorted(tokens)[:want]) + "\n")
    return path


def wrk_many_bearer_script(directory, token_file):
    path = os.path.join(directory, "many.lua")
    with open(path, "w") as f:
        f.write(WRK_MANY_BEARER_LUA % {"file": lua_str(token_file)})
    return path


# ---- the flows (tools/bench/flows, tools/bench/bigstore): bench-flowload, bench-argon2, bench-commit ----

FLOW_PASSWORD = "correct horse battery staple"
FLOW_REDIRECT = "http://127.0.0.1:9/cb"  # never fetched: the driver reads the code from the Location
FLOW_SCOPE = "openid profile email roles"  # what a secondary asks for (secondary.scopes' default)
FLOW_TARGETS = ["hubd", "hubctl", "bench-argon2", "bench-flowload", "bench-commit", "bench-gen-store"]


def git_commit():
    """The source tree's commit (short), with "+changes" when the work tree differs from it."""
    head = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", TOP, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                           text=True).stdout.strip()
    return (head or "unknown") + ("+changes" if dirty else "")


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def write_secret(directory, name, value):
    """A file holding one secret (the driver reads secrets from files, never from its command line)."""
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return path


def flow_client(node, app_name="flows"):
    """An authorization_code client with skip_authorization (a signed-in browser gets a code without a consent page)
    and client_secret_basic, made with hubctl on the node's data dir; (client_id, path of its secret file)."""
    cid, secret = creds(node.hubctl("client", "add", "--app-name", app_name, "--redirect-uris", FLOW_REDIRECT,
                                    "--skip-authorization"))
    return cid, write_secret(node.dir, f"{app_name}.secret", secret)


# every request of a bench comes from 127.0.0.1: the per-address and node limits of sign-in are raised
FLOW_LOGIN = {"max_failures": 1000, "lockout": "1m", "address_max_failures": 1000000, "max_checks_per_second": 100000,
              "max_queued": 10000}
STORES = ("lmdb", "postgresql")


def flow_primary(name, alg, log_level="info", store="lmdb", users=4, pg=None, conf=None, build=None):
    """A primary for bench-flowload, not started: signing_alg alg, FLOW_LOGIN, conf merged over that; its store LMDB in
    its data dir, or (store "postgresql") a new database of pg (default: the shared throwaway server of hubtest's
    pg_server()); hubctl init and users bench0..bench{users-1} with FLOW_PASSWORD (node.password_file). build: another
    build dir's hubd and hubctl (an older commit's, for a side-by-side)."""
    node = Node("primary", name, conf={"primary": {"signing_alg": alg, "login": dict(FLOW_LOGIN)}}, log_level=log_level,
                build=build)
    for section, values in (conf or {}).items():
        node.conf.setdefault(section, {}).update(values)
    if store == "postgresql":
        node.use_postgresql(pg or pg_server())
    elif store != "lmdb":
        die(f"unknown store {store!r} (expected one of {', '.join(STORES)})")
    node.hubctl("init", "--alg", alg)
    node.password_file = write_secret(node.dir, "password", FLOW_PASSWORD)
    for i in range(users):
        node.hubctl("user", "add", f"bench{i}", "--email", f"bench{i}@example.com", "--password-file", node.password_file)
    return node


def cc_flow_client(node, app_name="flows-cc"):
    cid, secret = creds(node.hubctl("client", "add", "--app-name", app_name, "--grant-type", "client_credentials",
                                    "--redirect-uris", "", "--scopes", "roles"))
    return cid, write_secret(node.dir, f"{app_name}.secret", secret)


def flowload_start(node, mode, conns, duration, client, users, warmup=1.0, series=None, extra=()):
    """Starts bench-flowload against node; users = ("user", NAME) or ("prefix", PREFIX, COUNT, DIGITS). Returns a
    handle for flowload_finish (SIGINT to its process ends the measured window early)."""
    cid, secret_file = client
    cmd = [os.path.join(BUILD, "bench-flowload"), "--url", node.url, "--mode", mode, "-c", str(conns), "-d", str(duration),
           "--warmup", str(warmup), "--client-id", cid, "--client-secret-file", secret_file, "--node-pid", str(node.proc.pid)]
    if mode != "cc":
        cmd += ["--redirect-uri", FLOW_REDIRECT, "--scope", FLOW_SCOPE, "--password-file", node.password_file]
        if users[0] == "user":
            cmd += ["--user", users[1]]
        else:
            cmd += ["--user-prefix", users[1], "--user-count", str(users[2]), "--user-digits", str(users[3])]
    if series:
        cmd += ["--series", series]
    cmd += list(extra)
    return cmd, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def flowload_finish(handle, timeout=None):
    """Waits for bench-flowload; its result line as a dict plus "steps" (name -> (p50, p99) ms), "failure_kinds"
    (kind -> count), "cmd", "rc" and "raw"."""
    cmd, p = handle
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    m = re.search(r"^result (.*)$", out, re.M)
    if not m:
        die(f"bench-flowload said nothing usable (exit {p.returncode}): {out}{err}")
    res = {}
    for kv in m.group(1).split():
        k, v = kv.split("=", 1)
        try:
            res[k] = float(v) if "." in v or k.endswith("_ms") else int(v)
        except ValueError:
            res[k] = v
    res["steps"] = {name: (float(p50), float(p99)) for name, p50, p99 in
                    re.findall(r"^step (\S+) requests=\d+ p50_ms=([\d.]+) p99_ms=([\d.]+)$", out, re.M)}
    res["failure_kinds"] = {k: int(n) for k, n in re.findall(r"^failure (\S+) (\d+)$", out, re.M)}
    res["cmd"] = " ".join([os.path.basename(cmd[0])] + cmd[1:])
    res["rc"], res["raw"] = p.returncode, out
    return res


def flowload(node, mode, conns, duration, client, users, warmup=1.0, series=None, extra=()):
    """flowload_start + flowload_finish."""
    h = flowload_start(node, mode, conns, duration, client, users, warmup, series, extra)
    return flowload_finish(h, timeout=duration + warmup + 400)


def median_run(runs):
    """The run with the median rate (its latencies with it); "all" = every run's rate; failures summed over the runs."""
    ranked = sorted(runs, key=lambda r: r["flows_per_s"])
    med = dict(ranked[len(ranked) // 2])
    med["all"] = [r["flows_per_s"] for r in runs]
    med["failures"] = sum(r["failures"] for r in runs)
    med["failure_kinds"] = {}
    for r in runs:
        for k, n in r["failure_kinds"].items():
            med["failure_kinds"][k] = med["failure_kinds"].get(k, 0) + n
    return med


def read_series(path):
    """(monotonic end time, latency ms) of every flow bench-flowload --series wrote."""
    with open(path) as f:
        return [(float(t), float(ms)) for t, ms in (line.split() for line in f if line.strip())]


def percentile(values, q):
    """Nearest-rank quantile q of values (0 when empty)."""
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def argon_rate(seconds=5, nice=0):
    """(threads, verifications/s, verifications per CPU-second) of bench-argon2 on every CPU (at that nice value)."""
    out = subprocess.run(["nice", "-n", str(nice), os.path.join(BUILD, "bench-argon2"), "-d", str(seconds)],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"threads (\d+) .* rate ([\d.]+) cpu [\d.]+ per_cpu_second ([\d.]+)", out)
    if not m:
        die(f"bench-argon2 said: {out!r}")
    return int(m.group(1)), float(m.group(2)), float(m.group(3))


def commit_rate(seconds=3, threads=1):
    """Durable commits per second of the store on this disk (bench-commit in a scratch dir under the temp dir, which
    is on the same file system as the nodes' data dirs): (rate, p50 ms, p99 ms)."""
    d = tmpdir("hub-bench-commit-")
    out = subprocess.run([os.path.join(BUILD, "bench-commit"), "-D", os.path.join(d, "data"), "-d", str(seconds), "-t",
                          str(threads)], capture_output=True, text=True, check=True).stdout
    shutil.rmtree(d, ignore_errors=True)
    m = re.search(r"rate ([\d.]+) p50_ms ([\d.]+) p99_ms ([\d.]+)", out)
    if not m:
        die(f"bench-commit said: {out!r}")
    return float(m.group(1)), float(m.group(2)), float(m.group(3))


def last_txn_id(data_dir):
    """LMDB's last committed write transaction id of a data dir (mdb_stat -e): the difference over a run counts the
    durable commits made in it."""
    r = subprocess.run(["mdb_stat", "-e", data_dir], capture_output=True, text=True)
    m = re.search(r"Last transaction ID: (\d+)", r.stdout)
    return int(m.group(1)) if m else -1
