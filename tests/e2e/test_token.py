"""Token, introspection, revocation, registration, discovery and JWKS endpoints of a real primary (SPEC §4, §5)."""
import base64
import hashlib
import html
import json
import re
import time
import urllib.parse

from hubtest import Node, basic, eq, eventually, get, ok, post, request, run

PASSWORD = "correct horse battery staple"


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def jwt_parts(token):
    h, p, _ = token.split(".")
    return json.loads(b64d(h)), json.loads(b64d(p))



def creds(out):
    cid = re.search(r"client_id:\s*(\S+)", out)
    sec = re.search(r"client_secret:\s*(\S+)", out)
    return cid.group(1) if cid else None, sec.group(1) if sec else None


_primary = None


def primary():
    """One primary shared by the tests, with a user and a few clients."""
    global _primary
    if _primary is not None:
        if _primary.proc is None or _primary.proc.poll() is not None:
            _primary.start()  # the harness stops every node after each test
        return _primary
    n = Node("primary")
    n.hubctl("init")
    n.hubctl("role", "add", "Service")
    n.hubctl("role", "add", "Employee")
    n.hubctl("user", "add", "alice", "--email", "alice@example.com", "--full-name", "Alice Doe", "--role", "Employee",
             input=PASSWORD + "\n")
    n.cc_basic = creds(n.hubctl("client", "add", "--app-name", "svc", "--grant-type", "client_credentials", "--scopes",
                                "read write", "--role", "Service", "--redirect-uris", "").stdout)
    n.cc_post = creds(n.hubctl("client", "add", "--app-name", "svc2", "--grant-type", "client_credentials", "--scopes",
                               "read", "--auth-method", "client_secret_post", "--redirect-uris", "").stdout)
    n.redirect = "http://127.0.0.1:9/cb"
    n.web = creds(n.hubctl("client", "add", "--app-name", "web", "--redirect-uris", n.redirect, "--skip-authorization",
                           "--backchannel-logout-uri", "http://127.0.0.1:9/bcl").stdout)
    n.public = creds(n.hubctl("client", "add", "--app-name", "spa", "--redirect-uris", n.redirect, "--skip-authorization",
                              "--auth-method", "none").stdout)
    # a resource server allowed to introspect every token
    n.rs = creds(n.hubctl("client", "add", "--app-name", "rs", "--grant-type", "client_credentials", "--scopes", "read",
                          "--redirect-uris", "", "--introspect-any").stdout)
    ok(n.cc_basic[1] and n.cc_post[1] and n.web[1] and n.public[0] and n.rs[1], "clients created")
    n.start()
    _primary = n
    return n


def token(n, form, headers=None, path="/oauth2/token"):
    return post(n.url + path, form=form, headers=headers or {})


def cc_token(n, scope=None):
    form = {"grant_type": "client_credentials"}
    if scope:
        form["scope"] = scope
    r = token(n, form, basic(*n.cc_basic))
    eq(r.status, 200, "client_credentials: " + r.text)
    return r.json()


def expect_error(r, status, error, what):
    eq(r.status, status, what + " status (" + r.text + ")")
    eq(r.json().get("error"), error, what + " error")
    if status == 401 and error == "invalid_client":
        ok(r.header("www-authenticate") is not None, what + ": WWW-Authenticate on 401")


# ---- token endpoint: client_credentials ----

def test_client_credentials():
    n = primary()
    r = token(n, {"grant_type": "client_credentials"}, basic(*n.cc_basic))
    eq(r.status, 200, "status " + r.text)
    ok("no-store" in (r.header("cache-control") or ""), "Cache-Control: no-store")
    body = r.json()
    eq(body["token_type"], "Bearer", "token_type")
    ok(isinstance(body["expires_in"], int) and body["expires_in"] > 0, "expires_in")
    eq(sorted(body["scope"].split()), ["read", "write"], "default scope = the client's")
    ok("refresh_token" not in body and "id_token" not in body, "no refresh/id token for client_credentials")
    hdr, claims = jwt_parts(body["access_token"])
    eq(hdr["typ"], "at+jwt", "typ")
    cid = n.cc_basic[0]
    eq((claims["sub"], claims["aud"], claims["client_id"]), (cid, cid, cid), "sub/aud/client_id")
    eq(claims["iss"], n.url, "iss")
    eq(claims["roles"], ["Service"], "service roles")
    ok(claims["exp"] - claims["iat"] == body["expires_in"], "exp - iat = expires_in")
    ok(len(claims["jti"]) == 30, "jti")
    # its first 6 bytes are the time of issue in ms (neighbouring records in the store), the other 16 random
    ms = int.from_bytes(base64.urlsafe_b64decode(claims["jti"] + "==")[:6], "big")
    ok(abs(ms / 1000 - claims["iat"]) < 2, "jti begins with the time of issue")
    keys = get(n.url + "/oauth2/jwks").json()["keys"]
    ok(any(k["kid"] == hdr["kid"] and k["alg"] == hdr["alg"] for k in keys), "signed by a published key")
    # client_secret_post and the Frappe alias
    r = token(n, {"grant_type": "client_credentials", "client_id": n.cc_post[0], "client_secret": n.cc_post[1]},
              path="/api/method/frappe.integrations.oauth2.get_token")
    eq(r.status, 200, "client_secret_post via alias " + r.text)
    eq(jwt_parts(r.json()["access_token"])[1]["roles"], [], "no service roles")


