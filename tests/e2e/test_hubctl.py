"""hubctl end to end: every SPEC §2 command with good and bad arguments, exit codes 0/1/2, one-line errors naming the
argument, --json output, and that a refused command leaves the store unchanged."""
import json
import os
import re

from hubtest import HUBCTL, Node, eq, eventually, hubctl, ok, post, run, tmpdir

PASSWORD = "correct horse battery"


def ctl(d, *args, input=None):
    """hubctl on data dir d, or on the store of Node d (whichever its backend)."""
    if isinstance(d, Node):
        return d.hubctl(*args, input=input, check=False)
    return hubctl(d, *args, input=input, check=False)


def good(d, *args, input=None):
    p = ctl(d, *args, input=input)
    if p.returncode != 0:
        raise AssertionError(f"hubctl {' '.join(args)} exited {p.returncode}: {p.stderr.strip()}")
    return p


def js(d, *args):
    """Runs a read command with --json and parses its output."""
    return json.loads(good(d, *args, "--json").stdout)


def snapshot(d):
    """Everything hubctl can list, to show that a refused command changed nothing."""
    return {"users": js(d, "user", "list"), "roles": js(d, "role", "list"), "clients": js(d, "client", "list"),
            "settings": js(d, "settings", "show"), "nodes": js(d, "node", "list"), "keys": js(d, "keys", "list")}


def bad(d, code, needle, *args, input=None):
    """Runs a command that must be refused with exit code `code` and one stderr line containing needle; the store
    must be unchanged."""
    before = snapshot(d) if isinstance(d, Node) or os.path.isdir(d) else None
    p = ctl(d, *args, input=input)
    what = f"hubctl {' '.join(args)}"
    eq(p.returncode, code, f"{what} exit code (stderr {p.stderr!r})")
    lines = p.stderr.splitlines()
    eq(len(lines), 1, f"{what}: one line on stderr: {p.stderr!r}")
    ok(lines[0].startswith("hubctl: "), f"{what}: stderr starts with hubctl: {lines[0]!r}")
    ok(needle in lines[0], f"{what}: stderr names {needle!r}: {lines[0]!r}")
    eq(p.stdout, "", f"{what}: nothing on stdout")
    if before is not None:
        eq(snapshot(d), before, f"{what}: store unchanged")
    return lines[0]


def creds(out):
    cid = re.search(r"^client_id: (\S+)$", out, re.M)
    sec = re.search(r"^client_secret: (\S+)$", out, re.M)
    return cid.group(1) if cid else None, sec.group(1) if sec else None


def fresh(alg=None):
    """A new store after `hubctl init`: an unstarted primary's (its data dir, or its database when primaries run on
    PostgreSQL, HUB_TEST_STORE), which ctl, good, bad and js administer."""
    n = Node("primary", name="hubctl")
    good(n, "init", *(["--alg", alg] if alg else []))
    return n


def pwfile(content):
    path = os.path.join(tmpdir("hubctl-pw-"), "pw")
    with open(path, "w") as f:
        f.write(content)
    return path


# ---- global usage ----

def test_usage():
    d = os.path.join(tmpdir("hubctl-"), "none")
    p = ctl(d, "--help")
    eq(p.returncode, 0, "--help")
    p = good(d, "user", "add", "--help")
    ok("--email" in p.stdout, "per-command help")
    for args, needle in ((["frobnicate"], "unknown command"), (["user", "frob"], "unknown command"), ([], "missing command")):
        bad(d, 2, needle, *args)
    p = __import__("subprocess").run([HUBCTL, "user", "list"], capture_output=True, text=True, timeout=30)
    eq(p.returncode, 2, "no -d")
    ok("-d DATA_DIR" in p.stderr and len(p.stderr.splitlines()) == 1, "names -d: " + p.stderr)
    bad(d, 1, d, "user", "list")
    ok(not os.path.exists(d), "a read on a missing data dir does not create it")


# ---- init and keys ----

