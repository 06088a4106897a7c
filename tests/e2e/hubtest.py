"""End-to-end harness: starts real hubd processes on loopback with generated configs,
waits for their ready line, always stops them, and keeps each node's log for failures.

A primary runs on LMDB, or on PostgreSQL with Node(store="postgresql") or, for every primary of a run, with
HUB_TEST_STORE=postgresql: then one throwaway server (tests/support/pg-start, PgServer) serves the whole test process,
each primary gets a database of its own, and Node.hubctl works through `hubctl -c` on the node's configuration.
A test that runs on both backends names a node's cookies with Node.cookie_name (a cluster primary's follow public_url),
reads its keys with Node.keys / Node.private_keys (on PostgreSQL they are sealed in the database, not in data_dir) and
wraps a check that follows a hubctl change in eventually() (a cluster sees it within a second, SPEC §9)."""
import atexit
import base64
import hashlib
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

SOURCE_DIR = os.environ.get("HUB_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.environ.get("HUB_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
HUBD = os.path.join(BUILD_DIR, "hubd")
HUBCTL = os.path.join(BUILD_DIR, "hubctl")
PG_BIN = os.environ.get("HUB_PG_BIN", "/usr/lib/postgresql/15/bin")

_nodes = []
_tmpdirs = []
_pg_servers = []


def tmpdir(prefix="hubtest-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cleanup():
    for n in list(_nodes):
        n.kill()
    for pg in list(_pg_servers):
        try:
            pg.stop()
        except AssertionError as e:
            print(e, file=sys.stderr)
    if os.environ.get("HUB_KEEP_TMP") != "1":
        for d in _tmpdirs:
            shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def yaml_dump(obj, indent=0):
    """Enough YAML for our configs: nested dicts, lists of scalars or dicts, scalars."""
    pad = "  " * indent
    out = []
    for k, v in obj.items():
        if isinstance(v, dict):
            out.append(f"{pad}{k}:")
            out.append(yaml_dump(v, indent + 1))
        elif isinstance(v, list):
            if not v:
                out.append(f"{pad}{k}: []")
                continue
            out.append(f"{pad}{k}:")
            for item in v:
                if isinstance(item, dict):
                    first = True
                    for ik, iv in item.items():
                        prefix = f"{pad}  - " if first else f"{pad}    "
                        first = False
                        if isinstance(iv, list):
                            out.append(f"{prefix}{ik}: [{', '.join(json.dumps(x) for x in iv)}]")
                        else:
                            out.append(f"{prefix}{ik}: {scalar(iv)}")
                else:
                    out.append(f"{pad}  - {scalar(item)}")
        else:
            out.append(f"{pad}{k}: {scalar(v)}")
    return "\n".join(out)


def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))