def test_scope_narrowing_and_escalation():
    n = primary()
    eq(cc_token(n, "read")["scope"], "read", "narrowed scope")
    eq(jwt_parts(cc_token(n, "write read")["access_token"])[1]["scope"], "write read", "scope in token")
    r = token(n, {"grant_type": "client_credentials", "scope": "read admin"}, basic(*n.cc_basic))
    expect_error(r, 400, "invalid_scope", "scope escalation")
    r = token(n, {"grant_type": "client_credentials", "scope": "openid"}, basic(*n.cc_basic))
    expect_error(r, 400, "invalid_scope", "scope outside the client's")


def test_client_auth_failures():
    n = primary()
    cid, sec = n.cc_basic
    form = {"grant_type": "client_credentials"}
    expect_error(token(n, form), 401, "invalid_client", "no credentials")
    expect_error(token(n, form, basic(cid, sec + "x")), 401, "invalid_client", "wrong secret")
    expect_error(token(n, form, basic("no-such-client", sec)), 401, "invalid_client", "unknown client")
    expect_error(token(n, dict(form, client_id=cid, client_secret=sec)), 401, "invalid_client",
                 "client_secret_post for a basic client")
    pid, psec = n.cc_post
    expect_error(token(n, form, basic(pid, psec)), 401, "invalid_client", "basic for a post client")
    expect_error(token(n, dict(form, client_secret=psec), basic(pid, psec)), 401, "invalid_client", "two methods at once")
    expect_error(token(n, dict(form, client_id=cid)), 401, "invalid_client", "client_id alone for a confidential client")
    expect_error(token(n, {"grant_type": "authorization_code", "code": "x", "client_id": n.web[0]}), 401,
                 "invalid_client", "none for a confidential client")
    # a deleted client
    tmp = creds(n.hubctl("client", "add", "--app-name", "tmp", "--grant-type", "client_credentials", "--scopes", "read",
                         "--redirect-uris", "").stdout)
    eq(token(n, form, basic(*tmp)).status, 200, "fresh client works")
    n.hubctl("client", "del", tmp[0])
    eventually(n, lambda: expect_error(token(n, form, basic(*tmp)), 401, "invalid_client", "deleted client"))


def test_bad_requests():
    n = primary()
    auth = basic(*n.cc_basic)
    expect_error(token(n, {"grant_type": "password", "username": "alice", "password": PASSWORD}, auth), 400,
                 "unsupported_grant_type", "password grant")
    expect_error(token(n, {"grant_type": "urn:x:nope"}, auth), 400, "unsupported_grant_type", "unknown grant")
    expect_error(token(n, {}, auth), 400, "invalid_request", "missing grant_type")
    expect_error(token(n, [("grant_type", "client_credentials"), ("scope", "read"), ("scope", "write")], auth), 400,
                 "invalid_request", "repeated parameter")
    r = get(n.url + "/oauth2/token")
    eq(r.status, 405, "GET on the token endpoint")
    r = post(n.url + "/oauth2/token", body=json.dumps({"grant_type": "client_credentials"}),
             headers=dict(auth, **{"Content-Type": "application/json"}))
    expect_error(r, 400, "invalid_request", "JSON body")
    # a code-flow client may not use client_credentials
    expect_error(token(n, {"grant_type": "client_credentials"}, basic(*n.web)), 400, "unauthorized_client",
                 "client_credentials for a code client")
    expect_error(token(n, {"grant_type": "authorization_code", "code": "bogus"}, basic(*n.web)), 400, "invalid_grant",
                 "unknown code")
    expect_error(token(n, {"grant_type": "refresh_token", "refresh_token": "bogus"}, basic(*n.web)), 400,
                 "invalid_grant", "unknown refresh token")
    expect_error(token(n, {"grant_type": "authorization_code"}, basic(*n.web)), 400, "invalid_request", "missing code")


# ---- introspection and revocation ----

def token_owner(n, tok):
    """The credentials (Basic) of the client an access token was issued to, among the fixture's clients; else cc_basic.
    A client learns about its own tokens only (SPEC §4), so tests introspect as the owner unless they mean otherwise."""
    try:
        cid = jwt_parts(tok)[1].get("client_id")
    except (ValueError, IndexError, UnicodeDecodeError):
        cid = None
    for c in (n.cc_basic, n.web, n.rs):
        if c[0] == cid:
            return c
    return n.cc_basic


def introspect(n, tok, who=None, hint=None):
    form = {"token": tok}
    if hint:
        form["token_type_hint"] = hint
    return post(n.url + "/oauth2/introspect", form=form, headers=basic(*(who or token_owner(n, tok))))