def test_init_and_keys():
    d = os.path.join(tmpdir("hubctl-"), "data")
    bad(d, 2, "--alg", "init", "--alg", "HS256")
    ok(not os.path.exists(d), "refused init creates nothing")
    bad(d, 2, "unexpected argument", "init", "extra")
    good(d, "init")
    ok(os.path.isdir(d), "data dir created")
    eq(js(d, "role", "list"), ["Guest", "System Manager"], "built-in roles")
    keys = js(d, "keys", "list")
    eq(len(keys), 1, "one key")
    eq((keys[0]["alg"], keys[0]["state"]), ("RS256", "active"), "first key")
    bad(d, 1, "already initialised", "init")
    bad(d, 1, "already initialised", "init", "--alg", "ES256")
    eq(js(fresh("ES256"), "keys", "list")[0]["alg"], "ES256", "init --alg ES256")
    eq(js(fresh("EdDSA"), "keys", "list")[0]["alg"], "EdDSA", "init --alg EdDSA")

    out = good(d, "keys", "list").stdout
    ok(keys[0]["kid"] in out and "active" in out, "keys table: " + out)
    p = good(d, "keys", "rotate")
    kid = re.search(r"next: (\S+)", p.stdout).group(1)
    states = {k["kid"]: k["state"] for k in js(d, "keys", "list")}
    eq(states, {keys[0]["kid"]: "active", kid: "next"}, "rotate publishes a next key")
    bad(d, 1, kid, "keys", "rotate")
    bad(d, 2, "KID", "keys", "retire", "no-such-kid")
    bad(d, 2, "missing KID", "keys", "retire")
    bad(d, 2, "unknown option", "keys", "list", "--yaml")
    good(d, "keys", "retire", kid)
    eq([k["kid"] for k in js(d, "keys", "list") if k["state"] != "retired"], [keys[0]["kid"]], "next key retired")


# ---- users ----

