"""A primary moves from LMDB into a cluster on PostgreSQL (SPEC §9): `hubctl -d OLD store export --with-keys | hubctl
-c NEW.yaml store import` fills the database the configuration names (its schema made when missing, or one only
`hubctl -c init` made), sealing the private keys with the configuration's cluster secret: no key file anywhere. Two
primaries on it (the second one started first) serve the old tokens: they verify and introspect, their refresh token
redeems, the old key goes on signing. `hubctl -c CONFIG init` with a cluster secret seals its key at once, so any
primary may start first. An import into a database holding records is refused and changes nothing."""
import base64
import os
import subprocess
import urllib.parse

from hubtest import HUBCTL, Browser, Node, PgServer, basic, eq, get, ok, post, run
from test_token import PASSWORD, _inputs, creds, jwt_parts, pkce

REDIRECT = "http://127.0.0.1:9/cb"

_pg = None


def pg():
    global _pg
    if _pg is None:
        _pg = PgServer(password="move-" + base64.urlsafe_b64encode(os.urandom(9)).decode())
    return _pg


def write_secret(path):
    with open(path, "w") as f:
        f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    os.chmod(path, 0o600)
    return path


def pg_primary(name, conninfo, secret, public_url=None):
    """A primary on conninfo (not started) with the cluster secret; public_url: another node's."""
    n = Node("primary", name=name, store="postgresql", conf={
        "store": {"backend": "postgresql", "postgresql": {"conninfo": conninfo, "password_file": pg().password_file}},
        "primary": {"cluster_secret_file": secret, "signing_alg": "ES256"}})
    if public_url is not None:
        n.conf["node"]["public_url"] = public_url
    n._initialised = True  # the test makes its schema (init or import)
    return n


def key_files(n):
    d = os.path.join(n.data_dir, "keys")
    return sorted(f for f in os.listdir(d) if f.endswith(".pem")) if os.path.isdir(d) else []


def code_flow(n, web):
    br = Browser()
    verifier, challenge = pkce()
    r = br.get(n.url + "/login")
    form = _inputs(r.text)
    form.update(username="alice", password=PASSWORD)
    eq(br.post(n.url + "/login", form=form, follow=False).status, 302, "signed in")
    q = {"client_id": web[0], "response_type": "code", "redirect_uri": REDIRECT, "scope": "openid email",
         "code_challenge": challenge, "code_challenge_method": "S256", "state": "s"}
    r = br.get(n.url + "/oauth2/authorize?" + urllib.parse.urlencode(q), follow=False)
    code = r.header("location").split("code=", 1)[1].split("&")[0]
    r = post(n.url + "/oauth2/token", form={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                                            "code_verifier": verifier}, headers=basic(*web))
    eq(r.status, 200, "code exchange " + r.text)
    return r.json()