def test_client_changes_seen_live():
    """Clients are cached decoded in hubd; hubctl's writes from its own process must still count: at the next request
    on LMDB, within a second on a cluster (SPEC §9; eventually)."""
    n = primary()
    form = {"grant_type": "client_credentials"}
    cid, sec = creds(n.hubctl("client", "add", "--app-name", "live", "--grant-type", "client_credentials", "--scopes",
                              "read write", "--redirect-uris", "").stdout)
    for _ in range(3):  # loaded once, then answered from the cache on every thread
        eq(token(n, form, basic(cid, sec)).status, 200, "fresh client works")
    at = token(n, dict(form, scope="read"), basic(cid, sec)).json()["access_token"]
    out = n.hubctl("client", "rotate-secret", cid).stdout
    new = creds(out)[1]
    ok(new and new != sec, "a new secret: " + out)
    eventually(n, lambda: expect_error(token(n, form, basic(cid, sec)), 401, "invalid_client", "old secret after rotate-secret"))
    eventually(n, lambda: eq(token(n, form, basic(cid, new)).status, 200, "new secret after rotate-secret"))
    n.hubctl("client", "update", cid, "--scopes", "write")
    eventually(n, lambda: expect_error(token(n, dict(form, scope="read"), basic(cid, new)), 400, "invalid_scope",
                                    "scope removed by update"))
    eventually(n, lambda: eq(token(n, dict(form, scope="write"), basic(cid, new)).json().get("scope"), "write",
                          "updated scopes"))
    eq(introspect(n, at, who=(cid, new)).json()["active"], True, "its token is active")
    eq(introspect(n, at, who=n.rs).json()["active"], True, "active to a resource server too")
    n.hubctl("client", "del", cid)
    eventually(n, lambda: eq(introspect(n, at, who=n.rs).json(), {"active": False}, "a deleted client's token is inactive"))
    eventually(n, lambda: expect_error(token(n, form, basic(cid, new)), 401, "invalid_client", "deleted client"))


def test_introspection():
    n = primary()
    at = cc_token(n, "read")["access_token"]
    r = introspect(n, at)
    eq(r.status, 200, "introspect " + r.text)
    body = r.json()
    eq(body["active"], True, "active")
    cid = n.cc_basic[0]
    eq((body["client_id"], body["sub"], body["scope"], body["token_type"]), (cid, cid, "read", "Bearer"), "fields")
    for f in ("exp", "iat", "aud", "iss", "jti"):
        ok(f in body, "introspection has " + f)
    ok("username" not in body, "no username for a client token")
    # another client learns nothing about it (SPEC §4)...
    # cc_post is registered with client_secret_post: it authenticates in the form, as registered
    r = post(n.url + "/oauth2/introspect", form={"token": at, "token_type_hint": "access_token", "client_id": n.cc_post[0],
                                                 "client_secret": n.cc_post[1]})
    eq(r.json(), {"active": False}, "introspect by another client")
    eq(introspect(n, at, who=n.cc_post).status, 401, "Basic is not how cc_post registered")
    # ...unless an administrator lets it introspect any token (a resource server)
    eq(introspect(n, at, who=n.rs).json().get("client_id"), cid, "introspect by a resource server")
    for bad in ("garbage", at[:-4] + "AAAA", "a.b.c", ""):
        r = introspect(n, bad)
        if bad == "":
            expect_error(r, 400, "invalid_request", "empty token")
        else:
            eq(r.json(), {"active": False}, "inactive for " + bad[:20])
    r = post(n.url + "/oauth2/introspect", form={"token": at})
    expect_error(r, 401, "invalid_client", "introspection without client auth")
    r = post(n.url + "/api/method/frappe.integrations.oauth2.introspect_token", form={"token": at},
             headers=basic(*n.cc_basic))
    eq(r.json()["active"], True, "alias")


def test_revocation():
    n = primary()
    at = cc_token(n)["access_token"]
    r = post(n.url + "/oauth2/revoke", form={"token": at})
    expect_error(r, 401, "invalid_client", "revoke without auth")
    r = post(n.url + "/oauth2/revoke", form={"token": at}, headers=basic(n.cc_basic[0], "wrong"))
    expect_error(r, 401, "invalid_client", "revoke with a wrong secret")
    # another client cannot revoke it (silently ignored)
    r = post(n.url + "/oauth2/revoke", form={"token": at, "client_id": n.cc_post[0], "client_secret": n.cc_post[1]})
    eq(r.status, 200, "foreign revoke answers 200")
    eq(introspect(n, at).json()["active"], True, "still active after a foreign revoke")
    r = post(n.url + "/oauth2/revoke", form={"token": at, "token_type_hint": "access_token"}, headers=basic(*n.cc_basic))
    eq(r.status, 200, "revoke own token")
    eq(introspect(n, at).json(), {"active": False}, "inactive after revocation")
    for junk in ("garbage", "x.y.z"):
        eq(post(n.url + "/oauth2/revoke", form={"token": junk}, headers=basic(*n.cc_basic)).status, 200, "junk token")
    r = post(n.url + "/api/method/frappe.integrations.oauth2.revoke_token", form={"token": "zzz"}, headers=basic(*n.cc_basic))
    eq(r.status, 200, "alias")


