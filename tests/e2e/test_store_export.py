"""hubctl store export / import (SPEC §2, §9): a live primary's store as JSON lines, imported into a new data dir, and
a node started on it carries on: an access token issued before the move verifies against the new node's JWKS and
introspects active, a revoked one stays revoked, a refresh token and an unredeemed code redeem, a signed-in browser
stays signed in, client secrets and passwords work. Export -> import -> export gives the same lines (the header's time
aside). Without --with-keys no key material leaves the store. Private keys move between a store of key files and one
whose keys are sealed with a cluster secret, both ways and between two secrets, as PEM (never a key_secrets record),
and no key file is ever written into a sealed target. Every malformed dump is refused with one line naming the line and
the field, and nothing is stored; a target holding more than `hubctl init` makes, a private key of its own under a
dump's kid, or init's key under a dump's kid is refused."""
import base64
import json
import os
import re
import subprocess
import urllib.parse

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from hubtest import HUBCTL, Node, basic, eq, get, ok, post, request, run, tmpdir
from test_cluster_keys import refused_start, write_secret
from test_token import PASSWORD, creds, get_code, jwt_parts, pkce

CONF = {"primary": {"code_ttl": "10m", "refresh_token_ttl": "30d", "session_ttl": "12h"}}


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def ctl(data_dir, *args, input=None):
    """hubctl with bytes in and out (a dump need not be text)."""
    return subprocess.run([HUBCTL, "-d", data_dir, *args], input=input, capture_output=True, timeout=120)


def export(data_dir, *args):
    p = ctl(data_dir, "store", "export", *args)
    eq(p.returncode, 0, "store export: " + p.stderr.decode())
    eq(p.stderr, b"", "store export is silent on stderr")
    return p.stdout


def import_(data_dir, dump):
    p = ctl(data_dir, "store", "import", input=dump)
    eq(p.returncode, 0, "store import: " + p.stderr.decode())
    return p.stdout.decode()


def lines(dump):
    return [json.loads(l) for l in dump.decode().splitlines()]


def body_lines(dump):
    """Everything but the header's line: what a round trip keeps exactly."""
    return dump.split(b"\n", 1)[1]


def same_dump(got, want, what):
    """got == want, byte for byte; else the first line that differs (shortened)."""
    if got == want:
        return
    g, w = got.split(b"\n"), want.split(b"\n")
    i = next((i for i in range(min(len(g), len(w))) if g[i] != w[i]), min(len(g), len(w)))
    raise AssertionError(f"{what}: {len(g)} lines, expected {len(w)}; line {i + 1} is "
                         f"{(g[i] if i < len(g) else b'(none)')[:300]!r}, expected {(w[i] if i < len(w) else b'(none)')[:300]!r}")


def verify_jwt(token, jwks):
    """RS256 against the JWK the header's kid names in jwks (raises when it does not verify)."""
    h, p, s = token.split(".")
    kid = json.loads(b64d(h))["kid"]
    jwk = [k for k in jwks if k["kid"] == kid]
    ok(jwk, f"kid {kid} is in the JWKS")
    pub = rsa.RSAPublicNumbers(int.from_bytes(b64d(jwk[0]["e"]), "big"), int.from_bytes(b64d(jwk[0]["n"]), "big"))
    pub.public_key().verify(b64d(s), f"{h}.{p}".encode(), padding.PKCS1v15(), hashes.SHA256())


def introspect(n, tok, who):
    r = post(n.url + "/oauth2/introspect", form={"token": tok}, headers=basic(*who))
    eq(r.status, 200, "introspection " + r.text)
    return r.json()


def token(n, form, who):
    return post(n.url + "/oauth2/token", form=form, headers=basic(*who))


def code_form(n, code, verifier):
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": n.redirect, "code_verifier": verifier}


def sealed_conf(secret):
    """CONF for a primary whose private keys are sealed with the cluster secret in file secret."""
    return {"primary": dict(CONF["primary"], cluster_secret_file=secret)}


