"""The database away at start-up (SPEC §9, issue 13 item 5): a primary on PostgreSQL started while its database cannot
be reached (stopped with pg_ctl -m fast, or -m immediate; a primary that ran before, and one that never ran) starts all
the same: one clear line in its log, /healthz 503, the endpoints that need the database 503 with Retry-After, discovery
200, the JWKS 503 with Retry-After (its keys are not loaded yet), every answer prompt (bounded client timeouts). Once
the database is started, the node turns healthy by itself: the JWKS serves the cluster's keys, a full code flow and a
refresh work. A database that answers and refuses (a wrong password, an unknown database) or holds no schema still
refuses the start, without waiting and without the password in the message. A database that accepts connections and
never answers (a timeout) is waited for too. libpq's own messages reach stderr only as lines of the hub's log, and the
keyring logs a bounded number of lines during an outage."""
import os
import re
import socket
import time

from hubtest import Node, PgServer, eq, get, ok, post, request, run
from test_db_away import REDIRECT, code_flow, token, unavailable_json, wait_for, write_secret
from test_token import PASSWORD, creds

TIMEOUT = 3  # seconds a client waits for any answer while the database is away: no store call may block a loop
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn|info|debug) \S+: ")
READY_LINE = re.compile(r"^hubd: primary listening on http://127\.0\.0\.1:\d+$")


def primary(pg, name, password_file=None, conninfo=None, secret=True):
    """A primary on a new database of pg (or on conninfo), its schema initialised, alice and two clients in it."""
    conninfo = conninfo or pg.database(name)
    n = Node("primary", name=name, store="postgresql", conf={
        "store": {"backend": "postgresql", "postgresql": {"conninfo": conninfo, "pool": 2,
                                                          **({"password_file": password_file} if password_file else {})}},
        "primary": {"cluster_secret_file": None}})
    n.conf["primary"]["cluster_secret_file"] = write_secret(os.path.join(n.dir, "cluster.secret"))
    n.redirect = REDIRECT
    n.p = n  # the shape test_db_away's helpers take
    return n


def populate(n):
    out = n.hubctl("init", "--alg", "ES256").stdout
    # what init made: the database (host, port, name), not the unused data_dir, never the password
    port = re.search(r"port=(\d+)", n.conf["store"]["postgresql"]["conninfo"]).group(1)
    db = re.search(r"dbname=(\S+)", n.conf["store"]["postgresql"]["conninfo"]).group(1)
    ok(f'initialised the database "{db}" on 127.0.0.1 port {port} (signing key ES256' in out, out)
    ok(n.data_dir not in out, "init names the database, not data_dir: " + out)
    with open(n.conf["store"]["postgresql"]["password_file"]) as f:
        ok(f.read().strip() not in out, "no password in init's output")
    n.hubctl("user", "add", "alice", "--email", "alice@example.com", input=PASSWORD + "\n")
    n.web = creds(n.hubctl("client", "add", "--app-name", "web", "--redirect-uris", REDIRECT, "--skip-authorization").stdout)
    n.svc = creds(n.hubctl("client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes", "read",
                           "--redirect-uris", "").stdout)
    n.kids = sorted(k["kid"] for k in __import__("json").loads(n.hubctl("keys", "list", "--json").stdout))
    return n


def quick(method, url, **kw):
    """A request that must be answered within TIMEOUT seconds (it raises otherwise)."""
    t0 = time.monotonic()
    r = (get if method == "GET" else post)(url, timeout=TIMEOUT, **kw)
    ok(time.monotonic() - t0 < TIMEOUT, f"{method} {url} answered promptly")
    return r


def check_drained(n):
    """What a primary started while its database is away answers: promptly, 503 but for discovery."""
    r = quick("GET", n.url + "/healthz")
    eq((r.status, r.json().get("status")), (503, "unavailable"), "/healthz drains the node")
    for _ in range(3):  # again and again: the answers do not wait for the database
        unavailable_json(quick("POST", n.url + "/oauth2/token", form={"grant_type": "client_credentials"},
                               headers={"Authorization": "Basic eDp5"}), "/oauth2/token")
        unavailable_json(quick("GET", n.url + "/oauth2/jwks"), "the JWKS before its keys were loaded")
        r = quick("GET", n.url + "/.well-known/openid-configuration")
        eq((r.status, r.json().get("issuer")), (200, n.url), "discovery is configuration")
    r = quick("GET", n.url + "/login", headers={"Accept": "text/html"})
    eq((r.status, r.header("retry-after")), (503, "1"), "the sign-in page")