# ---- registration ----

def join_token(n):
    out = n.hubctl("node", "join-token", "--name", "sec1").stdout
    m = re.findall(r"[A-Za-z0-9_-]{40,}", out)
    ok(m, "join token printed: " + out)
    return m[-1]


def register(n, md, tok=None):
    h = {"Content-Type": "application/json"}
    if tok:
        h["Authorization"] = "Bearer " + tok
    return post(n.url + "/oauth2/register", body=json.dumps(md), headers=h)


def test_registration():
    n = primary()
    md = {"client_name": "sec1", "redirect_uris": ["http://127.0.0.1:9/auth/callback"],
          "backchannel_logout_uri": "http://127.0.0.1:9/auth/backchannel-logout",
          "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
          "token_endpoint_auth_method": "client_secret_basic", "scope": "openid profile email roles"}
    r = register(n, md)
    expect_error(r, 401, "invalid_token", "registration without a join token")
    r = register(n, md, "not-a-join-token")
    expect_error(r, 401, "invalid_token", "registration with a wrong join token")
    jt = join_token(n)
    # bad metadata is refused without using up the join token
    expect_error(register(n, dict(md, redirect_uris=[]), jt), 400, "invalid_redirect_uri", "no redirect_uris")
    expect_error(register(n, dict(md, redirect_uris=["not a url"]), jt), 400, "invalid_redirect_uri", "bad redirect uri")
    expect_error(register(n, dict(md, grant_types=["password"]), jt), 400, "invalid_client_metadata", "bad grant type")
    expect_error(register(n, dict(md, token_endpoint_auth_method="private_key_jwt"), jt), 400, "invalid_client_metadata",
                 "bad auth method")
    expect_error(register(n, dict(md, response_types=["token"]), jt), 400, "invalid_client_metadata", "mismatched types")
    expect_error(register(n, dict(md, backchannel_logout_uri="javascript:x"), jt), 400, "invalid_client_metadata",
                 "bad backchannel uri")
    r = post(n.url + "/oauth2/register", body="{not json", headers={"Authorization": "Bearer " + jt})
    expect_error(r, 400, "invalid_client_metadata", "malformed JSON")
    r = register(n, md, jt)
    eq(r.status, 201, "registration " + r.text)
    ok("no-store" in (r.header("cache-control") or ""), "no-store")
    body = r.json()
    for f in ("client_id", "client_secret", "client_id_issued_at", "registration_access_token", "registration_client_uri"):
        ok(body.get(f), "registration answer has " + f)
    eq(body["client_secret_expires_at"], 0, "secret does not expire")
    eq(body["registration_client_uri"], f"{n.url}/oauth2/register/{body['client_id']}", "registration_client_uri")
    eq(body["backchannel_logout_uri"], md["backchannel_logout_uri"], "backchannel_logout_uri stored")
    eq(body["redirect_uris"], md["redirect_uris"], "redirect_uris")
    eq(body["client_name"], "sec1", "client_name")
    eq(body["token_endpoint_auth_method"], "client_secret_basic", "auth method")
    # OIDC Registration §3.2: the answer states the id_token alg; RP libraries assume RS256 when it is absent
    eq(body["id_token_signed_response_alg"], get(n.url + "/.well-known/openid-configuration").json()[
        "id_token_signing_alg_values_supported"][0], "id_token_signed_response_alg")
    # the join token registers one node only
    expect_error(register(n, md, jt), 401, "invalid_token", "join token reused")
    # RFC 7592 read
    r = get(body["registration_client_uri"], headers={"Authorization": "Bearer " + body["registration_access_token"]})
    eq(r.status, 200, "registration read " + r.text)
    eq(r.json()["client_id"], body["client_id"], "read client_id")
    eq(r.json()["id_token_signed_response_alg"], body["id_token_signed_response_alg"], "read id_token_signed_response_alg")
    eq(get(body["registration_client_uri"], headers={"Authorization": "Bearer nope"}).status, 401, "read with bad token")
    # the node shows up and its credentials authenticate at the token endpoint
    nodes = n.hubctl("node", "list").stdout
    ok(body["client_id"] in nodes, "node listed: " + nodes)
    r = post(n.url + "/oauth2/introspect", form={"token": "x"}, headers=basic(body["client_id"], body["client_secret"]))
    eq(r.status, 200, "registered client authenticates")
    # revoking the node disables its client though hubd has it cached (at once on LMDB, within a second on a cluster)
    eq(post(n.url + "/oauth2/introspect", form={"token": "x"}, headers=basic(body["client_id"], body["client_secret"])).status,
       200, "registered client authenticates again")
    n.hubctl("node", "revoke", body["client_id"])
    eventually(n, lambda: expect_error(post(n.url + "/oauth2/introspect", form={"token": "x"},
                                         headers=basic(body["client_id"], body["client_secret"])), 401, "invalid_client",
                                    "revoked node's client"))
    # the Frappe alias
    r = post(n.url + "/api/method/frappe.integrations.oauth2.register_client", body=json.dumps(md),
             headers={"Content-Type": "application/json", "Authorization": "Bearer " + join_token(n)})
    eq(r.status, 201, "alias " + r.text)