def test_users():
    d = fresh()
    good(d, "role", "add", "Employee")
    p = good(d, "user", "add", "alice", "--email", "Alice@Example.com", "--full-name", "Alice Doe", "--given-name", "Alice",
             "--family-name", "Doe", "--role", "Employee", input=PASSWORD + "\n")
    sub = re.search(r"sub: (\S+)", p.stdout).group(1)
    eq(len(sub), 22, "sub is 22 base64url chars")
    good(d, "user", "add", "bob", "--email", "bob@example.com", "--password-file", pwfile(PASSWORD + "\n"))
    u = js(d, "user", "show", "alice")
    eq((u["sub"], u["username"], u["email"], u["full_name"], u["given_name"], u["family_name"], u["roles"], u["enabled"]),
       (sub, "alice", "Alice@Example.com", "Alice Doe", "Alice", "Doe", ["Employee"], True), "user show --json")
    ok("password_hash" not in u and "argon2" not in json.dumps(u), "no hash shown")
    eq(js(d, "user", "show", "ALICE@example.COM")["sub"], sub, "show by e-mail, any case")
    eq([x["username"] for x in js(d, "user", "list")], ["alice", "bob"], "user list --json")
    ok("alice" in good(d, "user", "list").stdout and "email: Alice@Example.com" in good(d, "user", "show", "alice").stdout,
       "readable output")

    # refused additions
    bad(d, 2, "--email", "user", "add", "carol", input=PASSWORD)
    bad(d, 2, "--email", "user", "add", "carol", "--email", "not-an-address", input=PASSWORD)
    bad(d, 2, "--email", "user", "add", "carol", "--email", "a b@example.com", input=PASSWORD)
    bad(d, 2, "--email", "user", "add", "carol", "--email", "x" * 250 + "@a.bc", input=PASSWORD)
    bad(d, 2, "username", "user", "add", "bad name", "--email", "c@example.com", input=PASSWORD)
    bad(d, 2, "username", "user", "add", "x" * 65, "--email", "c@example.com", input=PASSWORD)
    bad(d, 2, "NAME", "user", "add", "alice", "--email", "new@example.com", input=PASSWORD)
    bad(d, 2, "--email", "user", "add", "carol", "--email", "ALICE@EXAMPLE.COM", input=PASSWORD)
    bad(d, 2, "--role", "user", "add", "carol", "--email", "c@example.com", "--role", "Ghost", input=PASSWORD)
    bad(d, 2, "password", "user", "add", "carol", "--email", "c@example.com", input="short\n")
    bad(d, 2, "password", "user", "add", "carol", "--email", "c@example.com", input="")
    bad(d, 2, "password", "user", "add", "carol", "--email", "c@example.com", input="\n")
    bad(d, 2, "--password-file", "user", "add", "carol", "--email", "c@example.com", "--password-file", "/nonexistent/pw")
    bad(d, 2, "--password-file", "user", "add", "carol", "--email", "c@example.com", "--password-file", pwfile("1234567\n"))
    bad(d, 2, "--password-file", "user", "add", "carol", "--email", "c@example.com", "--password-file", pwfile(""))
    bad(d, 2, "unknown option", "user", "add", "carol", "--email", "c@example.com", "--colour", "red", input=PASSWORD)
    bad(d, 2, "missing value", "user", "add", "carol", "--email")
    bad(d, 2, "missing NAME", "user", "add", "--email", "c@example.com", input=PASSWORD)
    # a file's one trailing newline is not part of the password: 8 characters + newline is accepted
    good(d, "user", "add", "carol", "--email", "carol@example.com", "--password-file", pwfile("12345678\n"))

    # show / passwd / disable / enable / roles / del
    bad(d, 2, "NAME", "user", "show", "nobody")
    bad(d, 2, "unexpected argument", "user", "show", "alice", "bob")
    good(d, "user", "passwd", "alice", "--password-file", pwfile("another password\n"))
    good(d, "user", "passwd", "alice", input="yet another one")
    bad(d, 2, "password", "user", "passwd", "alice", input="short")
    bad(d, 2, "NAME", "user", "passwd", "nobody", input=PASSWORD)
    good(d, "user", "disable", "alice")
    eq(js(d, "user", "show", "alice")["enabled"], False, "disabled")
    good(d, "user", "enable", "alice")
    eq(js(d, "user", "show", "alice")["enabled"], True, "enabled")
    bad(d, 2, "NAME", "user", "disable", "nobody")
    good(d, "user", "roles", "alice", "--add", "System Manager", "--remove", "Employee")
    eq(js(d, "user", "show", "alice")["roles"], ["System Manager"], "roles changed")
    good(d, "user", "roles", "alice", "--add", "Employee", "--add", "Guest")
    eq(js(d, "user", "show", "alice")["roles"], ["System Manager", "Employee", "Guest"], "roles added")
    bad(d, 2, "--add", "user", "roles", "alice", "--add", "Ghost", "--remove", "Guest")
    bad(d, 2, "--remove", "user", "roles", "alice", "--remove", "Ghost")
    bad(d, 2, "--add", "user", "roles", "alice")
    # a role held by users is taken from them (and their sessions and tokens end, see test_revocation.py)
    good(d, "role", "add", "Temp")
    good(d, "user", "roles", "alice", "--add", "Temp")
    good(d, "role", "del", "Temp")
    eq(js(d, "user", "show", "alice")["roles"], ["System Manager", "Employee", "Guest"], "role taken from its holder")
    ok("Temp" not in js(d, "role", "list"), "role deleted")
    good(d, "user", "del", "bob")
    bad(d, 2, "NAME", "user", "del", "bob")
    bad(d, 2, "NAME", "user", "show", "bob@example.com")
    # bob's name and address are free again
    good(d, "user", "add", "bob", "--email", "BOB@example.com", input=PASSWORD)


# ---- roles ----