def check_recovered(n, timeout=30):
    """After the database started: healthy by itself, the cluster's keys in the JWKS, a code flow and a refresh."""
    wait_for(lambda: get(n.url + "/healthz", timeout=TIMEOUT).status == 200, "/healthz 200 once the database is back",
             timeout)
    r = get(n.url + "/oauth2/jwks")
    eq(r.status, 200, "the JWKS once loaded")
    kids = sorted(k["kid"] for k in r.json()["keys"])
    eq(kids, n.kids, "the JWKS serves the keys of the database")
    r = token(n, {"grant_type": "client_credentials"}, n.svc)
    eq(r.status, 200, "client_credentials " + r.text)
    g = code_flow(n)
    r = token(n, {"grant_type": "refresh_token", "refresh_token": g["refresh_token"]}, n.web)
    eq(r.status, 200, "a refresh " + r.text)


def check_log(n, password_file):
    """Every stderr line is a line of the hub's log (or the ready line), none holds the password; one clear line said
    which database was away and that hubd keeps trying."""
    raw = [line for line in n.lines if not LOG_LINE.match(line) and not READY_LINE.match(line.rstrip("\n"))]
    eq(raw, [], f"{n.name}: stderr lines not in the hub's log format")
    with open(password_file) as f:
        password = f.read().strip()
    eq([line for line in n.lines if password in line], [], "the password in the log")
    away = [line for line in n.lines if "cannot reach the database" in line]
    eq(len(away), 1, "one line says the database is away: " + "".join(n.lines[:20]))
    ok(re.search(r'the database "\w+" on 127\.0\.0\.1 port \d+', away[0]) and "keeps trying" in away[0],
       "it names the database and says hubd keeps trying: " + away[0])


def test_start_while_away():
    pg = PgServer(password="late-" + os.urandom(6).hex())
    # a primary that ran before (its keys first served) and one never run; the server stopped fast, then immediately
    ran = populate(primary(pg, "ranbefore", pg.password_file))
    ran.start()
    eq(get(ran.url + "/oauth2/jwks").status, 200, "the JWKS before")
    eq(ran.stop(), 0, "a clean stop")
    fresh = populate(primary(pg, "neverran", pg.password_file))
    for n, stop in ((ran, pg.pause), (fresh, lambda: pg.stop(keep=True))):
        stop()
        t0 = time.monotonic()
        n.start(expect_ready=False)
        ok(n._ready.wait(30), f"{n.name}: listens while its database is away: " + n.log())
        print(f"{n.name}: listening {time.monotonic() - t0:.2f} s after its start, the database away")
        check_drained(n)
        time.sleep(2)  # a few of the start-up thread's tries
        check_drained(n)
        pg.start()
        check_recovered(n)
        check_log(n, pg.password_file)
        ok(n.wait_log("the node serves", 5), "a line says the node serves")
        eq(n.stop(), 0, f"{n.name} stops cleanly")
    pg.stop()


def test_timeout_is_waited_for():
    """A 'database' that accepts the connection and never answers: a timeout is an absence, not a refusal."""
    pg = PgServer(password="late-" + os.urandom(6).hex())
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(64)  # never accepts: the kernel completes the handshakes, nothing answers libpq's startup packet
    try:
        n = primary(pg, "mute", pg.password_file,
                    conninfo=f"host=127.0.0.1 port={mute.getsockname()[1]} dbname=mute user=hub connect_timeout=2")
        n.start(expect_ready=False)
        ok(n._ready.wait(30), "listens while its database does not answer: " + n.log())
        check_drained(n)
        ok(any("cannot reach the database" in line and "keeps trying" in line for line in n.lines), "says so: " + n.log())
        eq(n.stop(), 0, "stops cleanly while a connection attempt may be under way")
    finally:
        mute.close()
        pg.stop()