def populated(conf=CONF):
    """A running primary holding users, roles, clients, settings, a registered node, two keys (the second rotated in
    and served), a browser session, an unredeemed code, a token family, a revoked access token."""
    n = Node("primary", name="movable", conf=conf)
    n.hubctl("init")
    n.hubctl("role", "add", "Employee")
    n.hubctl("user", "add", "alice", "--email", "alice@example.com", "--full-name", "Alice Doe", "--role", "Employee",
             input=PASSWORD + "\n")
    n.hubctl("settings", "set", "skip_authorization", "auto")
    n.redirect = "http://127.0.0.1:9/cb"
    n.web = creds(n.hubctl("client", "add", "--app-name", "web", "--redirect-uris", n.redirect,
                           "--skip-authorization").stdout)
    n.svc = creds(n.hubctl("client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes", "read",
                           "--redirect-uris", "").stdout)
    jt = re.findall(r"[A-Za-z0-9_-]{40,}", n.hubctl("node", "join-token", "--name", "sec1").stdout)[-1]
    n.start()
    md = {"client_name": "sec1", "redirect_uris": ["http://127.0.0.1:9/auth/callback"],
          "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
          "token_endpoint_auth_method": "client_secret_basic"}
    r = post(n.url + "/oauth2/register", body=json.dumps(md),
             headers={"Content-Type": "application/json", "Authorization": "Bearer " + jt})
    eq(r.status, 201, "node registration " + r.text)
    n.hubctl("keys", "rotate")
    eq(get(n.url + "/oauth2/jwks").status, 200, "the JWKS serves the next key")
    n.jar = {}
    n.verifier, challenge = pkce()
    r = token(n, code_form(n, get_code(n, n.web[0], challenge=challenge, jar=n.jar), n.verifier), n.web)
    eq(r.status, 200, "code exchange " + r.text)
    n.grant = r.json()
    n.code = get_code(n, n.web[0], challenge=challenge, jar=n.jar)  # left unredeemed
    n.revoked = token(n, {"grant_type": "client_credentials"}, n.svc).json()["access_token"]
    eq(post(n.url + "/oauth2/revoke", form={"token": n.revoked}, headers=basic(*n.svc)).status, 200, "revocation")
    n.cc = token(n, {"grant_type": "client_credentials"}, n.svc).json()["access_token"]
    return n


def successor(old, data_dir, conf=CONF):
    """A node on data_dir with old's name, address and issuer (a move keeps the issuer, and cookies are named after
    the node)."""
    n = Node("primary", name=old.name, conf=conf, data_dir=data_dir)
    n.port, n.url = old.port, old.url
    n.conf["node"].update({"listen": f"127.0.0.1:{old.port}", "public_url": old.url})
    n.redirect, n.web, n.svc = old.redirect, old.web, old.svc
    return n