def test_roles():
    d = fresh()
    good(d, "role", "add", "Employee")
    good(d, "role", "add", "Head of Sales")
    eq(js(d, "role", "list"), ["Employee", "Guest", "Head of Sales", "System Manager"], "role list --json")
    ok("Head of Sales\n" in good(d, "role", "list").stdout, "readable role list")
    bad(d, 2, "ROLE", "role", "add", "Employee")
    bad(d, 2, "ROLE", "role", "add", "a;b")
    bad(d, 2, "ROLE", "role", "add", " padded")
    bad(d, 2, "ROLE", "role", "add", "")
    bad(d, 2, "missing ROLE", "role", "add")
    bad(d, 2, "ROLE", "role", "del", "Nope")
    bad(d, 2, "ROLE", "role", "del", "Guest")
    good(d, "client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes", "read",
         "--role", "Head of Sales")
    bad(d, 1, "held by a client", "role", "del", "Head of Sales")  # a client's service role
    # in a client's allowed_roles: refused too (taking it would open the client to everyone), users keep it
    good(d, "role", "add", "Auditor")
    good(d, "user", "add", "audrey", "--email", "audrey@example.com", "--role", "Auditor", input=PASSWORD)
    good(d, "client", "add", "--app-name", "audit", "--redirect-uris", "https://audit.example/cb", "--allowed-roles",
         "Auditor")
    bad(d, 1, "held by a client", "role", "del", "Auditor")
    good(d, "role", "del", "Employee")
    eq(js(d, "role", "list"), ["Auditor", "Guest", "Head of Sales", "System Manager"], "role deleted")
    # an argument that begins with '-' (random ids may) is an argument, not an option
    good(d, "role", "add", "-dash")
    good(d, "user", "add", "-dashed", "--email", "dash@example.com", "--role", "-dash", input=PASSWORD)
    eq(js(d, "user", "show", "-dashed")["roles"], ["-dash"], "a name beginning with '-'")
    bad(d, 2, "-nope", "client", "show", "-nope")
    bad(d, 2, "-x", "user", "list", "-x")


# ---- clients ----