def export_import(old, new_conf):
    """hubctl -d OLD store export --with-keys | hubctl -c NEW store import: (export's, import's) completed processes."""
    exp = subprocess.Popen([HUBCTL, "-d", old.data_dir, "store", "export", "--with-keys"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    imp = subprocess.run([HUBCTL, "-c", new_conf, "store", "import"], stdin=exp.stdout, capture_output=True, text=True,
                         timeout=60)
    exp.stdout.close()
    eq(exp.wait(60), 0, "export: " + exp.stderr.read().decode())
    return imp


def lmdb_primary():
    old = Node("primary", name="mover")
    old.hubctl("init", "--alg", "ES256")
    old.hubctl("user", "add", "alice", "--email", "alice@example.com", input=PASSWORD + "\n")
    old.web = creds(old.hubctl("client", "add", "--app-name", "web", "--redirect-uris", REDIRECT,
                               "--skip-authorization").stdout)
    return old.start()


def test_move_into_cluster():
    old = lmdb_primary()
    g = code_flow(old, old.web)
    kid = jwt_parts(g["access_token"])[0]["kid"]
    eq(old.stop(), 0, "the old primary stops")
    conninfo = pg().database("moved")
    secret = write_secret(os.path.join(old.dir, "cluster.secret"))
    a = pg_primary("mover", conninfo, secret, old.url)
    b = pg_primary("mover2", conninfo, secret, old.url)
    imp = export_import(old, a.write_conf())
    eq(imp.returncode, 0, "import: " + imp.stderr)
    ok("into the database of " + a.conf_path in imp.stdout and "sealed with the cluster secret" in imp.stdout, imp.stdout)
    eq((key_files(a), key_files(b)), ([], []), "no private key file: sealed in the database")
    # b first (its own data dir never held a key), then a, which answers at the old address
    b.start()
    a.port, a.url = old.port, old.url
    a.conf["node"]["listen"] = f"127.0.0.1:{old.port}"
    a.start()
    for n in (b, a):
        eq(post(n.url + "/oauth2/introspect", form={"token": g["access_token"]}, headers=basic(*old.web)).json()["active"],
           True, f"the old access token at {n.name}")
        ok(kid in {k["kid"] for k in get(n.url + "/oauth2/jwks").json()["keys"]}, "the old key published")
    r = post(b.url + "/oauth2/token", form={"grant_type": "refresh_token", "refresh_token": g["refresh_token"]},
             headers=basic(*old.web))
    eq(r.status, 200, "the old refresh token redeems " + r.text)
    eq(jwt_parts(r.json()["access_token"])[0]["kid"], kid, "the old key signs on")
    eq(jwt_parts(code_flow(a, old.web)["id_token"])[1]["iss"], old.url, "a new code flow, the same issuer")
    # a second import into the database, which holds records now: refused, nothing changed
    before = pg().sql("SELECT count(*), md5(string_agg(encode(k, 'hex') || encode(v, 'hex'), ',' ORDER BY tbl, k)) "
                      "FROM hub_kv", db=conninfo.split("dbname=")[1].split()[0])
    imp = export_import(old, a.write_conf())
    eq(imp.returncode, 1, "an import into a database with records: " + imp.stderr)
    ok("not empty: table" in imp.stderr and "the database of" in imp.stderr, imp.stderr)
    after = pg().sql("SELECT count(*), md5(string_agg(encode(k, 'hex') || encode(v, 'hex'), ',' ORDER BY tbl, k)) "
                     "FROM hub_kv", db=conninfo.split("dbname=")[1].split()[0])
    eq(after, before, "the database unchanged")
    for n in (a, b):
        eq(n.stop(), 0, n.name + " stops")


def test_init_seals():
    """hubctl -c CONFIG init with a cluster secret: the key sealed at once (no key file), so another primary, whose data
    dir never held it, starts first and signs; an import into a database only init made replaces init's key."""
    conninfo = pg().database("inited")
    secret = write_secret(os.path.join(pg().tmp, "init.secret"))
    a = pg_primary("inita", conninfo, secret)
    b = pg_primary("initb", conninfo, secret, a.url)
    a.hubctl("init", "--alg", "ES256")
    eq(key_files(a), [], "init left no key file")
    b.start()
    a.hubctl("user", "add", "alice", "--email", "alice@example.com", input=PASSWORD + "\n")
    web = creds(a.hubctl("client", "add", "--app-name", "web", "--redirect-uris", REDIRECT, "--skip-authorization").stdout)
    eq(code_flow(b, web)["token_type"], "Bearer", "the primary started first signs")
    eq(b.stop(), 0, "b stops")
    # an import into a database only init made: init's key gives way to the dump's
    old = lmdb_primary()
    g = code_flow(old, old.web)
    eq(old.stop(), 0, "the old primary stops")
    conninfo = pg().database("inited2")
    c = pg_primary("initc", conninfo, secret, old.url)
    c.pg_db_name = conninfo.split("dbname=")[1].split()[0]
    c.hubctl("init", "--alg", "ES256")
    init_kid = c.hubctl("keys", "list", "--json").stdout
    imp = export_import(old, c.write_conf())
    eq(imp.returncode, 0, "import after init: " + imp.stderr)
    c.port, c.url = old.port, old.url
    c.conf["node"]["listen"] = f"127.0.0.1:{old.port}"
    c.start()
    kids = {k["kid"] for k in get(c.url + "/oauth2/jwks").json()["keys"]}
    eq(kids, {jwt_parts(g["access_token"])[0]["kid"]}, "the dump's key, not init's " + init_kid)
    # init's sealed private key went with its record (key_secrets: table 25 of hub/store_types.h's list)
    sealed = pg().sql("SELECT convert_from(k, 'UTF8') FROM hub_kv WHERE tbl = 25", db=c.pg_db_name).split()
    eq(set(sealed), kids, "the sealed private keys")
    r = post(c.url + "/oauth2/token", form={"grant_type": "refresh_token", "refresh_token": g["refresh_token"]},
             headers=basic(*old.web))
    eq(r.status, 200, "the refresh token redeems " + r.text)
    eq(c.stop(), 0, "c stops")


if __name__ == "__main__":
    run([test_move_into_cluster, test_init_seals])