def test_registration_open():
    n = Node("primary", name="open", conf={"primary": {"registration": {"require_join_token": False}}})
    n.hubctl("init")
    n.start()
    r = register(n, {"client_name": "cli", "grant_types": ["client_credentials"], "scope": "read"})
    eq(r.status, 201, "open registration " + r.text)
    body = r.json()
    r = token(n, {"grant_type": "client_credentials"}, basic(body["client_id"], body["client_secret"]))
    eq(r.status, 200, "registered client_credentials client " + r.text)
    eq(r.json()["scope"], "read", "scope")
    n.stop()


# ---- discovery and JWKS ----

def test_discovery():
    n = primary()
    for path in ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"):
        r = get(n.url + path)
        eq(r.status, 200, path)
        ok((r.header("content-type") or "").startswith("application/json"), "content-type")
        d = r.json()
        eq(d["issuer"], n.url, "issuer")
        for k, p in (("authorization_endpoint", "/oauth2/authorize"), ("token_endpoint", "/oauth2/token"),
                     ("userinfo_endpoint", "/oauth2/userinfo"), ("jwks_uri", "/oauth2/jwks"),
                     ("registration_endpoint", "/oauth2/register"), ("introspection_endpoint", "/oauth2/introspect"),
                     ("revocation_endpoint", "/oauth2/revoke"), ("end_session_endpoint", "/oauth2/logout")):
            eq(d[k], n.url + p, k)
        eq(d["code_challenge_methods_supported"], ["S256"], "PKCE methods")
        eq(d["response_types_supported"], ["code", "token", "id_token", "id_token token"], "response types")
        eq(d["scopes_supported"], ["openid", "profile", "email", "roles"], "scopes")
        eq(d["subject_types_supported"], ["public"], "subject types")
        eq(d["id_token_signing_alg_values_supported"], ["RS256"], "signing alg")
        ok({"authorization_code", "refresh_token", "client_credentials"} <= set(d["grant_types_supported"]), "grants")
        ok("password" not in d["grant_types_supported"], "no password grant")
        eq(set(d["token_endpoint_auth_methods_supported"]), {"client_secret_basic", "client_secret_post", "none"},
           "auth methods")
        ok(d["backchannel_logout_supported"] is True and d["backchannel_logout_session_supported"] is True, "bcl")
        ok({"sub", "email", "roles"} <= set(d["claims_supported"]), "claims")
    eq(post(n.url + "/.well-known/openid-configuration", form={}).status, 405, "POST on discovery")


def test_jwks():
    n = primary()
    r = get(n.url + "/oauth2/jwks")
    eq(r.status, 200, "jwks")
    eq(r.header("content-type"), "application/json", "content-type")
    eq(r.header("cache-control"), "public, max-age=1800", "max-age = publish_ahead/2 (1h default)")
    keys = r.json()["keys"]
    ok(len(keys) >= 1, "a key")
    for k in keys:
        ok(k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig" and k["kid"], "jwk fields")
        ok("d" not in k and "p" not in k, "public only")
    # rotation publishes the next key before it signs
    n.hubctl("keys", "rotate")
    deadline = time.time() + 5
    while time.time() < deadline and len(get(n.url + "/oauth2/jwks").json()["keys"]) < len(keys) + 1:
        time.sleep(0.2)
    keys2 = get(n.url + "/oauth2/jwks").json()["keys"]
    eq(len(keys2), len(keys) + 1, "next key published")
    hdr, _ = jwt_parts(cc_token(n)["access_token"])
    ok(hdr["kid"] in {k["kid"] for k in keys}, "still signing with the active key")


def test_jwks_short_publish_ahead():
    n = Node("primary", name="short", conf={"primary": {"key_rotation": {"every": "30d", "publish_ahead": "60s"}}})
    n.hubctl("init", "--alg", "ES256")
    n.start()
    r = get(n.url + "/oauth2/jwks")
    eq(r.header("cache-control"), "public, max-age=30", "max-age = publish_ahead/2")
    eq(r.json()["keys"][0]["alg"], "ES256", "configured alg")
    n.stop()


# ---- authorization code and refresh (needs the authorize endpoint) ----

def _inputs(page):
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page, re.I):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
    return fields