def test_clients():
    d = fresh()
    good(d, "role", "add", "Employee")
    good(d, "role", "add", "Service")
    out = good(d, "client", "add", "--app-name", "web", "--redirect-uris",
               "https://app.example/cb; http://127.0.0.1:5000/cb").stdout
    web, secret = creds(out)
    ok(web and secret and len(secret) >= 43, "client_id and client_secret printed: " + out)
    c = js(d, "client", "show", web)
    eq((c["app_name"], c["grant_type"], c["response_type"], c["auth_method"], c["skip_authorization"], c["enabled"]),
       ("web", "authorization_code", "code", "client_secret_basic", False, True), "defaults")
    eq(c["scopes"], ["openid", "profile", "email", "roles"], "default scopes")
    eq(c["redirect_uris"], ["https://app.example/cb", "http://127.0.0.1:5000/cb"], "redirect URIs split on ';' and space")
    eq(c["default_redirect_uri"], "https://app.example/cb", "default redirect URI = the first")
    ok(secret not in json.dumps(c) and "secret_hash" not in c, "no secret shown")
    ok(f"client_id: {web}" in good(d, "client", "show", web).stdout, "readable show")

    out = good(d, "client", "add", "--app-name", "spa", "--redirect-uris", "http://127.0.0.1:9/cb", "--auth-method", "none",
               "--skip-authorization", "--allowed-roles", "Employee;System Manager").stdout
    spa, spa_secret = creds(out)
    ok(spa and spa_secret is None and "client_secret" not in out, "no secret for auth method none")
    c = js(d, "client", "show", spa)
    eq((c["auth_method"], c["skip_authorization"], c["allowed_roles"]), ("none", True, ["Employee", "System Manager"]), "spa")

    out = good(d, "client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes", "read write",
               "--redirect-uris", "", "--role", "Service").stdout
    svc, svc_secret = creds(out)
    c = js(d, "client", "show", svc)
    eq((c["grant_type"], c["redirect_uris"], c["default_redirect_uri"], c["service_roles"]),
       ("client_credentials", [], None, ["Service"]), "client_credentials client")

    imp = creds(good(d, "client", "add", "--app-name", "imp", "--grant-type", "implicit", "--redirect-uris",
                     "https://imp.example/cb", "--backchannel-logout-uri", "https://imp.example/bcl",
                     "--post-logout-redirect-uris", "https://imp.example/bye https://imp.example/").stdout)[0]
    c = js(d, "client", "show", imp)
    eq((c["response_type"], c["backchannel_logout_uri"], c["post_logout_redirect_uris"]),
       ("token", "https://imp.example/bcl", ["https://imp.example/bye", "https://imp.example/"]), "implicit client")

    line = bad(d, 2, "--redirect-uris", "client", "add", "--app-name", "x", "--redirect-uris", "ftp://x")
    ok('"ftp://x" is not an absolute http(s) URI' in line, line)
    for uris in ("https://a.example/cb#frag", "/relative", "http:///nohost", "https://a.example/cb ftp://b"):
        bad(d, 2, "--redirect-uris", "client", "add", "--app-name", "x", "--redirect-uris", uris)
    bad(d, 2, "--redirect-uris", "client", "add", "--app-name", "x")
    bad(d, 2, "--app-name", "client", "add", "--redirect-uris", "https://a.example/cb")
    bad(d, 2, "--app-name", "client", "add", "--app-name", "", "--redirect-uris", "https://a.example/cb")
    bad(d, 2, "--default-redirect-uri", "client", "add", "--app-name", "x", "--redirect-uris", "https://a.example/cb",
        "--default-redirect-uri", "https://b.example/cb")
    bad(d, 2, "--response-type", "client", "add", "--app-name", "x", "--redirect-uris", "https://a.example/cb",
        "--response-type", "token")
    bad(d, 2, "--response-type", "client", "add", "--app-name", "x", "--redirect-uris", "https://a.example/cb",
        "--grant-type", "implicit", "--response-type", "code")
    bad(d, 2, "--response-type", "client", "add", "--app-name", "x", "--redirect-uris", "https://a.example/cb",
        "--response-type", "id_token")
    bad(d, 2, "--grant-type", "client", "add", "--app-name", "x", "--redirect-uris", "https://a.example/cb",
        "--grant-type", "password")
    bad(d, 2, "--auth-method", "client", "add", "--app-name", "x", "--grant-type", "client_credentials",
        "--auth-method", "none")
    bad(d, 2, "--auth-method", "client", "add", "--app-name", "x", "--redirect-uris", "https://a.example/cb",
        "--auth-method", "private_key_jwt")
    bad(d, 2, "--scopes", "client", "add", "--app-name", "x", "--redirect-uris", "https://a.example/cb", "--scopes", " ; ")
    bad(d, 2, "--allowed-roles", "client", "add", "--app-name", "x", "--redirect-uris", "https://a.example/cb",
        "--allowed-roles", "Ghost")
    bad(d, 2, "--role", "client", "add", "--app-name", "x", "--grant-type", "client_credentials", "--role", "Ghost")
    bad(d, 2, "--backchannel-logout-uri", "client", "add", "--app-name", "x", "--redirect-uris", "https://a.example/cb",
        "--backchannel-logout-uri", "javascript:alert(1)")
    bad(d, 2, "--post-logout-redirect-uris", "client", "add", "--app-name", "x", "--redirect-uris", "https://a.example/cb",
        "--post-logout-redirect-uris", "nope")
    bad(d, 2, "unknown option", "client", "add", "--app-name", "x", "--redirects", "https://a.example/cb")
    bad(d, 2, "unexpected argument", "client", "add", "--app-name", "x", "--redirect-uris", "https://a.example/cb", "extra")

    # update changes only what is given, validated as a whole
    good(d, "client", "update", web, "--redirect-uris", "https://new.example/cb")
    c = js(d, "client", "show", web)
    eq((c["redirect_uris"], c["default_redirect_uri"], c["app_name"], c["scopes"]),
       (["https://new.example/cb"], "https://new.example/cb", "web", ["openid", "profile", "email", "roles"]), "update")
    good(d, "client", "update", web, "--scopes", "openid", "--skip-authorization", "--app-name", "Web App")
    c = js(d, "client", "show", web)
    eq((c["scopes"], c["skip_authorization"], c["app_name"]), (["openid"], True, "Web App"), "update several")
    good(d, "client", "update", web, "--no-skip-authorization")
    eq(js(d, "client", "show", web)["skip_authorization"], False, "--no-skip-authorization")
    bad(d, 2, "--response-type", "client", "update", web, "--response-type", "token")
    bad(d, 2, "--redirect-uris", "client", "update", web, "--redirect-uris", "ftp://x")
    bad(d, 2, "--redirect-uris", "client", "update", web, "--redirect-uris", "")
    bad(d, 2, "--auth-method", "client", "update", svc, "--auth-method", "none")
    bad(d, 2, "ID", "client", "update", "no-such-client", "--app-name", "x")
    bad(d, 2, "missing ID", "client", "update")
    # switching a public client to a confidential one gives it a secret, and back drops it
    out = good(d, "client", "update", spa, "--auth-method", "client_secret_post").stdout
    ok(creds(out)[1], "new secret printed: " + out)
    eq(good(d, "client", "update", spa, "--auth-method", "none").stdout, "", "no secret for none")

    # rotate-secret
    out = good(d, "client", "rotate-secret", web).stdout
    new = creds(out)[1]
    ok(new and new != secret and out.startswith("client_secret: "), "rotated secret printed: " + out)
    bad(d, 2, "none", "client", "rotate-secret", spa)
    bad(d, 2, "ID", "client", "rotate-secret", "no-such-client")

    eq(sorted(x["client_id"] for x in js(d, "client", "list")), sorted([web, spa, svc, imp]), "client list --json")
    ok(web in good(d, "client", "list").stdout, "readable client list")
    good(d, "client", "del", svc)
    bad(d, 2, "ID", "client", "del", svc)
    bad(d, 2, "ID", "client", "show", svc)
    eq(len(js(d, "client", "list")), 3, "client deleted")


