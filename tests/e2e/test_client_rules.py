"""What a client may do at the primary (SPEC §4): tokens of a user with many roles work at userinfo, introspection and
revocation; a join token registers only the node shape and no URI may point at a link-local or metadata address;
introspection answers a client only about its own tokens unless an administrator lets it introspect any; the primary
refuses its own tokens without a jti or with an nbf still to come."""
import base64
import json
import re
import secrets
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from hubtest import Node, eq, eventually, get, ok, post, run
from test_token import PASSWORD, basic, creds, get_code, jwt_parts, pkce

ROLES = [f"Department of {i:03d} Long Role Name For Testing" for i in range(200)]
_node = None


def primary():
    """One ES256 primary: alice with 200 long roles, a web client, a client_credentials client, a resource server."""
    global _node
    if _node is not None:
        if _node.proc is None or _node.proc.poll() is not None:
            _node.start()
        return _node
    n = Node("primary", name="rules")
    n.hubctl("init", "--alg", "ES256")
    for role in ROLES:
        n.hubctl("role", "add", role)
    args = []
    for role in ROLES:
        args += ["--role", role]
    n.hubctl("user", "add", "alice", "--email", "alice@example.com", *args, input=PASSWORD + "\n")
    n.hubctl("user", "add", "bob", "--email", "bob@example.com", input=PASSWORD + "\n")
    n.redirect = "http://127.0.0.1:9/cb"
    n.web = creds(n.hubctl("client", "add", "--app-name", "web", "--redirect-uris", n.redirect,
                           "--skip-authorization").stdout)
    n.web2 = creds(n.hubctl("client", "add", "--app-name", "web2", "--redirect-uris", n.redirect,
                            "--skip-authorization").stdout)
    n.svc = creds(n.hubctl("client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes", "read",
                           "--redirect-uris", "", *args).stdout)
    n.rs = creds(n.hubctl("client", "add", "--app-name", "rs", "--grant-type", "client_credentials", "--scopes", "read",
                          "--redirect-uris", "", "--introspect-any").stdout)
    n.start()
    _node = n
    return n


def user_tokens(n, client):
    verifier, challenge = pkce()
    code = get_code(n, client[0], challenge=challenge)
    r = post(n.url + "/oauth2/token", form={"grant_type": "authorization_code", "code": code, "redirect_uri": n.redirect,
                                            "code_verifier": verifier}, headers=basic(*client))
    eq(r.status, 200, "code exchange " + r.text)
    return r.json()


def cc_token(n, client):
    r = post(n.url + "/oauth2/token", form={"grant_type": "client_credentials"}, headers=basic(*client))
    eq(r.status, 200, "client_credentials " + r.text)
    return r.json()["access_token"]


def introspect(n, tok, who):
    r = post(n.url + "/oauth2/introspect", form={"token": tok}, headers=basic(*who))
    eq(r.status, 200, "introspection " + r.text[:200])
    return r.json()


def userinfo(n, tok):
    return get(n.url + "/oauth2/userinfo", headers={"Authorization": "Bearer " + tok})


# ---- tokens of a user with many roles ----

