"""A primary on PostgreSQL (SPEC §9), against a real server with password authentication: `hubctl -c CONFIG init`
creates the schema, hubctl -c adds a user and clients, hubd serves the code flow, refresh, introspection and
client_credentials from the database, and after a restart of hubd the refresh token still redeems. hubd and hubctl
refuse a database without the schema (with the init hint) and a password file others may read; hubctl refuses -d with
-c; hubctl's changes reach the running node; hubctl -c on a configuration without a store section is LMDB."""
import json
import os
import subprocess
import time

from hubtest import HUBCTL, Node, basic, eq, hubctl_conf, ok, pg_server, post, run
from test_token import PASSWORD, creds, get_code, jwt_parts, pkce

REDIRECT = "http://127.0.0.1:9/cb"


def pg_node(name):
    return Node("primary", name=name, store="postgresql")


def token(n, form, who):
    return post(n.url + "/oauth2/token", form=form, headers=basic(*who))


def introspect(n, tok, who):
    r = post(n.url + "/oauth2/introspect", form={"token": tok}, headers=basic(*who))
    eq(r.status, 200, "introspect " + r.text)
    return r.json()


def test_refused_without_schema():
    n = pg_node("noschema")
    p = n.hubctl("user", "list", check=False)
    eq(p.returncode, 1, "hubctl on a database without the schema")
    ok(f"the database has no hub schema yet: run hubctl -c {n.conf_path} init" in p.stderr and
       len(p.stderr.strip().splitlines()) == 1, "one line with the init hint: " + p.stderr)
    n.start(expect_ready=False)
    rc = n.proc.wait(30)
    ok(rc != 0, "hubd exits")
    n.stop()
    ok(any("the database has no hub schema yet: run hubctl -c" in line for line in n.lines), "hubd says why: " + n.log())
    eq(pg_server().sql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'hub_%'", db=n.pg_db).strip(), "0",
       "nothing created")