# ---- settings ----

def test_settings():
    d = fresh()
    eq(js(d, "settings", "show"), {"skip_authorization": "force", "stored": False}, "default")
    good(d, "settings", "set", "skip_authorization", "auto")
    eq(js(d, "settings", "show"), {"skip_authorization": "auto", "stored": True}, "auto")
    ok("skip_authorization: auto" in good(d, "settings", "show").stdout, "readable settings")
    bad(d, 2, "skip_authorization", "settings", "set", "skip_authorization", "sometimes")
    bad(d, 2, "NAME", "settings", "set", "colour", "blue")
    bad(d, 2, "missing VALUE", "settings", "set", "skip_authorization")
    bad(d, 2, "unexpected argument", "settings", "set", "skip_authorization", "auto", "now")
    good(d, "settings", "set", "skip_authorization", "force")
    eq(js(d, "settings", "show")["skip_authorization"], "force", "force")


# ---- one line, whatever the arguments hold ----

def no_controls(line):
    """No C0 or C1 control, DEL or line separator left in a message line."""
    return not any(ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f or ch in "\u2028\u2029" for ch in line)


def test_one_line_errors():
    """Values echoed into a message show newlines, carriage returns and other control characters escaped, so every
    error is one line (a log line, a terminal line) that no argument can split, recolour or fake."""
    d = fresh()
    good(d, "role", "add", "Employee")
    web = creds(good(d, "client", "add", "--app-name", "web", "--redirect-uris", "https://app.example/cb").stdout)[0]
    cases = [
        (["client", "add", "--app-name", "x", "--redirect-uris", "https://x.example/cb",
          "--backchannel-logout-uri", "https://x.example/\nsecond line"], "--backchannel-logout-uri", "\\n"),
        (["client", "add", "--app-name", "x", "--redirect-uris", "https://x.example/cb",
          "--backchannel-logout-uri", "http://169.254.169.254/\r\nX-Injected: 1"], "--backchannel-logout-uri", "\\r\\n"),
        (["client", "add", "--app-name", "x", "--redirect-uris", "https://x.example/\x1b[2Jcb"], "--redirect-uris", "\\x1b"),
        (["client", "add", "--app-name", "x", "--redirect-uris", "https://x.example/cb",
          "--default-redirect-uri", "https://x.example/cb\nhubctl: all good"], "--default-redirect-uri", "\\n"),
        (["client", "add", "--app-name", "x", "--redirect-uris", "https://x.example/cb",
          "--post-logout-redirect-uris", "ftp://x.example/\x07bell"], "--post-logout-redirect-uris", "\\x07"),
        (["client", "add", "--app-name", "x", "--redirect-uris", "https://x.example/cb", "--grant-type", "code\nflow"],
         "--grant-type", "\\n"),
        (["client", "add", "--app-name", "x", "--redirect-uris", "https://x.example/cb", "--auth-method",
          "none\u009b31m"], "--auth-method", "\\xc2\\x9b"),
        (["client", "add", "--app-name", "x", "--frappe-site", "https://site.example/\npath"], "--frappe-site", "\\n"),
        (["client", "add", "--app-name", "x", "--redirect-uris", "https://x.example/cb", "--allowed-roles",
          "Ghost\u2028Role"], "--allowed-roles", "\\xe2\\x80\\xa8"),
        (["client", "update", web, "--scopes", "openid bad\x7fscope"], "--scopes", "\\x7f"),
        (["client", "show", "no\nsuch"], "ID", "\\n"),
        (["user", "add", "bad\nname", "--email", "b@example.com"], "username", "\\n"),
        (["user", "add", "carol", "--email", "c@example.com\r\nBcc: x@example.com"], "--email", "\\r\\n"),
        (["user", "add", "carol", "--email", "c@example.com", "--role", "Ghost\x1b]0;title\x07"], "--role", "\\x1b"),
        (["user", "show", "no\x1bbody"], "NAME", "\\x1b"),
        (["user", "roles", "alice\n", "--add", "Employee"], "NAME", "\\n"),
        (["role", "add", "line\nbreak"], "ROLE", "\\n"),
        (["role", "del", "Emp\rloyee"], "ROLE", "\\r"),
        (["settings", "set", "skip_authorization", "auto\nforce"], "skip_authorization", "\\n"),
        (["settings", "set", "colour\x0b", "blue"], "NAME", "\\x0b"),
        (["node", "join-token", "--name", "sec\n1"], "--name", "\\n"),
        (["node", "join-token", "--ttl", "1h\n"], "--ttl", "\\n"),
        (["node", "revoke", "no\x85de"], "ID", "\\xc2\\x85"),
        (["keys", "retire", "kid\n2"], "KID", "\\n"),
        (["client", "add", "--app-name", "x", "--colour\nred"], "unknown option", "\\n"),
        (["user", "frob\nnicate"], "unknown command", "\\n"),
        (["client", "add", "--app-name", "x", "--redirect-uris", "https://x.example/\udcff\udcfe"], "--redirect-uris",
         "\\xff\\xfe"),  # bytes that are not UTF-8
    ]
    for args, needle, shown in cases:
        line = bad(d, 2, needle, *args, input=PASSWORD)
        ok(no_controls(line), f"{args}: no control character left: {line!r}")
        ok(shown in line, f"{args}: shows {shown!r}: {line!r}")