def test_large_tokens():
    n = primary()
    body = user_tokens(n, n.web)
    at = body["access_token"]
    ok(len(at) > 8192, f"a user with 200 long roles gets a large access token ({len(at)} bytes)")
    eq(len(jwt_parts(at)[1]["roles"]), 200, "every role in the token")
    r = userinfo(n, at)
    eq(r.status, 200, "userinfo (Authorization header) " + r.text[:200])
    eq(len(r.json()["roles"]), 200, "userinfo roles")
    r = post(n.url + "/oauth2/userinfo", form={"access_token": at})
    eq(r.status, 200, "userinfo (form body) " + r.text[:200])
    i = introspect(n, at, n.web)
    eq((i["active"], i["username"]), (True, "alice"), "introspection of the large token")
    eq(introspect(n, body["refresh_token"], n.web)["active"], True, "its refresh token")
    # the Frappe aliases take it too
    r = post(n.url + "/api/method/frappe.integrations.oauth2.introspect_token", form={"token": at}, headers=basic(*n.web))
    eq(r.json()["active"], True, "introspection alias")
    r = post(n.url + "/oauth2/revoke", form={"token": at, "token_type_hint": "access_token"}, headers=basic(*n.web))
    eq(r.status, 200, "revocation of the large token " + r.text[:200])
    eq(introspect(n, at, n.web), {"active": False}, "revoked")
    eq(userinfo(n, at).status, 401, "userinfo refuses the revoked token")
    # a client_credentials token with 200 service roles, through the alias endpoints
    cc = cc_token(n, n.svc)
    ok(len(cc) > 8192, f"large client token ({len(cc)} bytes)")
    eq(introspect(n, cc, n.svc)["active"], True, "large client token active")
    r = post(n.url + "/api/method/frappe.integrations.oauth2.revoke_token", form={"token": cc}, headers=basic(*n.svc))
    eq(r.status, 200, "revocation alias")
    eq(introspect(n, cc, n.svc), {"active": False}, "revoked through the alias")
    # still bounded: a token parameter past the largest token the hub issues is refused
    for size in (16385, 40000):
        r = post(n.url + "/oauth2/introspect", form={"token": "a" * size}, headers=basic(*n.web))
        eq((r.status, r.json().get("error")), (400, "invalid_request"), f"introspection of {size} bytes")
        r = post(n.url + "/oauth2/revoke", form={"token": ("a." * size)[:size]}, headers=basic(*n.web))
        eq((r.status, r.json().get("error")), (400, "invalid_request"), f"revocation of {size} bytes")
    eq(userinfo(n, "a." * 9000).status, 400, "userinfo of 18000 bytes")


# ---- introspection answers a client about its own tokens ----

def test_introspection_scope():
    n = primary()
    body = user_tokens(n, n.web)
    at, rt = body["access_token"], body["refresh_token"]
    cc = cc_token(n, n.svc)
    eq(introspect(n, at, n.web)["active"], True, "the owner learns about its token")
    for tok, who, what in ((at, n.web2, "another web client, access token"), (rt, n.web2, "another client, refresh token"),
                           (cc, n.web, "a web client, a client_credentials token"), (at, n.svc, "a service, a user token"),
                           (rt, n.rs, "a resource server, a refresh token")):
        eq(introspect(n, tok, who), {"active": False}, what)
    # the administrator's option: shown, effective at once, and revocable
    shown = json.loads(n.hubctl("client", "show", n.rs[0], "--json").stdout)
    eq(shown.get("introspect_any"), True, "client show --json")
    ok("introspect_any" in n.hubctl("client", "show", n.rs[0]).stdout, "client show")
    i = introspect(n, at, n.rs)
    eq((i["active"], i["client_id"], i["username"]), (True, n.web[0], "alice"), "a resource server learns about any token")
    eq(introspect(n, cc, n.rs)["active"], True, "and client tokens")
    n.hubctl("client", "update", n.rs[0], "--no-introspect-any")
    eq(json.loads(n.hubctl("client", "show", n.rs[0], "--json").stdout)["introspect_any"], False, "turned off")
    eventually(n, lambda: eq(introspect(n, at, n.rs), {"active": False}, "no longer"))
    n.hubctl("client", "update", n.web2[0], "--introspect-any")
    eventually(n, lambda: eq(introspect(n, at, n.web2)["active"], True, "turned on for another client"))
    n.hubctl("client", "update", n.web2[0], "--no-introspect-any")
    n.hubctl("client", "update", n.rs[0], "--introspect-any")
    # refused option combinations: exit 2 naming the option, nothing changes
    pub = creds(n.hubctl("client", "add", "--app-name", "spa", "--redirect-uris", n.redirect, "--auth-method",
                         "none").stdout)
    for args in (("client", "update", n.rs[0], "--introspect-any", "--no-introspect-any"),
                 ("client", "update", pub[0], "--introspect-any"),
                 ("client", "add", "--app-name", "x", "--redirect-uris", n.redirect, "--auth-method", "none",
                  "--introspect-any")):
        p = n.hubctl(*args, check=False)
        eq(p.returncode, 2, " ".join(args[:2]) + ": exit code")
        ok("--introspect-any" in p.stderr, "names the option: " + p.stderr)
    eq(json.loads(n.hubctl("client", "show", pub[0], "--json").stdout)["introspect_any"], False, "unchanged")