def refused(n, what, expect, password=None):
    """n must exit non-zero at once, with expect in its log and no password."""
    n.start(expect_ready=False)
    try:
        rc = n.proc.wait(30)
    except Exception:
        n.kill()
        raise AssertionError(f"{what}: hubd did not exit: {n.log()}")
    n._reader.join(5)
    ok(rc != 0, f"{what}: exit {rc}")
    ok(not n._ready.is_set(), f"{what}: never listened")
    ok(any(expect in line for line in n.lines), f"{what}: says {expect!r}: {n.log()}")
    if password:
        eq([line for line in n.lines if password in line], [], f"{what}: the password in the log")


def test_refusals_are_final():
    pg = PgServer(password="late-" + os.urandom(6).hex())
    with open(pg.password_file) as f:
        right = f.read().strip()
    good = populate(primary(pg, "refusals", pg.password_file))
    # a wrong password: the server answers and refuses
    wrong = os.path.join(good.dir, "wrong.password")
    with open(os.open(wrong, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write("not-" + right + "\n")
    n = primary(pg, "wrongpw", wrong, conninfo=good.conf["store"]["postgresql"]["conninfo"])
    refused(n, "a wrong password", "password authentication failed", password="not-" + right)
    # an unknown database
    conninfo = re.sub(r"dbname=\S+", "dbname=no_such_db", good.conf["store"]["postgresql"]["conninfo"])
    refused(primary(pg, "nodb", pg.password_file, conninfo=conninfo), "an unknown database", "no_such_db", right)
    # a database without the schema: the init hint
    refused(primary(pg, "noschema", pg.password_file), "no schema", "hubctl -c", right)
    # a password file that cannot be read
    refused(primary(pg, "nopwfile", os.path.join(good.dir, "missing.password")), "no password file", "password_file")
    pg.stop()


def test_outage_logs_bounded():
    """A primary serving while its database goes away for ~5 s: its keyring logs a bounded number of lines, libpq's
    messages (the server's FATAL to idle sessions) arrive as log lines, and it recovers."""
    pg = PgServer(password="late-" + os.urandom(6).hex())
    n = populate(primary(pg, "outage", pg.password_file)).start()
    eq(get(n.url + "/oauth2/jwks").status, 200, "the JWKS")
    eq(token(n, {"grant_type": "client_credentials"}, n.svc).status, 200, "a token")
    # a next key, loaded by the keyring (a HEAD serves no key: its first serving is still to be recorded)
    head = lambda: int(request("HEAD", n.url + "/oauth2/jwks").header("content-length"))
    size = head()
    n.hubctl("keys", "rotate")
    wait_for(lambda: head() > size, "the next key in the JWKS")
    before = len(n.lines)
    pg.pause()
    end = time.time() + 5
    while time.time() < end:  # each GET serves the next key: its first serving cannot be recorded, every second
        eq(quick("GET", n.url + "/oauth2/jwks").status, 200, "the JWKS during the outage")
        time.sleep(0.2)
    keyring = [line for line in n.lines[before:] if "signing keys" in line]
    ok(1 <= len(keyring) <= 2, "the keyring logged the outage in a bounded number of lines: " + "".join(keyring))
    pg.start()
    wait_for(lambda: get(n.url + "/healthz", timeout=TIMEOUT).status == 200, "/healthz back", 30)
    ok(n.wait_log("signing keys: the store answers again", 10), "the keyring says it recovered")
    eq(token(n, {"grant_type": "client_credentials"}, n.svc).status, 200, "a token after")
    raw = [line for line in n.lines if not LOG_LINE.match(line) and not READY_LINE.match(line.rstrip("\n"))]
    eq(raw, [], "stderr lines not in the hub's log format")
    eq(n.stop(), 0, "a clean stop")
    pg.stop()


if __name__ == "__main__":
    run([test_start_while_away, test_timeout_is_waited_for, test_refusals_are_final, test_outage_logs_bounded])