# ---- nodes (with a running primary: changes apply without a restart; on either backend) ----

def test_nodes():
    n = Node("primary", name="ctlprimary")
    d = n
    good(d, "init")
    eq(js(d, "node", "list"), [], "no nodes")
    tok = good(d, "node", "join-token", "--name", "sec1").stdout
    ok(re.fullmatch(r"[A-Za-z0-9_-]{43}\n", tok), "join token on one line: " + tok)
    j = js(d, "node", "join-token", "--ttl", "10m")
    ok(len(j["token"]) == 43 and j["name"] is None and j["expires_at"] > 0, "join-token --json")
    bad(d, 2, "--ttl", "node", "join-token", "--ttl", "soon")
    bad(d, 2, "--ttl", "node", "join-token", "--ttl", "0")
    bad(d, 2, "--name", "node", "join-token", "--name", "")
    bad(d, 2, "ID", "node", "revoke", "nope")
    bad(d, 2, "missing ID", "node", "revoke")

    n.start()
    md = {"client_name": "sec1", "redirect_uris": ["http://127.0.0.1:9/auth/callback"],
          "backchannel_logout_uri": "http://127.0.0.1:9/auth/backchannel-logout", "scope": "openid profile"}
    r = post(n.url + "/oauth2/register", body=json.dumps(md),
             headers={"Content-Type": "application/json", "Authorization": "Bearer " + tok.strip()})
    if r.status == 404:
        print("skip: /oauth2/register is not served by this build")
        return
    eq(r.status, 201, "registration " + r.text)
    cid, secret = r.json()["client_id"], r.json()["client_secret"]
    nodes = js(d, "node", "list")
    eq([(x["id"], x["name"], x["revoked"]) for x in nodes], [(cid, "sec1", False)], "node listed")
    ok(cid in good(d, "node", "list").stdout, "readable node list")
    auth = {"Authorization": "Basic " + __import__("base64").b64encode(f"{cid}:{secret}".encode()).decode()}
    eq(post(n.url + "/oauth2/introspect", form={"token": "x"}, headers=auth).status, 200, "node client authenticates")
    good(d, "node", "revoke", cid)
    eq(js(d, "node", "list")[0]["revoked"], True, "node revoked")
    eq(js(d, "client", "show", cid)["enabled"], False, "node's client disabled")
    eventually(n, lambda: eq(post(n.url + "/oauth2/introspect", form={"token": "x"}, headers=auth).status, 401,
                             "the running primary refuses the revoked node at once (within a second on a cluster)"))