def signed_in(n, jar):
    """1 when the browser's session at n lets authorize answer with a code at once (no sign-in page)."""
    params = {"client_id": n.web[0], "response_type": "code", "redirect_uri": n.redirect, "scope": "openid",
              "state": "s", "code_challenge": pkce()[1], "code_challenge_method": "S256"}
    r = request("GET", n.url + "/oauth2/authorize?" + urllib.parse.urlencode(params),
                headers={"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())})
    return r.status == 302 and (r.header("location") or "").startswith(n.redirect + "?code=")


def lists(n):
    return {what: json.loads(n.hubctl(what, "list", "--json").stdout) for what in ("user", "client", "node", "role")}


# ---- the move ----

def sign_out(n, jar):
    """The browser of jar signs out at n (GET /logout's form, then POST /logout with its fields): the answer's status."""
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    page = request("GET", n.url + "/logout", headers={"Cookie": cookie})
    eq(page.status, 200, "the sign-out page")
    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', page.text))
    ok("csrf_token" in fields, "the sign-out form has its token")
    return post(n.url + "/logout", form=dict(fields, decision="yes"),
                headers={"Cookie": cookie, "Sec-Fetch-Site": "same-origin"}).status


def test_move_with_keys():
    old = populated()
    before = lists(old)
    old_kids = sorted(k["kid"] for k in get(old.url + "/oauth2/jwks").json()["keys"])
    dump = export(old.data_dir, "--with-keys")  # from the running node
    old.stop()
    ls = lines(dump)
    eq({k: ls[0][k] for k in ("format", "version", "schema_version", "with_keys")},
       {"format": "hub-store", "version": 1, "schema_version": 1, "with_keys": True}, "header")
    eq(ls[-1], {"end": True, "lines": len(ls) - 2}, "end line")
    tables = {l["table"] for l in ls if "table" in l}
    # (not "tokens": only older versions wrote access tokens' records; a user's jti names its family now)
    for t in ("meta", "users", "users_by_name", "users_by_email", "roles", "clients", "settings", "nodes", "sessions",
              "codes", "refresh", "families", "revoked", "keys", "client_origins", "user_families", "owner_index"):
        ok(t in tables, f"the dump holds table {t}: {sorted(tables)}")
    ok(any(l.get("table") == "meta" and l["key"] == "idx:owner_index" for l in ls), "the owner index's mark travels with it")
    users = [l for l in ls if l.get("table") == "users"]
    eq(users[0]["value"]["username"], "alice", "a JSON record is embedded as an object")
    key_recs = [l["key"] for l in ls if l.get("table") == "keys"]
    private = [l for l in ls if "private_key" in l]
    eq(sorted(key_recs), old_kids, "both keys")
    eq([p["private_key"] for p in private], key_recs, "each private key right after its record")
    ok(all(p["pem"].startswith("-----BEGIN PRIVATE KEY-----\n") for p in private), "PEM")

    new_dir = os.path.join(tmpdir("hub-moved-"), "data")
    out = import_(new_dir, dump)
    ok(re.search(r"imported \d+ records into .* with 2 private signing keys", out), out)
    for kid in key_recs:
        eq(os.stat(os.path.join(new_dir, "keys", kid + ".pem")).st_mode & 0o777, 0o600, "private key file mode")
    same_dump(body_lines(export(new_dir, "--with-keys")), body_lines(dump), "export -> import -> export")

    new = successor(old, new_dir).start()
    eq(lists(new), before, "users, clients, nodes and roles")
    jwks = get(new.url + "/oauth2/jwks").json()["keys"]
    eq(sorted(k["kid"] for k in jwks), old_kids, "the same keys published")
    for what in ("access_token", "id_token"):
        verify_jwt(old.grant[what], jwks)
    verify_jwt(old.cc, jwks)
    i = introspect(new, old.grant["access_token"], new.web)
    eq((i["active"], i.get("username")), (True, "alice"), "an access token from before the move")
    eq(introspect(new, old.cc, new.svc)["active"], True, "a client_credentials token from before the move")
    eq(introspect(new, old.revoked, new.svc)["active"], False, "a token revoked before the move stays revoked")
    ok(signed_in(new, old.jar), "the browser's session goes on")
    ok(not signed_in(new, {}), "a browser without it is not signed in")
    r = token(new, {"grant_type": "refresh_token", "refresh_token": old.grant["refresh_token"]}, new.web)
    eq(r.status, 200, "a refresh token from before the move " + r.text)
    verify_jwt(r.json()["access_token"], jwks)
    eq(token(new, code_form(new, old.code, old.verifier), new.web).status, 200, "a code from before the move")
    eq(token(new, {"grant_type": "client_credentials"}, new.svc).status, 200, "a client secret")
    verifier, challenge = pkce()
    code = get_code(new, new.web[0], challenge=challenge)  # signs in with alice's password
    eq(token(new, code_form(new, code, verifier), new.web).status, 200, "a password")
    # the moved index (its mark came with it: no scan) reaches the family of the browser's session from before the move
    moved = r.json()
    eq(introspect(new, moved["access_token"], new.web)["active"], True, "the refreshed token before the sign-out")
    ok(sign_out(new, old.jar) in (200, 302, 303), "the sign-out")
    eq(introspect(new, moved["access_token"], new.web)["active"], False, "its family revoked by the sign-out")
    r = token(new, {"grant_type": "refresh_token", "refresh_token": moved["refresh_token"]}, new.web)
    eq((r.status, r.json().get("error")), (400, "invalid_grant"), "its refresh token refused after the sign-out")
    eq(new.stop(), 0, "clean stop")


def test_move_without_keys():
    old = populated()
    dump = export(old.data_dir)
    old.stop()
    ls = lines(dump)
    eq(ls[0]["with_keys"], False, "the header says the keys are left out")
    ok(not any(l.get("table") == "keys" or "private_key" in l for l in ls), "no key record, no private key")
    ok(not any(l.get("table") == "settings" and l["key"].startswith("secret:") for l in ls), "no CSRF key")
    ok(b"PRIVATE KEY" not in dump, "no PEM")
    ok(any(l.get("table") == "refresh" for l in ls) and any(l.get("table") == "sessions" for l in ls), "the rest is there")

    # into a data dir hubctl init made: its key signs
    new_dir = os.path.join(tmpdir("hub-nokeys-"), "data")
    eq(ctl(new_dir, "init").returncode, 0, "init")
    init_kid = [k["kid"] for k in json.loads(ctl(new_dir, "keys", "list", "--json").stdout)]
    out = import_(new_dir, dump)
    ok("the dump holds no signing keys: the key hubctl init made signs" in out, out)
    eq([k["kid"] for k in json.loads(ctl(new_dir, "keys", "list", "--json").stdout)], init_kid, "init's key stays")
    new = successor(old, new_dir).start()
    eq([k["kid"] for k in get(new.url + "/oauth2/jwks").json()["keys"]], init_kid, "only init's key is published")
    eq(introspect(new, old.grant["access_token"], new.web)["active"], False, "a token of a key left behind")
    ok(signed_in(new, old.jar), "sessions are carried")
    r = token(new, {"grant_type": "refresh_token", "refresh_token": old.grant["refresh_token"]}, new.web)
    eq(r.status, 200, "refresh tokens are carried " + r.text)
    eq(jwt_parts(r.json()["access_token"])[0]["kid"], init_kid[0], "signed with the new key")
    eq(new.stop(), 0, "clean stop")

    # into a new data dir: hubd makes a key when it starts
    other = os.path.join(tmpdir("hub-nokeys2-"), "data")
    ok("hubd makes a new key when it starts" in import_(other, dump), "says what happens to the keys")
    eq(json.loads(ctl(other, "keys", "list", "--json").stdout), [], "no key yet")


# ---- sealed and unsealed stores ----

def with_policy_secret(ls, path):
    """ls (parsed dump lines) with the saved key policy naming the cluster secret path (None: none), as an import into
    a target of that kind leaves it."""
    out = []
    for l in ls:
        if l.get("table") == "settings" and l["key"] == "key_policy":
            v = {k: x for k, x in l["value"].items() if k != "cluster_secret_file"}
            if path is not None:
                v["cluster_secret_file"] = os.path.realpath(path)
            l = dict(l, value=v)
        out.append(l)
    return out


def carried_on(old, new, what):
    """Tokens from before the move verify against new's JWKS (the same keys), introspect active, the refresh token
    redeems and the new access token verifies too."""
    jwks = get(new.url + "/oauth2/jwks").json()["keys"]
    eq(sorted(k["kid"] for k in jwks), old.kids, f"{what}: the same keys published")
    for tok in (old.grant["access_token"], old.grant["id_token"], old.cc):
        verify_jwt(tok, jwks)
    eq(introspect(new, old.grant["access_token"], new.web)["active"], True, f"{what}: an access token from before")
    r = token(new, {"grant_type": "refresh_token", "refresh_token": old.grant["refresh_token"]}, new.web)
    eq(r.status, 200, f"{what}: a refresh token from before " + r.text)
    verify_jwt(r.json()["access_token"], jwks)


def test_move_into_sealed():
    """From a primary with key files into a data dir whose primary seals its keys with a cluster secret: the keys are
    sealed by the import itself (no key file, ever), the store names the secret for hubctl, a primary without the
    secret refuses the store, the one with it carries on."""
    old = populated()
    old.kids = sorted(k["kid"] for k in get(old.url + "/oauth2/jwks").json()["keys"])
    dump = export(old.data_dir, "--with-keys")
    old.stop()
    d = tmpdir("hub-into-sealed-")
    secret, new_dir = write_secret(os.path.join(d, "cluster.secret")), os.path.join(d, "data")
    p = ctl(new_dir, "store", "import", "--cluster-secret", secret, input=dump)
    eq(p.returncode, 0, "import --cluster-secret: " + p.stderr.decode())
    ok("with 2 private signing keys, sealed with the cluster secret" in p.stdout.decode(), p.stdout.decode())
    eq(pem_files(new_dir), [], "no key file written")
    back = export(new_dir, "--with-keys")  # hubctl finds the secret through the store
    ok(b"key_secrets" not in back, "the sealed records stay in the store")
    eq(lines(back)[1:], with_policy_secret(lines(dump), secret)[1:], "the same store, its policy naming the secret")
    # a primary without the secret refuses the store (and makes no key of its own)
    refused_start(None, successor(old, new_dir), "is sealed in the store with a cluster secret")
    new = successor(old, new_dir, sealed_conf(secret)).start()
    carried_on(old, new, "into sealed")
    eq(new.stop(), 0, "clean stop")
    eq(pem_files(new_dir), [], "still no key file")


def test_move_out_of_sealed():
    """From a primary whose keys are sealed (a cluster's) into a data dir of key files, and into one sealed with
    another cluster secret: the dump carries each key as PEM, read through the source's secret."""
    src_secret = write_secret(os.path.join(tmpdir("hub-sealed-src-"), "cluster.secret"))
    old = populated(sealed_conf(src_secret))
    old.kids = sorted(k["kid"] for k in get(old.url + "/oauth2/jwks").json()["keys"])
    eq(pem_files(old.data_dir), [], "the source keeps no key file")
    dump = export(old.data_dir, "--with-keys")
    old.stop()
    ls = lines(dump)
    ok(not any(l.get("table") == "key_secrets" for l in ls), "no sealed record in the dump")
    eq(sorted(l["private_key"] for l in ls if "private_key" in l), old.kids, "each key as PEM")
    os.chmod(src_secret, 0o644)  # a secret others may read is refused: no dump without the keys it promises
    p = ctl(old.data_dir, "store", "export", "--with-keys")
    eq(p.returncode, 1, "export with an unusable secret")
    ok(p.stderr.decode().count("\n") == 1 and "primary.cluster_secret_file" in p.stderr.decode(), p.stderr.decode())
    ok(b'"end"' not in p.stdout, "no end line")
    os.chmod(src_secret, 0o600)

    files_dir = os.path.join(tmpdir("hub-out-of-sealed-"), "data")
    out = import_(files_dir, dump)
    ok("sealed with the cluster secret" not in out, out)
    eq(pem_files(files_dir), [k + ".pem" for k in old.kids], "key files")
    eq(lines(export(files_dir, "--with-keys"))[1:], with_policy_secret(ls, None)[1:], "the store names no secret")
    new = successor(old, files_dir).start()
    carried_on(old, new, "out of sealed")
    eq(new.stop(), 0, "clean stop")

    d = tmpdir("hub-resealed-")
    other, resealed = write_secret(os.path.join(d, "other.secret")), os.path.join(d, "data")
    eq(ctl(resealed, "store", "import", "--cluster-secret", other, input=dump).returncode, 0, "import, another secret")
    eq(pem_files(resealed), [], "no key file")
    new = successor(old, resealed, sealed_conf(other)).start()
    carried_on(old, new, "sealed again with another secret")
    eq(new.stop(), 0, "clean stop")


def test_private_keys_in_target():
    """A target holding a private key under a kid of the dump (a file left behind), or init's key under a dump's kid:
    refused, that key left as it was, nothing stored; files or sealed."""
    src = small_store("ES256")
    dump = export(src, "--with-keys")
    kid = kids(src)[0]
    leftover = os.path.join(tmpdir("hub-leftover-"), "data")
    os.makedirs(os.path.join(leftover, "keys"), mode=0o700)
    with open(os.path.join(leftover, "keys", kid + ".pem"), "w") as f:
        f.write("left behind\n")
    p = ctl(leftover, "store", "import", input=dump)
    err = p.stderr.decode()
    eq((p.returncode, err.count("\n")), (1, 1), "a key file under the dump's kid: " + err)
    ok(f"the private key of signing key {kid}: the data dir holds one already" in err, err)
    with open(os.path.join(leftover, "keys", kid + ".pem")) as f:
        eq(f.read(), "left behind\n", "the file left as it was")
    eq(lines(export(leftover))[1:], [{"end": True, "lines": 0}], "nothing stored")

    secret = write_secret(os.path.join(tmpdir("hub-own-secret-"), "cluster.secret"))
    for args in ((), ("--cluster-secret", secret)):
        own = os.path.join(tmpdir("hub-own-"), "data")
        eq(ctl(own, "init", "--alg", "ES256").returncode, 0, "init")
        own_dump, init_kid = export(own, "--with-keys"), kids(own)
        with open(os.path.join(own, "keys", init_kid[0] + ".pem"), "rb") as f:
            pem = f.read()
        p = ctl(own, "store", "import", *args, input=own_dump)  # the target's own key, brought back
        err = p.stderr.decode()
        eq((p.returncode, err.count("\n")), (1, 1), f"{args}: init's kid in the dump: {err}")
        ok(f"signing key {init_kid[0]} is the one hubctl init made" in err, err)
        eq(kids(own), init_kid, f"{args}: init's key record stays")
        with open(os.path.join(own, "keys", init_kid[0] + ".pem"), "rb") as f:
            eq(f.read(), pem, f"{args}: init's private key stays")
        same_dump(body_lines(export(own, "--with-keys")), body_lines(own_dump), f"{args}: nothing changed")


# ---- the target ----

def small_store(alg="RS256"):
    """A data dir made by hubctl alone: init, a user, a client."""
    d = os.path.join(tmpdir("hub-small-"), "data")
    eq(ctl(d, "init", "--alg", alg).returncode, 0, "init")
    eq(ctl(d, "user", "add", "bob", "--email", "bob@example.com", input=b"pw-pw-pw-pw\n").returncode, 0, "user add")
    eq(ctl(d, "client", "add", "--app-name", "app", "--redirect-uris", "http://127.0.0.1:9/cb").returncode, 0, "client add")
    return d


def kids(d):
    return sorted(k["kid"] for k in json.loads(ctl(d, "keys", "list", "--json").stdout))


def pem_files(d):
    keys = os.path.join(d, "keys")
    return sorted(os.listdir(keys)) if os.path.isdir(keys) else []


def test_target_init_only_or_empty():
    src = small_store("ES256")
    dump = export(src, "--with-keys")
    # init's key and roles give way to the dump's: its keys sign, init's private key goes
    dst = os.path.join(tmpdir("hub-target-"), "data")
    eq(ctl(dst, "init").returncode, 0, "init")
    init_kid = kids(dst)
    import_(dst, dump)
    eq(kids(dst), kids(src), "the dump's keys")
    eq(pem_files(dst), [k + ".pem" for k in kids(src)], "init's private key removed, the dump's written")
    same_dump(body_lines(export(dst, "--with-keys")), body_lines(dump), "the same store as the source")
    ok(init_kid[0] not in kids(dst), "init's key is gone")

    # anything else in the target: refused, naming the table, nothing changed
    before = export(dst, "--with-keys")
    p = ctl(dst, "store", "import", input=dump)
    eq(p.returncode, 1, "a second import")
    err = p.stderr.decode()
    eq(err.count("\n"), 1, "one line")
    ok(re.match(r"hubctl: store import: .*: not empty: table users holds records", err), err)
    same_dump(body_lines(export(dst, "--with-keys")), body_lines(before), "nothing changed")

    # a data dir a primary ran on holds more than init makes (settings, its CSRF key)
    n = Node("primary", name="ran")
    n.start()
    n.stop()
    p = ctl(n.data_dir, "store", "import", input=dump)
    eq(p.returncode, 1, "import into a data dir hubd used")
    ok(re.search(r"not empty: table \w+ holds records", p.stderr.decode()), p.stderr.decode())
    eq(json.loads(ctl(n.data_dir, "user", "list", "--json").stdout), [], "no user came in")

    # a role other than the built-in ones makes a target not empty too
    third = os.path.join(tmpdir("hub-target3-"), "data")
    eq(ctl(third, "init").returncode, 0, "init")
    eq(ctl(third, "role", "add", "Extra").returncode, 0, "role add")
    p = ctl(third, "store", "import", input=dump)
    ok(p.returncode == 1 and b"table roles holds records" in p.stderr, p.stderr.decode())


# ---- bad dumps ----

def dump_of(lines_):
    return b"".join(l + b"\n" for l in lines_)


def with_end(body):
    """A header, body's lines and an end line that counts them (so that only what a variant broke is wrong)."""
    return [HEADER] + body + [json.dumps({"end": True, "lines": len(body)}).encode()]


def record(table, key, value, exp=0):
    """A dump line as export writes it (compact JSON)."""
    return json.dumps({"table": table, "key": key, "value": value, "expires_at": exp}, separators=(",", ":")).encode()


HEADER = b'{"format":"hub-store","version":1,"schema_version":1,"exported_at":1,"with_keys":true}'


def bad_dumps(good):
    """(what, dump, the line named, what the message says) for each way a dump can be wrong."""
    L = good.split(b"\n")[:-1]
    body = L[1:-1]
    k = next(i for i, l in enumerate(body) if l.startswith(b'{"table":"keys"'))
    keyrec, priv = json.loads(body[k]), json.loads(body[k + 1])
    users = next(l for l in body if l.startswith(b'{"table":"users"'))
    moved = dict(keyrec, key="../../../tmp/x", value=dict(keyrec["value"], kid="../../../tmp/x"))
    bad_pem = dict(priv, pem=priv["pem"].replace("A", "B", 40))
    other_kid = dict(keyrec, key="AAAAAAAAAAAAAAAA")
    big = record("users", "big", "x" * (1 << 20))
    long_pem = dict(priv, pem="# padding\n" * 7000 + priv["pem"])  # still the key of its record, past 64 KiB
    return [
        ("a line cut short", dump_of(L[:3] + [L[3][: len(L[3]) // 2]]), 4, "not JSON"),
        ("the end line missing", dump_of(L[:-1]), len(L), "the dump ends without its end line"),
        ("bad JSON", dump_of(with_end(body[:1] + [b'{"table":"users","key":"a",}'] + body[1:])), 3, "not JSON"),
        ("not an object", dump_of(with_end(body[:1] + [b'["users","a","b",0]'] + body[1:])), 3, "not a JSON object"),
        ("unknown table", dump_of(with_end([record("userz", "a", "b")] + body)), 2, "table: not a table of the store"),
        ("unknown field", dump_of(with_end([users[:-1] + b',"x":1}'] + body)), 2, "x: unknown field"),
        ("bad base64", dump_of(with_end([b'{"table":"users","key_b64":"YQ==","value":"b","expires_at":0}'] + body)), 2,
         "key_b64: not base64url"),
        ("bad base64 value", dump_of(with_end([b'{"table":"users","key":"a","value_b64":"a b","expires_at":0}'] + body)), 2,
         "value_b64: not base64url"),
        ("a negative expiry", dump_of(with_end([record("users", "a", "b", -5)] + body)), 2, "expires_at: expected"),
        ("a duplicate key", dump_of(with_end(body + [users])), len(body) + 2, "key: a second record of the same key in table users"),
        ("a newer format", dump_of([HEADER.replace(b'"version":1', b'"version":2')] + L[1:]), 1, "version: 2 is not a version"),
        ("a newer schema", dump_of([HEADER.replace(b'"schema_version":1', b'"schema_version":99')] + L[1:]), 1,
         "schema_version: 99 is newer than this build's 1"),
        ("the header missing", dump_of(L[1:]), 1, "the first line is not the header"),
        ("a second header", dump_of(with_end(body[:2] + [HEADER] + body[2:])), 4, "format: a second header"),
        ("an oversized line", dump_of(with_end(body[:2] + [big] + body[2:])), 4, "longer than 1048576 bytes"),
        ("binary junk", b"\x00\xff\xfe\x80junk\x1b[2J\n" * 3, 1, "not JSON"),
        ("junk inside", dump_of(with_end(body[:5] + [b"\x7fELF\x02\x01\x01\x00\x00"] + body[5:])), 7, "not JSON"),
        ("nothing at all", b"", 1, "the input is empty"),
        ("a line after the end", dump_of(L + [users]), len(L) + 1, "a line after the end line"),
        ("the end miscounted", dump_of(L[:-1] + [b'{"end":true,"lines":%d}' % (len(body) + 1)]), len(L), "lines: the end line counts"),
        ("a bad private key", dump_of(with_end(body[:k + 1] + [json.dumps(bad_pem).encode()] + body[k + 2:])), k + 3,
         "pem: not a private key for"),
        ("a private key of another kid", dump_of(with_end(body[:k] + [json.dumps(other_kid).encode()] + body[k + 1:])),
         k + 2, "key: not the kid of its record"),
        ("a kid that walks out of keys/", dump_of(with_end([json.dumps(moved).encode()] + body)), 2,
         "value: not a signing key record"),
        ("a private key twice", dump_of(with_end(body[:k + 2] + body[k:k + 2] + body[k + 2:])), k + 5,
         "private_key: a second private key of the same kid"),
        ("a key too long for the store", dump_of(with_end(body + [record("users", "k" * 600, "v")])), len(body) + 2,
         "key: too long for the store"),
        ("a private key without its record", dump_of(with_end(body[:k] + body[k + 1:])), k + 2,
         "private_key: does not follow the keys record of its kid"),
        ("keys in a dump made without", dump_of([HEADER.replace(b"true", b"false")] + L[1:]), k + 2,
         "table: a dump made without keys"),
        ("the store's schema version", dump_of(with_end([b'{"table":"meta","key":"schema_version","value_b64":"AAAAAAAAAAE",'
                                                          b'"expires_at":0}'] + body)), 2, "key: meta schema_version"),
        ("a sealed private key", dump_of(with_end([record("key_secrets", keyrec["key"], {"box": "AQID"})] + body)), 2,
         "table: key_secrets is never in a dump"),
        ("a sealed private key as bytes", dump_of(with_end(body + [json.dumps(
            {"table": "key_secrets", "key_b64": "a2lk", "value_b64": "AQID", "expires_at": 0}).encode()])),
         len(body) + 2, "table: key_secrets is never in a dump"),
        ("a sealed private key beside its PEM",
         dump_of(with_end(body[:k + 2] + [record("key_secrets", keyrec["key"], "x")] + body[k + 2:])), k + 4,
         "table: key_secrets"),
        ("a PEM longer than a vault keeps",
         dump_of(with_end(body[:k + 1] + [json.dumps(long_pem).encode()] + body[k + 2:])), k + 3,
         "pem: longer than 65536 bytes"),
    ]


def test_bad_dumps():
    src = small_store()
    good = export(src, "--with-keys")
    dst = os.path.join(tmpdir("hub-bad-"), "data")
    for what, dump, line, says in bad_dumps(good):
        p = ctl(dst, "store", "import", input=dump)
        err = p.stderr.decode(errors="replace")
        eq(p.returncode, 2, f"{what}: exit status ({err})")
        eq(err.count("\n"), 1, f"{what}: one line: {err!r}")
        m = re.match(r"hubctl: store import: line (\d+): (.*)$", err.strip())
        ok(m is not None, f"{what}: names the line: {err!r}")
        eq(int(m.group(1)), line, f"{what}: the line named ({err.strip()})")
        ok(m.group(2).startswith(says), f"{what}: says {says!r}: {err.strip()}")
        # nothing stored: an empty store, no private key file
        eq(lines(export(dst, "--with-keys"))[1:], [{"end": True, "lines": 0}], f"{what}: nothing stored")
        eq(pem_files(dst), [], f"{what}: no private key written")
    # the same target takes the good dump afterwards
    import_(dst, good)
    same_dump(body_lines(export(dst, "--with-keys")), body_lines(good), "the good dump")


def test_expired_and_big():
    """Records whose time has passed stay out; a dump bigger than the store's first map (8 MiB) goes in whole, the map
    growing under the one write transaction, which runs again from the spool."""
    body = [record("sessions", "gone", {"sub": "x"}, 1000), record("codes", "gone-too", "y", 1)]
    payload = "p" * 900
    audit = [record("audit", "%020d" % i, {"seq": i, "what": payload}) for i in range(20000)]
    live = [record("sessions", "live", {"sub": "y"}, 4102444800)]
    dump = dump_of(with_end(body + audit + live).copy())
    ok(len(dump) > 16 << 20, "bigger than twice the first map")
    dst = os.path.join(tmpdir("hub-big-"), "data")
    out = import_(dst, dump)
    ok("imported 20001 records" in out and "(2 expired, left out)" in out, out)
    back = export(dst)
    expect = [HEADER.replace(b"true", b"false")] + live + audit + [b'{"end":true,"lines":20001}']
    same_dump(body_lines(back), body_lines(dump_of(expect)), "the live records, in the store's order")
    ok(os.path.getsize(os.path.join(dst, "data.mdb")) > 16 << 20, "the map grew")
    eq([f for f in os.listdir(dst) if f.startswith(".import")], [], "no spool file left")


def test_usage():
    d = small_store()
    p = ctl(d, "store", "export", "--with-key")  # an abbreviation getopt accepts
    eq(p.returncode, 0, "--with-key abbreviates --with-keys")
    ok(b'"private_key"' in p.stdout, "with keys")
    for args in (("store", "export", "extra"), ("store", "export", "--keys"), ("store", "import", "FILE"),
                 ("store", "import", "--force"), ("store", "import", "--cluster-secret")):
        p = ctl(d, *args, input=b"")
        eq(p.returncode, 2, f"{args}: usage error")
        eq(p.stderr.decode().count("\n"), 1, f"{args}: one line")
    p = subprocess.run([HUBCTL, "--help"], capture_output=True, text=True, timeout=30)
    ok("store export [--with-keys]" in p.stdout and "store import [--cluster-secret FILE]" in p.stdout,
       "listed in --help")
    # a cluster secret the import cannot use: refused before anything is read or stored
    dump = export(d, "--with-keys")
    sd = tmpdir("hub-bad-secret-")
    readable = write_secret(os.path.join(sd, "readable.secret"))
    os.chmod(readable, 0o644)
    short = write_secret(os.path.join(sd, "short.secret"), raw=b"0123456789")
    with open(os.path.join(sd, "text.secret"), "w") as f:
        f.write("not base64 at all!\n")
    os.chmod(os.path.join(sd, "text.secret"), 0o600)
    for path in (os.path.join(sd, "missing.secret"), readable, short, os.path.join(sd, "text.secret"), sd):
        dst = os.path.join(tmpdir("hub-secret-target-"), "data")
        p = ctl(dst, "store", "import", "--cluster-secret", path, input=dump)
        err = p.stderr.decode()
        eq((p.returncode, err.count("\n")), (1, 1), f"{path}: refused in one line: {err}")
        ok("primary.cluster_secret_file" in err, err)
        eq(lines(export(dst))[1:], [{"end": True, "lines": 0}], f"{path}: nothing stored")
        eq(pem_files(dst), [], f"{path}: no key file")


if __name__ == "__main__":
    run([test_move_with_keys, test_move_without_keys, test_move_into_sealed, test_move_out_of_sealed,
         test_private_keys_in_target, test_target_init_only_or_empty, test_bad_dumps, test_expired_and_big, test_usage])