class PgServer:
    """A throwaway PostgreSQL server (tests/support/pg-start: initdb in a temp dir, a free loopback port, fsync on,
    run as nobody when we are root), stopped and removed at exit (and by pg-start's watcher if this process dies).
    With password, TCP logins need it (scram-sha-256): password_file holds it for hubd (mode 0600)."""

    def __init__(self, password=None):
        self.tmp = tmpdir("hub-pg-")
        os.chmod(self.tmp, 0o711)  # the server's user must reach its directory
        self.dir = os.path.join(self.tmp, "pg")
        self.password_file = None
        self._dbs = 0
        args = ["--owner", str(os.getpid())]
        if password is not None:
            self.password_file = os.path.join(self.tmp, "pg.password")
            fd = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password + "\n")
            args += ["--password-file", self.password_file]
        self.conninfo = self._script("pg-start", *args, self.dir)
        _pg_servers.append(self)

    @staticmethod
    def _script(name, *args):
        """Runs tests/support/NAME; its last line of output."""
        p = subprocess.run([os.path.join(SOURCE_DIR, "tests", "support", name), *args], capture_output=True, text=True,
                           timeout=180)
        if p.returncode != 0:
            raise AssertionError(f"{name} failed ({p.returncode}): {p.stderr.strip()} (tools/bootstrap installs postgresql-15)")
        return (p.stdout.strip().splitlines() or [""])[-1]

    @property
    def port(self):
        with open(os.path.join(self.dir, "port")) as f:
            return int(f.read())

    def sql(self, statement, db="hub"):
        """Runs statement as the superuser over the server's unix socket; returns psql's output (unaligned)."""
        p = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", self.dir,
                            "-p", str(self.port), "-U", "hub", "-d", db, "-c", statement], capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"psql: {statement}: {p.stderr.strip()}")
        return p.stdout

    def database(self, prefix="hub"):
        """A new empty database; its conninfo (no password in it)."""
        self._dbs += 1
        name = re.sub(r"[^a-z0-9_]", "_", f"{prefix}_{self._dbs}".lower())
        self.sql(f"CREATE DATABASE {name}")
        return re.sub(r"dbname=\S+", f"dbname={name}", self.conninfo)

    def stop(self, keep=False):
        """pg_ctl stop -m immediate; keep leaves the cluster for start() (else it is removed)."""
        if not os.path.isdir(self.dir):
            return
        self._script("pg-stop", *(["--keep"] if keep else []), self.dir)
        if not keep and self in _pg_servers:
            _pg_servers.remove(self)

    def start(self):
        """Starts a cluster stopped with keep=True (or pause()) again, on its port."""
        self._script("pg-start", "--owner", str(os.getpid()), self.dir)

    def pause(self):
        """pg_ctl stop -m fast, as an operator stops it (clients are told and disconnected); start() brings it back on
        its port."""
        as_pg = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"] if os.getuid() == 0 else []
        p = subprocess.run(as_pg + [os.path.join(PG_BIN, "pg_ctl"), "stop", "-D", os.path.join(self.dir, "data"), "-m",
                                    "fast", "-w", "-t", "30"], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"pg_ctl stop -m fast: {p.stderr.strip()}")


_shared_pg = None


def pg_server():
    """The test process's shared server (password authentication), started on first use."""
    global _shared_pg
    if _shared_pg is None or _shared_pg not in _pg_servers:
        _shared_pg = PgServer(password="hub-test-" + base64.urlsafe_b64encode(os.urandom(12)).decode())
    return _shared_pg