def test_user_list_pages():
    """user list reads users in username order as it prints them, one page at a time with --limit and --after; a full
    page says on stderr where the next one starts; stdout stays a table or one JSON array."""
    d = fresh()
    names = [f"user{i:03d}" for i in range(23)]
    for n in reversed(names):
        good(d, "user", "add", n, "--email", f"{n}@example.org", input=PASSWORD + "\n")
    eq([x["username"] for x in js(d, "user", "list")], names, "every user, in username order")
    seen, after, pages = [], None, 0
    while True:
        args = ["user", "list", "--limit", "5"] + (["--after", after] if after else [])
        p = good(d, *args, "--json")
        page = [x["username"] for x in json.loads(p.stdout)]
        seen += page
        pages += 1
        m = re.search(r"the next page: --after (\S+)", p.stderr)
        if m is None:
            eq(p.stderr, "", "the last page says nothing more")
            break
        eq(len(page), 5, "a full page")
        after = m.group(1)
        eq(after, page[-1], "the next page starts after the last name shown")
    eq((seen, pages), (names, 5), "five pages of at most 5, each user once")
    text = good(d, "user", "list", "--limit", "3", "--after", "user010").stdout.splitlines()
    eq([line.split()[0] for line in text[1:]], ["user011", "user012", "user013"], "a page of the table")
    eq(js(d, "user", "list", "--after", "zzz"), [], "past the end: an empty array")
    eq(js(d, "user", "list", "--after", "user022"), [], "after the last one: an empty array")
    eq([x["username"] for x in js(d, "user", "list", "--after", "user02")], names[20:], "after a name that is no user")
    for args, needle in ((["--limit", "0"], "--limit"), (["--limit", "-1"], "--limit"), (["--limit", "x"], "--limit"),
                         (["--limit", "1000001"], "--limit"), (["--after"], "--after"), (["extra"], "extra")):
        bad(d, 2, needle, "user", "list", *args)


if __name__ == "__main__":
    run([test_usage, test_init_and_keys, test_users, test_user_list_pages, test_roles, test_clients, test_settings, test_one_line_errors,
         test_nodes])