def get_code(n, client_id, scope="openid profile email roles", challenge=None, nonce="n-1", jar=None):
    """Runs the browser side of the code flow; returns the code, or None when authorize is not served. jar (a dict,
    filled in) keeps the browser's cookies: its session afterwards."""
    params = {"client_id": client_id, "response_type": "code", "redirect_uri": n.redirect, "scope": scope,
              "state": "st-1", "nonce": nonce}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    url = n.url + "/oauth2/authorize?" + urllib.parse.urlencode(params)
    jar = {} if jar is None else jar
    method, form = "GET", None
    for _ in range(12):
        h = {"Accept": "text/html"}
        if jar:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        r = request(method, url, form=form, headers=h)
        for sc in r.header_all("set-cookie"):
            k, _, v = sc.split(";", 1)[0].partition("=")
            jar[k.strip()] = v.strip()
        if r.status == 404 and "/oauth2/authorize" in url:
            return None
        if r.status in (302, 303):
            loc = urllib.parse.urljoin(url, r.header("location"))
            if loc.startswith(n.redirect):
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
                ok("code" in q, "authorize answered " + loc)
                eq(q.get("state"), ["st-1"], "state")
                return q["code"][0]
            url, method, form = loc, "GET", None
            continue
        eq(r.status, 200, "authorize/login page " + r.text[:300])
        page = r.text
        fields = _inputs(page)
        action = re.search(r'<form[^>]*action="([^"]*)"', page, re.I)
        for k in list(fields):
            if k in ("username", "email", "login", "user"):
                fields[k] = "alice"
        for tag in re.findall(r"<input[^>]*>", page, re.I):
            if 'type="password"' in tag:
                fields[re.search(r'name="([^"]*)"', tag).group(1)] = PASSWORD
        buttons = re.findall(r'<button[^>]*name="([^"]*)"[^>]*value="([^"]*)"', page, re.I)
        for name, value in buttons:
            if value.lower() in ("allow", "approve", "yes", "1", "true"):
                fields[name] = value
        url = urllib.parse.urljoin(url, html.unescape(action.group(1))) if action else url
        method, form = "POST", fields
    raise AssertionError("no code after 12 hops")


def pkce():
    verifier = base64.urlsafe_b64encode(b"v" * 40).decode().rstrip("=")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def test_authorization_code_and_refresh():
    n = primary()
    verifier, challenge = pkce()
    code = get_code(n, n.web[0], challenge=challenge)
    if code is None:
        print("skip: /oauth2/authorize is not served by this build")
        return
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": n.redirect}
    expect_error(token(n, dict(form, code_verifier="x" * 43), basic(*n.web)), 400, "invalid_grant", "wrong verifier")
    expect_error(token(n, form, basic(*n.web)), 400, "invalid_grant", "missing verifier")
    expect_error(token(n, dict(form, code_verifier=verifier, redirect_uri="http://127.0.0.1:9/other"), basic(*n.web)),
                 400, "invalid_grant", "other redirect_uri")
    r = token(n, dict(form, code_verifier=verifier), basic(*n.web))
    eq(r.status, 200, "code exchange " + r.text)
    body = r.json()
    ok(body.get("refresh_token") and body.get("id_token"), "refresh and id tokens")
    _, at = jwt_parts(body["access_token"])
    _, idt = jwt_parts(body["id_token"])
    eq((at["aud"], at["client_id"], idt["aud"]), (n.web[0],) * 3, "audiences")
    eq(idt["nonce"], "n-1", "nonce")
    eq(at["roles"], ["Employee"], "user roles")
    ok(at.get("sid") and at["sid"] == idt.get("sid"), "sid")
    h = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    eq(idt["at_hash"], base64.urlsafe_b64encode(h).decode().rstrip("="), "at_hash")
    i = introspect(n, body["access_token"], who=n.web).json()
    eq((i["active"], i["username"]), (True, "alice"), "introspected user token")
    # replay revokes everything issued from the code
    expect_error(token(n, dict(form, code_verifier=verifier), basic(*n.web)), 400, "invalid_grant", "code replay")
    eq(introspect(n, body["access_token"]).json()["active"], False, "access token revoked by the replay")
    expect_error(token(n, {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}, basic(*n.web)), 400,
                 "invalid_grant", "refresh token revoked by the replay")

    # refresh: rotation, narrowing, escalation, reuse
    code = get_code(n, n.web[0], challenge=challenge)
    b1 = token(n, dict(form, code=code, code_verifier=verifier), basic(*n.web)).json()
    rt = b1["refresh_token"]
    expect_error(token(n, {"grant_type": "refresh_token", "refresh_token": rt, "scope": "openid admin"}, basic(*n.web)),
                 400, "invalid_scope", "refresh scope escalation")
    expect_error(token(n, {"grant_type": "refresh_token", "refresh_token": rt}, basic(*n.cc_basic)), 400,
                 "unauthorized_client", "refresh by another client")
    r = token(n, {"grant_type": "refresh_token", "refresh_token": rt, "scope": "openid email"}, basic(*n.web))
    eq(r.status, 200, "refresh " + r.text)
    b2 = r.json()
    eq(b2["scope"], "openid email", "narrowed")
    ok(b2["refresh_token"] != rt and b2.get("id_token"), "rotated, id_token again")
    # RFC 6749 §6: narrowing applies to the tokens issued now; the refresh token keeps the grant
    r = token(n, {"grant_type": "refresh_token", "refresh_token": b2["refresh_token"]}, basic(*n.web))
    eq(r.status, 200, "refresh after narrowing " + r.text)
    eq(r.json()["scope"], b1["scope"], "the original scope comes back")
    b2["refresh_token"] = r.json()["refresh_token"]
    # rt is an older ancestor now (its successor was rotated): no grace, even within seconds; the family dies
    expect_error(token(n, {"grant_type": "refresh_token", "refresh_token": rt}, basic(*n.web)), 400, "invalid_grant",
                 "reuse of an older ancestor")
    eq(introspect(n, b2["access_token"], who=n.web).json()["active"], False, "family revoked on reuse")
    expect_error(token(n, {"grant_type": "refresh_token", "refresh_token": b2["refresh_token"]}, basic(*n.web)), 400,
                 "invalid_grant", "successor dead too")

    # revoking a refresh token revokes its family
    code = get_code(n, n.web[0], challenge=challenge)
    b3 = token(n, dict(form, code=code, code_verifier=verifier), basic(*n.web)).json()
    eq(post(n.url + "/oauth2/revoke", form={"token": b3["refresh_token"]}, headers=basic(*n.web)).status, 200, "revoke rt")
    eq(introspect(n, b3["access_token"]).json()["active"], False, "access token of the family inactive")