class Node:
    """A hubd process. conf is a dict merged over role defaults; start() waits for the
    'listening on' line; stop() sends SIGTERM and returns the exit code."""

    def __init__(self, role="primary", name=None, conf=None, data_dir=None, env=None, store=None):
        self.role = role
        self.name = name or role
        self.port = free_port()
        self.dir = tmpdir(f"hub-{self.name}-")
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        self.url = f"http://127.0.0.1:{self.port}"
        self.conf = {
            "node": {
                "role": role,
                "name": self.name,
                "listen": f"127.0.0.1:{self.port}",
                "public_url": self.url,
                "data_dir": self.data_dir,
                "threads": 2,
                "log_level": "info",
            }
        }
        # the store: LMDB in data_dir, or a database of the shared PostgreSQL server (store="postgresql", or every
        # primary of the run with HUB_TEST_STORE=postgresql)
        self.store = store or (os.environ.get("HUB_TEST_STORE", "lmdb") if role == "primary" else "lmdb")
        self.pg_db = None  # the node's database on the shared server
        self._initialised = False  # PostgreSQL: hubctl init ran (hubd refuses a database without the schema)
        if self.store == "postgresql" and "store" not in (conf or {}):
            pg = pg_server()
            conninfo = pg.database(self.name)
            self.pg_db = re.search(r"dbname=(\S+)", conninfo).group(1)
            self.conf["store"] = {"backend": "postgresql",
                                  "postgresql": {"conninfo": conninfo, "password_file": pg.password_file, "pool": 4}}
            # SPEC §9: a primary on PostgreSQL seals its private keys with a cluster secret (its own database: its own)
            if "cluster_secret_file" not in ((conf or {}).get("primary") or {}):
                secret = os.path.join(self.dir, "cluster.secret")
                with open(os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                    f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
                self.conf.setdefault("primary", {})["cluster_secret_file"] = secret
        for section, values in (conf or {}).items():
            if isinstance(values, dict) and isinstance(self.conf.get(section), dict):
                self.conf[section].update(values)
            else:
                self.conf[section] = values
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        self.log_path = os.path.join(self.dir, "hubd.log")
        self.lines = []
        self._ready = threading.Event()

    def write_conf(self):
        self.conf_path = os.path.join(self.dir, "hub.yaml")
        with open(self.conf_path, "w") as f:
            f.write(yaml_dump(self.conf) + "\n")
        return self.conf_path

    def hubctl(self, *args, input=None, check=True):
        """hubctl -d on an LMDB node, hubctl -c on its configuration when it runs on PostgreSQL."""
        if self.store == "postgresql":
            p = hubctl_conf(self.write_conf(), *args, input=input, check=check)
            self._initialised |= bool(args) and args[0] == "init" and (p.returncode == 0 or "already initialised" in p.stderr)
            return p
        return hubctl(self.data_dir, *args, input=input, check=check)

    def cookie_name(self, what):
        """The name of one of the node's cookies (what: "session", "csrf", "state_<8 of the state>"), as hub/cookie.c
        makes it: hub_<node.name>_<what>, or for a primary of a cluster (one with primary.cluster_secret_file, as every
        primary on PostgreSQL) hub_c.<16 hex digits of SHA-256 of public_url's origin and path>_<what> (SPEC §9); every
        character outside [A-Za-z0-9_-] after the owner part written '_'; __Host- first when the node speaks HTTPS."""
        u = urllib.parse.urlsplit(self.conf["node"]["public_url"])
        if self.role == "primary" and (self.conf.get("primary") or {}).get("cluster_secret_file"):
            default = 443 if u.scheme == "https" else 80
            origin = f"{u.scheme}://{u.hostname}" + ("" if (u.port or default) == default else f":{u.port}")
            rest = self.conf["node"]["public_url"][len(u.scheme) + 3 + len(u.netloc):]
            owner = "c." + hashlib.sha256((origin + rest).encode()).hexdigest()[:16]
            name = f"hub_{owner}_" + re.sub(r"[^A-Za-z0-9_-]", "_", what)
        else:
            name = re.sub(r"[^A-Za-z0-9_-]", "_", f"hub_{self.name}_{what}")
        secure = u.scheme == "https" or bool(self.conf["node"].get("tls"))
        return ("__Host-" if secure else "") + name

    def keys(self):
        """The node's signing keys as `hubctl keys list --json` gives them, by kid (whichever backend holds them)."""
        return {k["kid"]: k for k in json.loads(self.hubctl("keys", "list", "--json").stdout)}

    def store_counts(self):
        """How many records each table of the node's store holds (either backend), as `hubctl store export` lists
        them (key material left out): {table: count}."""
        counts = {}
        for line in self.hubctl("store", "export").stdout.splitlines():
            table = json.loads(line).get("table")
            if table is not None:
                counts[table] = counts.get(table, 0) + 1
        return counts

    def private_keys(self):
        """The private keys the node's store holds (in data_dir on LMDB, sealed in the database on PostgreSQL), read
        through `hubctl store export --with-keys`: {kid: PEM bytes}."""
        lines = (json.loads(line) for line in self.hubctl("store", "export", "--with-keys").stdout.splitlines())
        return {rec["private_key"]: rec["pem"].encode() for rec in lines if "private_key" in rec}

    def private_key_pem(self, kid):
        """The private key (PEM bytes) of signing key kid; AssertionError when the store holds none."""
        pem = self.private_keys().get(kid)
        if pem is None:
            raise AssertionError(f"{self.name}: no private key {kid}")
        return pem

    def private_key_file(self, kid):
        """A file (mode 0600, in the node's directory) holding private_key_pem(kid): its path, for openssl."""
        path = os.path.join(self.dir, f"private-{kid}.pem")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(self.private_key_pem(kid))
        return path

    def _ensure_schema(self):
        """On PostgreSQL, a primary the test did not `hubctl init` gets what hubd makes of an empty LMDB data dir: the
        schema (hubctl -c init, with the configured signing algorithm; hubd would make the same roles and key)."""
        if self.store != "postgresql" or self._initialised or self.role != "primary" or self.conf.get("store") is None:
            return
        alg = (self.conf.get("primary") or {}).get("signing_alg", "RS256")
        self.hubctl("init", "--alg", alg)

    def start(self, timeout=20, expect_ready=True):
        self.write_conf()
        if expect_ready:
            self._ensure_schema()
        self._ready.clear()
        self.lines = []
        self.proc = subprocess.Popen([HUBD, "-c", self.conf_path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=self.env, text=True, errors="replace")
        _nodes.append(self)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not expect_ready:
            return self
        if not self._ready.wait(timeout):
            self.kill()
            raise AssertionError(f"{self.name}: no ready line within {timeout}s; log:\n" + self.log())
        return self

    def _read(self):
        with open(self.log_path, "a") as log:
            for line in self.proc.stderr:
                log.write(line)
                log.flush()
                self.lines.append(line)
                if "listening on" in line:
                    self._ready.set()

    def log(self):
        return "".join(self.lines[-200:])

    def wait_log(self, needle, timeout=10):
        end = time.time() + timeout
        while time.time() < end:
            if any(needle in l for l in self.lines):
                return True
            time.sleep(0.05)
        return False

    def stop(self, timeout=20):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError(f"{self.name} did not stop within {timeout}s")
        finally:
            self._reader.join(5)
            if self in _nodes:
                _nodes.remove(self)
        self.proc = None
        return rc

    def freeze(self, timeout=5):
        """SIGSTOP, then wait until every thread is really stopped: a request sent right after
        kill() could otherwise still be answered."""
        self.proc.send_signal(signal.SIGSTOP)
        end = time.time() + timeout
        task_dir = f"/proc/{self.proc.pid}/task"
        while time.time() < end:
            states = []
            for tid in os.listdir(task_dir):
                try:
                    with open(f"{task_dir}/{tid}/stat") as f:
                        states.append(f.read().rsplit(")", 1)[1].split()[0])
                except OSError:
                    pass
            if states and all(st in ("T", "t") for st in states):
                return
            time.sleep(0.01)
        raise AssertionError(f"{self.name} did not stop on SIGSTOP")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGCONT)
            except ProcessLookupError:
                pass
            self.proc.kill()
            self.proc.wait()
        if self in _nodes:
            _nodes.remove(self)

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def hubctl(data_dir, *args, input=None, check=True):
    p = subprocess.run([HUBCTL, "-d", data_dir, *args], input=input, capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"hubctl {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def hubctl_conf(conf_path, *args, input=None, check=True):
    """hubctl -c CONFIG: the store a node's configuration names."""
    p = subprocess.run([HUBCTL, "-c", conf_path, *args], input=input, capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"hubctl -c {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # list of (name-lower, value)
        self.body = body

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    def header_all(self, name):
        return [v for k, v in self.headers if k == name.lower()]

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


def request(method, url, body=None, headers=None, form=None, timeout=10):
    """One HTTP request, no redirects followed. form is a dict or list of pairs."""
    u = urllib.parse.urlsplit(url)
    h = dict(headers or {})
    if form is not None:
        body = urllib.parse.urlencode(form)
        h.setdefault("Content-Type", "application/x-www-form-urlencoded")
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, [(k.lower(), v) for k, v in r.getheaders()], data)
    finally:
        conn.close()


def get(url, **kw):
    return request("GET", url, **kw)


def post(url, **kw):
    return request("POST", url, **kw)


class Browser:
    """A cookie-keeping client that can follow redirects, like a browser without JS."""

    def __init__(self):
        self.cookies = {}  # (host:port) -> {name: value}

    def _jar(self, url):
        u = urllib.parse.urlsplit(url)
        # Browsers do not separate cookies by port; keep one jar per host to catch clashes.
        return self.cookies.setdefault(u.hostname, {})

    def request(self, method, url, form=None, headers=None, follow=True, max_hops=10):
        for _ in range(max_hops):
            h = dict(headers or {})
            h.setdefault("Accept", "text/html")
            jar = self._jar(url)
            if jar:
                h["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
            r = request(method, url, form=form, headers=h)
            for sc in r.header_all("set-cookie"):
                nv = sc.split(";", 1)[0]
                k, _, v = nv.partition("=")
                if "max-age=0" in sc.lower() or v == "":
                    jar.pop(k.strip(), None)
                else:
                    jar[k.strip()] = v.strip()
            r.url = url
            if follow and r.status in (301, 302, 303, 307) and r.header("location"):
                url = urllib.parse.urljoin(url, r.header("location"))
                if r.status != 307:
                    method, form = "GET", None
                continue
            return r
        raise AssertionError("too many redirects")

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, form=None, **kw):
        return self.request("POST", url, form=form, **kw)


_results = {"passed": 0, "failed": 0}


def serve_http(handler):
    """A ThreadingHTTPServer with handler on a free loopback port, serving in a daemon thread (server.thread), its
    request threads daemons too: a test's upstream, relying party or back-channel receiver."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    server.thread.start()
    return server


def basic(client_id, secret):
    """HTTP Basic client authentication (RFC 6749 §2.3.1 as the hub reads it) as a header dict."""
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def send_raw(port, data, timeout=5, until_close=True):
    """Sends raw bytes to 127.0.0.1:port and returns what comes back until the server closes the connection (a read
    that times out raises, unless until_close is False: then what was read by then)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            if until_close:
                raise
    return out


def self_signed(d):
    """A P-256 certificate for 127.0.0.1 and its key, written into directory d: (cert path, key path)."""
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def run(tests):
    """Runs each test function; prints 'N passed, N failed' and exits non-zero on failure."""
    only = os.environ.get("HUB_TEST_ONLY")
    for t in tests:
        if only and only not in t.__name__:
            continue
        start = time.time()
        try:
            t()
            _results["passed"] += 1
            print(f"ok   {t.__name__} ({time.time() - start:.2f}s)", flush=True)
        except Exception:
            _results["failed"] += 1
            print(f"FAIL {t.__name__}", flush=True)
            traceback.print_exc()
            for n in list(_nodes):
                print(f"--- log of {n.name} ({n.log_path}) ---\n{n.log()}", flush=True)
        finally:
            for n in list(_nodes):
                n.kill()
    print(f"{_results['passed']} passed, {_results['failed']} failed", flush=True)
    _cleanup()
    sys.exit(1 if _results["failed"] else 0)


def eventually(node, check, timeout=2.0, interval=0.05):
    """For a check that follows a hubctl change on node: on PostgreSQL a change is seen by every primary within one
    second (SPEC §9), not necessarily at the very next request, so check() runs again until it returns without an
    AssertionError, for at most timeout seconds; on LMDB it runs once (the next request sees the change). Returns its
    result, or raises its last AssertionError."""
    end = time.monotonic() + (timeout if node.store == "postgresql" else 0)
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() >= end:
                raise
        time.sleep(interval)


def eq(a, b, what=""):
    if a != b:
        raise AssertionError(f"{what}: expected {b!r}, got {a!r}")


def ok(cond, what):
    if not cond:
        raise AssertionError(what)