# ---- tokens of ours must carry a jti and no nbf to come ----

def b64(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def forge(n, header, claims):
    """Signs with the primary's own ES256 key, as only the primary can: the claims alone decide."""
    kid = jwt_parts(cc_token(n, n.svc))[0]["kid"]
    key = serialization.load_pem_private_key(n.private_key_pem(kid), None)
    h = dict({"alg": "ES256", "kid": kid}, **header)
    signing_input = b64(json.dumps(h).encode()) + "." + b64(json.dumps(claims).encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return signing_input + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def test_nbf_and_jti():
    n = primary()
    sub = json.loads(n.hubctl("user", "show", "bob", "--json").stdout)["sub"]
    now = int(time.time())
    base = {"iss": n.url, "sub": sub, "aud": n.web[0], "client_id": n.web[0], "scope": "openid profile", "iat": now,
            "exp": now + 300, "jti": secrets.token_urlsafe(16)}
    at = {"typ": "at+jwt"}
    good = forge(n, at, base)
    eq(userinfo(n, good).status, 200, "control: a well-formed token of ours works at userinfo")
    eq(introspect(n, good, n.web)["active"], True, "control: introspection")
    variants = {"nbf in the future": dict(base, nbf=now + 120), "nbf far ahead": dict(base, nbf=now + 10 ** 9),
                "nbf as a string": dict(base, nbf=str(now - 10)), "nbf as a float": dict(base, nbf=now - 10.5),
                "nbf null": dict(base, nbf=None), "no jti": {k: v for k, v in base.items() if k != "jti"},
                "empty jti": dict(base, jti=""), "numeric jti": dict(base, jti=12345), "jti null": dict(base, jti=None),
                "jti array": dict(base, jti=["a"])}
    for what, claims in variants.items():
        tok = forge(n, at, claims)
        r = userinfo(n, tok)
        eq((r.status, r.json().get("error")), (401, "invalid_token"), "userinfo, " + what)
        eq(introspect(n, tok, n.web), {"active": False}, "introspection, " + what)
        eq(post(n.url + "/oauth2/revoke", form={"token": tok}, headers=basic(*n.web)).status, 200, "revocation, " + what)
    eq(userinfo(n, forge(n, at, dict(base, nbf=now - 5))).status, 200, "an nbf in the past is fine")
    # an id_token as logout hint: the same rules (our id_tokens carry a jti now)
    idt = {"typ": "JWT"}
    hint = dict(base, aud=n.web[0], jti=secrets.token_urlsafe(16))
    for what, claims in (("nbf in the future", dict(hint, nbf=now + 120)),
                         ("no jti", {k: v for k, v in hint.items() if k != "jti"})):
        r = get(n.url + "/oauth2/logout?id_token_hint=" + forge(n, idt, claims))
        eq(r.status, 400, "logout hint, " + what)
    r = get(n.url + "/oauth2/logout?id_token_hint=" + forge(n, idt, hint))
    ok(r.status != 400, f"control: a well-formed hint is accepted ({r.status})")
    issued = user_tokens(n, n.web2)["id_token"]
    ok(jwt_parts(issued)[1].get("jti"), "issued id_tokens carry a jti")


# ---- registration with a join token: the node shape only, never a forbidden target ----

def join_token(n):
    out = n.hubctl("node", "join-token", "--name", "sec").stdout
    return re.findall(r"[A-Za-z0-9_-]{40,}", out)[-1]


def register(n, md, tok=None):
    h = {"Content-Type": "application/json"}
    if tok:
        h["Authorization"] = "Bearer " + tok
    return post(n.url + "/oauth2/register", body=json.dumps(md), headers=h)


def snapshot(n):
    return n.hubctl("client", "list", "--json").stdout, n.hubctl("node", "list", "--json").stdout


NODE = "http://127.0.0.1:8301"


def node_md(**kw):
    md = {"client_name": "sec", "redirect_uris": [NODE + "/auth/callback"],
          "backchannel_logout_uri": NODE + "/auth/backchannel-logout",
          "post_logout_redirect_uris": [NODE + "/auth/signed-out"], "grant_types": ["authorization_code", "refresh_token"],
          "response_types": ["code"], "token_endpoint_auth_method": "client_secret_basic"}
    md.update(kw)
    return {k: v for k, v in md.items() if v is not None}


FORBIDDEN_HOSTS = ["169.254.169.254", "169.254.1.1:8080", "2852039166", "0xa9.0xfe.0xa9.0xfe", "0251.0376.0251.0376",
                   "169.254.43518", "0xA9FEA9FE", "169.254.169.254.", "[::ffff:169.254.169.254]", "[::ffff:a9fe:a9fe]",
                   "[fe80::1]", "[fd00:ec2::254]", "metadata.google.internal", "METADATA.GOOGLE.INTERNAL.", "metadata",
                   "0.0.0.0", "100.100.100.200"]
TRICKS = ["http://127.0.0.1:8000@169.254.169.254/", "http://127.0.0.1:8301\\@169.254.169.254/", "http://[fe80::1%25eth0]/",
          "http://%31%36%39.254.169.254/", "http://127.0.0.1:99999/", "http://127.0.0.1:08301/", "http://2130706433:8301/"]


def test_registration_node_shape():
    n = primary()
    jt = join_token(n)
    before = snapshot(n)
    bad = {
        "implicit": (node_md(grant_types=["implicit"], response_types=["token"]), "invalid_client_metadata"),
        "client_credentials": (node_md(grant_types=["client_credentials"], response_types=None), "invalid_client_metadata"),
        "public client": (node_md(token_endpoint_auth_method="none"), "invalid_client_metadata"),
        "redirect URIs on two origins": (node_md(redirect_uris=[NODE + "/auth/callback", "http://127.0.0.1:8302/cb"]),
                                         "invalid_redirect_uri"),
        "redirect URIs, other scheme": (node_md(redirect_uris=[NODE + "/auth/callback", "https://127.0.0.1:8301/cb"]),
                                        "invalid_redirect_uri"),
        "back-channel on another port": (node_md(backchannel_logout_uri="http://127.0.0.1:8302/auth/backchannel-logout"),
                                         "invalid_client_metadata"),
        "back-channel on another host": (node_md(backchannel_logout_uri="http://localhost:8301/auth/backchannel-logout"),
                                         "invalid_client_metadata"),
        "post-logout on another origin": (node_md(post_logout_redirect_uris=["https://evil.example/"]),
                                          "invalid_client_metadata"),
    }
    for host in FORBIDDEN_HOSTS:
        bad["back-channel on " + host] = (node_md(backchannel_logout_uri=f"http://{host}/latest/meta-data/"),
                                          "invalid_client_metadata")
        bad["redirect on " + host] = (node_md(redirect_uris=[f"http://{host}/auth/callback"], backchannel_logout_uri=None,
                                              post_logout_redirect_uris=None), "invalid_redirect_uri")
    for uri in TRICKS:
        bad["back-channel " + uri] = (node_md(backchannel_logout_uri=uri), "invalid_client_metadata")
        bad["redirect " + uri] = (node_md(redirect_uris=[uri], backchannel_logout_uri=None, post_logout_redirect_uris=None),
                                  "invalid_redirect_uri")
    for what, (md, error) in bad.items():
        r = register(n, md, jt)
        eq(r.status, 400, what + ": status " + r.text)
        eq(r.json().get("error"), error, what + ": error")
        ok(r.json().get("error_description"), what + ": a description")
    eq(snapshot(n), before, "nothing stored by a refused registration")
    # the join token was not used up: the node shape registers
    r = register(n, node_md(token_endpoint_auth_method="client_secret_post"), jt)
    eq(r.status, 201, "the node shape registers " + r.text)
    ok(r.json()["client_id"] in n.hubctl("node", "list").stdout, "listed as a node")
    r = register(n, node_md(grant_types=None, response_types=None, backchannel_logout_uri=None,
                            post_logout_redirect_uris=None), join_token(n))
    eq(r.status, 201, "defaults are the node shape too " + r.text)
    p = n.hubctl("client", "update", r.json()["client_id"], "--introspect-any", check=False)
    eq(p.returncode, 2, "a node's client may not introspect any token: " + p.stderr)


def test_hubctl_backchannel_target():
    """The primary POSTs logout tokens to a client's back-channel URI: hubctl refuses forbidden targets too."""
    n = primary()
    before = n.hubctl("client", "list", "--json").stdout
    for uri in ("http://169.254.169.254/latest/meta-data/", "http://2852039166/", "http://[::ffff:169.254.169.254]/",
                "http://metadata.google.internal/", "http://[fe80::1]/bcl", "http://127.0.0.1:8000@169.254.169.254/"):
        p = n.hubctl("client", "add", "--app-name", "x", "--redirect-uris", n.redirect, "--backchannel-logout-uri", uri,
                     check=False)
        eq(p.returncode, 2, uri + ": exit code")
        ok("--backchannel-logout-uri" in p.stderr, uri + ": names the option: " + p.stderr)
        p = n.hubctl("client", "update", n.web2[0], "--backchannel-logout-uri", uri, check=False)
        eq(p.returncode, 2, uri + ": update exit code")
    eq(n.hubctl("client", "list", "--json").stdout, before, "nothing stored")


def test_registration_open():
    n = Node("primary", name="openreg", conf={"primary": {"registration": {"require_join_token": False}}})
    n.hubctl("init")
    n.start()
    # ordinary clients register as before, without a join token
    for md in ({"client_name": "cli", "grant_types": ["client_credentials"], "scope": "read"},
               {"client_name": "spa", "redirect_uris": ["http://127.0.0.1:5000/cb"], "token_endpoint_auth_method": "none"},
               {"client_name": "two", "redirect_uris": ["https://a.example/cb", "https://b.example/cb"]},
               {"client_name": "imp", "grant_types": ["implicit"], "response_types": ["token"],
                "redirect_uris": ["https://a.example/cb"]}):
        eq(register(n, md).status, 201, "open registration of " + md["client_name"])
    # but never a forbidden target
    for host in ("169.254.169.254", "2852039166", "[fe80::1]", "metadata.google.internal"):
        r = register(n, {"client_name": "x", "redirect_uris": [f"http://{host}/cb"]})
        eq((r.status, r.json().get("error")), (400, "invalid_redirect_uri"), "open registration, redirect on " + host)
        r = register(n, {"client_name": "x", "redirect_uris": ["https://a.example/cb"],
                         "backchannel_logout_uri": f"http://{host}/bcl"})
        eq((r.status, r.json().get("error")), (400, "invalid_client_metadata"), "open registration, back-channel on " + host)
    # what the model's validation refuses is told in RFC 7591 words: the metadata field, and the error that field calls
    # for; a hubctl --option never shows, and the word "redirect" in a scope does not make it a redirect URI error
    long_redirect_scope = "redirect_uris" + "x" * 130
    for what, md, field in (
            ("a scope naming redirect", {"client_name": "x", "redirect_uris": ["https://a.example/cb"],
                                         "scope": "openid " + long_redirect_scope}, "scope"),
            ("a long scope", {"client_name": "x", "grant_types": ["client_credentials"], "scope": "y" * 129}, "scope"),
            ("a control character in the name", {"client_name": "bad\u0001name", "redirect_uris": ["https://a.example/cb"]},
             "client_name"),
            ("a name with redirect and a newline", {"client_name": "redirect\nuris", "redirect_uris": ["https://a.example/cb"]},
             "client_name")):
        before = n.hubctl("client", "list", "--json").stdout
        r = register(n, md)
        eq((r.status, r.json().get("error")), (400, "invalid_client_metadata"), what)
        desc = r.json().get("error_description", "")
        ok(desc.startswith(field + ": ") and "--" not in desc and "\n" not in desc, what + ": description " + repr(desc))
        eq(n.hubctl("client", "list", "--json").stdout, before, what + ": nothing stored")
    n.stop()


if __name__ == "__main__":
    run([test_large_tokens, test_introspection_scope, test_nbf_and_jti, test_registration_node_shape,
         test_hubctl_backchannel_target, test_registration_open])