# ---- refresh reuse and the retry grace (SPEC §4) ----

def fresh_grant(n):
    """A new family for alice at the web client: the code exchange's token response."""
    verifier, challenge = pkce()
    code = get_code(n, n.web[0], challenge=challenge)
    r = token(n, {"grant_type": "authorization_code", "code": code, "redirect_uri": n.redirect, "code_verifier": verifier},
              basic(*n.web))
    eq(r.status, 200, "code exchange " + r.text)
    return r.json()


def refresh(n, rt, headers=None, **extra):
    return token(n, dict({"grant_type": "refresh_token", "refresh_token": rt}, **extra),
                 basic(*n.web) if headers is None else headers)


def refreshed(n, rt, what, **extra):
    r = refresh(n, rt, **extra)
    eq(r.status, 200, what + " " + r.text)
    return r.json()


def family_dead(n, at, rt, what):
    """The family of access token at and live refresh token rt is revoked."""
    eq(introspect(n, at, who=n.web).json()["active"], False, what + ": its access token is inactive")
    expect_error(refresh(n, rt), 400, "invalid_grant", what + ": its live refresh token is dead")


def family_alive(n, at, what):
    eq(introspect(n, at, who=n.web).json()["active"], True, what + ": the family is alive")


def test_refresh_retry_grace():
    """One retry of a just-rotated refresh token gets a normal answer; it supersedes the first answer, so whichever copy
    of the old branch comes back (a thief's or the client's) revokes the family."""
    n = primary()
    if get_code(n, n.web[0], challenge=pkce()[1]) is None:
        print("skip: /oauth2/authorize is not served by this build")
        return
    # a lost response: the client retries and goes on with the retry's token
    g = fresh_grant(n)
    first = refreshed(n, g["refresh_token"], "refresh")
    retry = refreshed(n, g["refresh_token"], "retry within the grace")
    ok(retry["refresh_token"] not in (first["refresh_token"], g["refresh_token"]), "the retry gets a new refresh token")
    ok(retry["access_token"] != first["access_token"] and retry.get("id_token"), "and new access and id tokens")
    family_alive(n, retry["access_token"], "after the retry")
    nxt = refreshed(n, retry["refresh_token"], "the retry's token rotates")
    family_alive(n, nxt["access_token"], "after the retry's token rotated")
    # the superseded first answer comes back later (a thief who refreshed first, or a confused client): reuse
    expect_error(refresh(n, first["refresh_token"]), 400, "invalid_grant", "the superseded successor")
    family_dead(n, nxt["access_token"], nxt["refresh_token"], "superseded successor presented")

    # at most one retry is honoured
    g = fresh_grant(n)
    first = refreshed(n, g["refresh_token"], "refresh")
    retry = refreshed(n, g["refresh_token"], "first retry")
    expect_error(refresh(n, g["refresh_token"]), 400, "invalid_grant", "second retry")
    family_dead(n, retry["access_token"], retry["refresh_token"], "second retry")

    # a retry asking for less gets it; one asking for more is a refused reuse
    g = fresh_grant(n)
    refreshed(n, g["refresh_token"], "refresh")
    eq(refreshed(n, g["refresh_token"], "narrowed retry", scope="openid")["scope"], "openid", "narrowed retry")
    g = fresh_grant(n)
    first = refreshed(n, g["refresh_token"], "refresh")
    expect_error(refresh(n, g["refresh_token"], scope="openid admin"), 400, "invalid_grant", "escalating retry")
    family_dead(n, first["access_token"], first["refresh_token"], "escalating retry")