def test_usage_refusals():
    n = pg_node("usage")
    conf = n.write_conf()
    p = subprocess.run([HUBCTL, "-d", n.data_dir, "-c", conf, "user", "list"], capture_output=True, text=True,
                                     timeout=30)
    eq(p.returncode, 2, "-d with -c")
    ok("give one of them, not both" in p.stderr, p.stderr)
    # a password file its group may read: refused by hubctl (a validation error) and by hubd, naming the key
    os.chmod(n.conf["store"]["postgresql"]["password_file"], 0o640)
    try:
        p = n.hubctl("init", check=False)
        eq(p.returncode, 2, "hubctl with an open password file")
        ok("store.postgresql.password_file:" in p.stderr and "chmod 600" in p.stderr, p.stderr)
        n.start(expect_ready=False)
        ok(n.proc.wait(30) != 0, "hubd refuses to start")
        n.stop()
        ok(any("store.postgresql.password_file:" in line for line in n.lines), n.log())
    finally:
        os.chmod(n.conf["store"]["postgresql"]["password_file"], 0o600)
    # a wrong password: cannot connect, one line, never the password
    wrong = os.path.join(n.dir, "wrong.password")
    with open(os.open(wrong, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("not-the-password\n")
    n.conf["store"]["postgresql"]["password_file"] = wrong
    p = n.hubctl("init", check=False)
    eq(p.returncode, 1, "a wrong password")
    ok("cannot connect to the database" in p.stderr and "not-the-password" not in p.stderr, p.stderr)


def test_lmdb_through_config():
    """hubctl -c on a configuration without a store section works on LMDB in node.data_dir, as -d does."""
    n = Node("primary", name="lmdbconf", store="lmdb")
    conf = n.write_conf()
    p = hubctl_conf(conf, "user", "list", check=False)
    eq(p.returncode, 1, "a read before init")
    ok(f"no such data directory (run hubctl -c {conf} init)" in p.stderr, p.stderr)
    ok(not os.path.exists(n.data_dir), "a read creates nothing")
    p = hubctl_conf(conf, "init", "--alg", "ES256")
    ok(p.stdout.startswith(f"initialised {n.data_dir} (signing key ES256"), p.stdout)
    ok(os.path.isfile(os.path.join(n.data_dir, "data.mdb")), "the LMDB store in node.data_dir")
    eq(json.loads(n.hubctl("role", "list", "--json").stdout), ["Guest", "System Manager"], "the same store through -d")
    eq(hubctl_conf(conf, "init", check=False).returncode, 1, "already initialised")


def setup(n):
    p = n.hubctl("init")
    ok("created the schema (version 1)" in p.stdout and "initialised" in p.stdout, p.stdout)
    p = n.hubctl("init", check=False)
    eq(p.returncode, 1, "a second init")
    ok("already initialised" in p.stderr, p.stderr)
    n.hubctl("role", "add", "Employee")
    n.hubctl("user", "add", "alice", "--email", "alice@example.com", "--role", "Employee", input=PASSWORD + "\n")
    n.redirect = REDIRECT
    n.web = creds(n.hubctl("client", "add", "--app-name", "web", "--redirect-uris", REDIRECT, "--skip-authorization").stdout)
    n.svc = creds(n.hubctl("client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes", "read",
                           "--redirect-uris", "").stdout)
    ok(n.web[1] and n.svc[1], "clients created")


def code_grant(n):
    verifier, challenge = pkce()
    code = get_code(n, n.web[0], challenge=challenge)
    ok(code, "a code")
    r = token(n, {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": verifier},
              n.web)
    eq(r.status, 200, "code exchange " + r.text)
    return r.json()


def test_flows_and_restart():
    n = pg_node("flows")
    setup(n)
    n.start()
    b1 = code_grant(n)
    _, at = jwt_parts(b1["access_token"])
    eq((at["aud"], at["roles"]), (n.web[0], ["Employee"]), "claims")
    i = introspect(n, b1["access_token"], n.web)
    eq((i["active"], i["username"]), (True, "alice"), "introspection")
    r = token(n, {"grant_type": "refresh_token", "refresh_token": b1["refresh_token"]}, n.web)
    eq(r.status, 200, "refresh " + r.text)
    b2 = r.json()
    ok(b2["refresh_token"] != b1["refresh_token"], "rotated")
    eq(introspect(n, b2["access_token"], n.web)["active"], True, "the new access token")
    r = token(n, {"grant_type": "client_credentials"}, n.svc)
    eq(r.status, 200, "client_credentials " + r.text)
    # the node restarts: everything it needs is in the database
    eq(n.stop(), 0, "clean stop")
    n.start()
    r = token(n, {"grant_type": "refresh_token", "refresh_token": b2["refresh_token"]}, n.web)
    eq(r.status, 200, "the refresh token redeems after the restart " + r.text)
    eq(introspect(n, r.json()["access_token"], n.web)["active"], True, "introspected after the restart")
    eq(introspect(n, b1["access_token"], n.web)["active"], True, "a token of before the restart")
    # hubctl's change reaches the running node (the decoded-client cache follows gen:clients)
    n.hubctl("client", "update", n.svc[0], "--scopes", "read write")
    end, scope = time.time() + 5, None
    while time.time() < end and scope != "read write":
        r = token(n, {"grant_type": "client_credentials", "scope": "read write"}, n.svc)
        scope = r.json().get("scope") if r.status == 200 else None
        time.sleep(0.05)
    eq(scope, "read write", "a client change seen by the running node")
    rows = pg_server().sql("SELECT count(*) FROM hub_kv", db=n.pg_db)
    ok(int(rows) > 10, "records in PostgreSQL")
    ok(not os.path.exists(os.path.join(n.data_dir, "data.mdb")), "no LMDB store in the data dir")


if __name__ == "__main__":
    run([test_refused_without_schema, test_usage_refusals, test_lmdb_through_config, test_flows_and_restart])