def test_refresh_refused_reuse_revokes():
    """Every refused presentation of a rotated refresh token revokes its family; the same refusal of a current token
    changes nothing."""
    n = primary()
    if get_code(n, n.web[0], challenge=pkce()[1]) is None:
        print("skip: /oauth2/authorize is not served by this build")
        return
    wrong_secret = basic(n.web[0], "not-the-secret")
    other_client = {"client_id": n.public[0]}
    cases = [("wrong client secret", wrong_secret, {}, 401, "invalid_client"),
             ("no client authentication", {}, {}, 401, "invalid_client"),
             ("another client (public)", {}, other_client, 400, "invalid_grant"),
             ("a client_credentials client", basic(*n.cc_basic), {}, 400, "unauthorized_client")]
    for what, headers, extra, status, error in cases:
        # the current token refused this way: nothing changes
        g = fresh_grant(n)
        expect_error(refresh(n, g["refresh_token"], headers=headers, **extra), status, error, what + " (current token)")
        first = refreshed(n, g["refresh_token"], what + ": the current token still works")
        family_alive(n, first["access_token"], what + " (current token)")
        # a just-rotated token refused this way, inside the grace: the family dies
        expect_error(refresh(n, g["refresh_token"], headers=headers, **extra), status, error, what + " (retry)")
        family_dead(n, first["access_token"], first["refresh_token"], what + " (retry)")
    # after the grace any reuse revokes
    g = fresh_grant(n)
    first = refreshed(n, g["refresh_token"], "refresh")
    time.sleep(6.5)
    expect_error(refresh(n, g["refresh_token"]), 400, "invalid_grant", "reuse after the grace")
    family_dead(n, first["access_token"], first["refresh_token"], "reuse after the grace")


def test_public_client_pkce():
    n = primary()
    verifier, challenge = pkce()
    code = get_code(n, n.public[0], challenge=challenge)
    if code is None:
        print("skip: /oauth2/authorize is not served by this build")
        return
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": n.redirect, "client_id": n.public[0]}
    expect_error(token(n, form), 400, "invalid_grant", "public client without verifier")
    r = token(n, dict(form, code_verifier=verifier))
    eq(r.status, 200, "public client with PKCE " + r.text)
    rt = r.json()["refresh_token"]
    r = token(n, {"grant_type": "refresh_token", "refresh_token": rt, "client_id": n.public[0]})
    eq(r.status, 200, "public refresh " + r.text)


def test_session_family():
    """A signed-in browser's authorizations of one client with one scope share a token family (the session's for the
    client: idp_session_family), which their access tokens' jtis name. A replayed code revokes what every authorization
    of that family issued and nothing else; the next authorization gets a new family, as do another scope and another
    browser session."""
    n = primary()
    if get_code(n, n.web[0], challenge=pkce()[1]) is None:
        print("skip: /oauth2/authorize is not served by this build")
        return
    jar = {}

    def grant(scope="openid profile email roles", browser=jar):
        verifier, challenge = pkce()
        code = get_code(n, n.web[0], scope=scope, challenge=challenge, jar=browser)
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": n.redirect, "code_verifier": verifier}
        r = token(n, form, basic(*n.web))
        eq(r.status, 200, "code exchange " + r.text)
        return form, r.json()

    def family(body):
        fam, dot, rest = jwt_parts(body["access_token"])[1]["jti"].partition(".")
        ok(len(fam) == 32 and dot == "." and len(rest) == 22, "the jti names a family: " + fam + dot + rest)
        return fam

    form1, g1 = grant()
    _, g2 = grant()
    eq(family(g1), family(g2), "one browser session, one client, one scope: one family")
    expect_error(token(n, form1, basic(*n.web)), 400, "invalid_grant", "the first code replayed")
    family_dead(n, g1["access_token"], g1["refresh_token"], "the replayed code's")
    family_dead(n, g2["access_token"], g2["refresh_token"], "the other authorization of the family")
    _, g3 = grant()
    ok(family(g3) != family(g1), "a revoked family is not used again")
    _, narrow = grant("openid")
    ok(family(narrow) != family(g3), "another scope: another family")
    _, other = grant(browser={})
    ok(family(other) not in (family(g3), family(narrow)), "another browser session: another family")
    for body, what in ((g3, "the new family"), (narrow, "another scope's"), (other, "another session's")):
        family_alive(n, body["access_token"], what)
        eq(refresh(n, body["refresh_token"]).status, 200, what + ": its refresh token works")


if __name__ == "__main__":
    run([test_client_credentials, test_scope_narrowing_and_escalation, test_client_auth_failures, test_bad_requests,
         test_client_changes_seen_live, test_introspection, test_revocation, test_registration, test_registration_open, test_discovery, test_jwks,
         test_jwks_short_publish_ahead, test_authorization_code_and_refresh, test_refresh_retry_grace,
         test_refresh_refused_reuse_revokes, test_public_client_pkce, test_session_family])
