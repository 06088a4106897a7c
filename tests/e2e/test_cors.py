"""CORS on a real primary (SPEC §10): the OPTIONS preflight of the token, revocation and userinfo endpoints (native
paths and Frappe aliases) opens them to the origin of any enabled client's redirect URI, spelt exactly as browsers
send it; an actual response, success or OAuth error, opens to the origins of its own client only; discovery and JWKS
answer `*`; `Vary: Origin` always, `Access-Control-Allow-Credentials` never; and the set of origins follows every
client change at once (hubctl, registration, node revoke)."""
import base64
import hashlib
import html
import http.client
import json
import re
import urllib.parse

from hubtest import Node, Response, basic, eq, free_port, ok, post, request, run

PASSWORD = "correct horse battery staple"
ALLOW_HEADERS = "authorization, content-type"
# path -> the methods its preflight allows
CORS_ENDPOINTS = {
    "/oauth2/token": "POST",
    "/api/method/frappe.integrations.oauth2.get_token": "POST",
    "/oauth2/revoke": "POST",
    "/api/method/frappe.integrations.oauth2.revoke_token": "POST",
    "/oauth2/userinfo": "GET, POST",
    "/api/method/frappe.integrations.oauth2.openid_profile": "GET, POST",
}
PUBLIC_DOCUMENTS = ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/oauth2/jwks")
ACCESS_CONTROL = ("access-control-allow-origin", "access-control-allow-methods", "access-control-allow-headers",
                  "access-control-max-age", "access-control-allow-credentials", "access-control-expose-headers")


def creds(out):
    cid = re.search(r"client_id:\s*(\S+)", out)
    sec = re.search(r"client_secret:\s*(\S+)", out)
    return cid.group(1) if cid else None, sec.group(1) if sec else None



def raw(method, url, headers, body=None):
    """One request with headers given as a list of pairs, so a header may be repeated (http.client keeps them)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.putrequest(method, u.path + ("?" + u.query if u.query else ""), skip_accept_encoding=True)
        data = body.encode() if body is not None else None
        for k, v in headers:
            conn.putheader(k, v)
        if data is not None:
            conn.putheader("Content-Type", "application/x-www-form-urlencoded")
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        r = conn.getresponse()
        return Response(r.status, [(k.lower(), v) for k, v in r.getheaders()], r.read())
    finally:
        conn.close()


# ---- the primary ----

_primary = None


def primary():
    """One primary shared by the tests: a public SPA client with two origins, a confidential web client whose redirect
    URI is written in upper case with its default port, and a user."""
    global _primary
    if _primary is not None:
        if _primary.proc is None or _primary.proc.poll() is not None:
            _primary.start()  # the harness stops every node after each test
        return _primary
    n = Node("primary")
    n.hubctl("init")
    n.hubctl("user", "add", "alice", "--email", "alice@example.com", "--full-name", "Alice Doe", input=PASSWORD + "\n")
    n.spa_port = free_port()
    n.spa_origin = f"http://127.0.0.1:{n.spa_port}"
    n.spa_redirect = n.spa_origin + "/callback.html"
    n.spa_origin2 = "https://spa.example:8443"
    n.spa = creds(n.hubctl("client", "add", "--app-name", "spa", "--redirect-uris", f"{n.spa_redirect} {n.spa_origin2}/cb",
                           "--auth-method", "none", "--skip-authorization", "--scopes", "openid profile email").stdout)[0]
    n.web_origin = "http://web.example"
    n.web_redirect = "HTTP://Web.Example:80/cb"
    n.web = creds(n.hubctl("client", "add", "--app-name", "web", "--redirect-uris", n.web_redirect,
                           "--skip-authorization").stdout)
    ok(n.spa and n.web[0] and n.web[1], "clients created")
    n.start()
    _primary = n
    return n


def refused_origins(n):
    """Origin values that must never be answered with Access-Control-Allow-Origin: (what, value)."""
    port = n.spa_port
    return [
        ("an unregistered port", f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}"),
        ("no port", "http://127.0.0.1"),
        ("null", "null"),
        ("a trailing slash", n.spa_origin + "/"),
        ("a path", n.spa_redirect),
        ("upper-case scheme", f"HTTP://127.0.0.1:{port}"),
        ("upper-case host", "http://WEB.example"),
        ("the default port spelt out", "http://web.example:80"),
        ("another port of a registered host", "https://spa.example:443"),
        ("a registered host without its port", "https://spa.example"),
        ("another scheme", "https://web.example"),
        ("a registered host on another scheme", "http://spa.example:8443"),
        ("a suffix", "http://web.example.evil.example"),
        ("a prefix", "http://evil.web.example"),
        ("a longer port", f"http://127.0.0.1:{port}0"),
        ("userinfo", f"http://127.0.0.1:{port}@evil.example"),
        ("localhost for 127.0.0.1", f"http://localhost:{port}"),
        ("::1 for 127.0.0.1", f"http://[::1]:{port}"),
        ("a hex IPv4 spelling", f"http://0x7f.0.0.1:{port}"),
        ("a one-number IPv4 spelling", f"http://2130706433:{port}"),
        ("a wildcard", "*"),
        ("a list", f"{n.spa_origin}, http://evil.example"),
        ("a list of the same", f"{n.spa_origin} {n.spa_origin}"),
        ("an empty value", ""),
        ("a file origin", "file://"),
        ("a non-http scheme", f"ftp://127.0.0.1:{port}"),
        ("a very long origin", "http://" + "a" * 3000 + ".example"),
    ]


def no_cors(r, what):
    for h in ACCESS_CONTROL:
        eq(r.header(h), None, f"{what}: {h}")


def vary_origin(r, what):
    ok(any("origin" in v.lower() for v in r.header_all("vary")), f"{what}: Vary: Origin ({r.headers})")


def never_credentials(r, what):
    eq(r.header("access-control-allow-credentials"), None, f"{what}: never Access-Control-Allow-Credentials")


def allowed(r, origin, what):
    eq(r.header_all("access-control-allow-origin"), [origin], f"{what}: Access-Control-Allow-Origin")
    vary_origin(r, what)
    never_credentials(r, what)


def not_allowed(r, what):
    no_cors(r, what)
    vary_origin(r, what)


def preflight(n, path, origin, method="POST", headers=ALLOW_HEADERS):
    h = [("Access-Control-Request-Method", method), ("Access-Control-Request-Headers", headers)]
    if origin is not None:
        h.append(("Origin", origin))
    return raw("OPTIONS", n.url + path, h)


# ---- preflight ----

def test_preflight_allows_every_registered_origin():
    n = primary()
    # a preflight names no client: the origin of any enabled client's redirect URI is allowed, whichever client
    for origin in (n.spa_origin, n.spa_origin2, n.web_origin):
        for path, methods in CORS_ENDPOINTS.items():
            what = f"OPTIONS {path} from {origin}"
            r = preflight(n, path, origin, methods.split(",")[0])
            eq(r.status, 204, what)
            eq(r.body, b"", what + ": no body")
            allowed(r, origin, what)
            eq(r.header("access-control-allow-methods"), methods, what + ": methods")
            eq(r.header("access-control-allow-headers"), ALLOW_HEADERS, what + ": headers")
            eq(r.header("access-control-max-age"), "600", what + ": max-age")
            eq(r.header("allow"), "OPTIONS, " + methods, what + ": Allow")


def test_preflight_refuses_every_other_origin():
    n = primary()
    for path in CORS_ENDPOINTS:
        for what, origin in refused_origins(n):
            r = preflight(n, path, origin)
            what = f"OPTIONS {path} with {what} ({origin[:60]!r})"
            if len(origin) > 1000 and r.status != 204:
                ok(r.status in (400, 413, 431), what + f": refused outright ({r.status})")
                no_cors(r, what)
                continue
            eq(r.status, 204, what)
            not_allowed(r, what)
            eq(r.header("allow"), "OPTIONS, " + CORS_ENDPOINTS[path], what + ": Allow")
        # no Origin at all: a plain OPTIONS
        r = preflight(n, path, None)
        eq(r.status, 204, f"OPTIONS {path} without Origin")
        not_allowed(r, f"OPTIONS {path} without Origin")
        # the Origin header twice, the same registered origin or two of them: no single origin to answer
        for pair in ((n.spa_origin, n.spa_origin), (n.spa_origin, n.web_origin), ("http://evil.example", n.spa_origin)):
            r = raw("OPTIONS", n.url + path, [("Access-Control-Request-Method", "POST"), ("Origin", pair[0]),
                                              ("Origin", pair[1])])
            eq(r.status, 204, f"OPTIONS {path} with two Origin headers {pair}")
            not_allowed(r, f"OPTIONS {path} with two Origin headers {pair}")
    ok(n.proc.poll() is None, "the primary is still running")


# ---- actual responses ----

def _inputs(page):
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page, re.I):
        name = re.search(r'name="([^"]*)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            fields[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
    return fields


def get_code(n, client_id, redirect, challenge, scope="openid profile email"):
    """The browser side of the code flow (sign-in page, consent when asked); returns the code."""
    params = {"client_id": client_id, "response_type": "code", "redirect_uri": redirect, "scope": scope, "state": "s1",
              "nonce": "n1", "code_challenge": challenge, "code_challenge_method": "S256"}
    url = n.url + "/oauth2/authorize?" + urllib.parse.urlencode(params)
    jar, method, form = {}, "GET", None
    for _ in range(12):
        h = {"Accept": "text/html"}
        if jar:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        r = request(method, url, form=form, headers=h)
        for sc in r.header_all("set-cookie"):
            k, _, v = sc.split(";", 1)[0].partition("=")
            jar[k.strip()] = v.strip()
        if r.status in (302, 303):
            loc = urllib.parse.urljoin(url, r.header("location"))
            if loc.startswith(redirect):
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
                ok("code" in q, "authorize answered " + loc)
                return q["code"][0]
            url, method, form = loc, "GET", None
            continue
        eq(r.status, 200, "authorize/login page " + r.text[:300])
        fields = _inputs(r.text)
        if "username" in fields:
            fields.update(username="alice", password=PASSWORD)
        for name, value in re.findall(r'<button[^>]*name="([^"]*)"[^>]*value="([^"]*)"', r.text, re.I):
            if value.lower() == "allow":
                fields[name] = value
        action = re.search(r'<form[^>]*action="([^"]*)"', r.text, re.I)
        url = urllib.parse.urljoin(url, html.unescape(action.group(1))) if action else url
        method, form = "POST", fields
    raise AssertionError("no code after 12 hops")


def pkce():
    verifier = base64.urlsafe_b64encode(hashlib.sha256(b"cors").digest()).decode().rstrip("=")
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def form_post(n, path, form, origin, headers=()):
    h = list(headers)
    if origin is not None:
        h.append(("Origin", origin))
    return raw("POST", n.url + path, h, urllib.parse.urlencode(form))


def spa_tokens(n, origin=None):
    verifier, challenge = pkce()
    code = get_code(n, n.spa, n.spa_redirect, challenge)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": n.spa_redirect, "client_id": n.spa,
            "code_verifier": verifier}
    return form, form_post(n, "/oauth2/token", form, origin)


def test_token_endpoint_opens_to_its_own_client_only():
    n = primary()
    form, r = spa_tokens(n, n.spa_origin)
    eq(r.status, 200, "code exchange " + r.text)
    allowed(r, n.spa_origin, "token response")
    tokens = r.json()
    # a refresh: opened to the client's origin, not to another client's
    rt = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": n.spa}
    r = form_post(n, "/oauth2/token", rt, n.web_origin)
    eq(r.status, 200, "refresh " + r.text)
    not_allowed(r, "refresh answer to another client's origin")
    rt["refresh_token"] = r.json()["refresh_token"]
    r = form_post(n, "/oauth2/token", rt, n.spa_origin)
    eq(r.status, 200, "refresh " + r.text)
    allowed(r, n.spa_origin, "refresh answer")
    # the same code again (which revokes the grant, so after the refreshes): invalid_grant, readable by the app
    r = form_post(n, "/oauth2/token", form, n.spa_origin)
    eq((r.status, r.json()["error"]), (400, "invalid_grant"), "code replay")
    allowed(r, n.spa_origin, "invalid_grant answer")
    # the client's other origin, through the Frappe alias
    r = form_post(n, "/api/method/frappe.integrations.oauth2.get_token", form, n.spa_origin2)
    allowed(r, n.spa_origin2, "the client's second origin, alias")
    # another client's registered origin, and every refused spelling: the answer is not opened
    for what, origin in [("another client's origin", n.web_origin)] + refused_origins(n):
        for path in ("/oauth2/token", "/api/method/frappe.integrations.oauth2.get_token"):
            r = form_post(n, path, form, origin)
            if len(origin) > 1000 and r.status not in (400, 401):
                no_cors(r, what)
                continue
            eq(r.json().get("error"), "invalid_grant", f"{path} with {what}")
            not_allowed(r, f"{path} answer with {what}")
    r = raw("POST", n.url + "/oauth2/token", [("Origin", n.spa_origin), ("Origin", n.spa_origin)], urllib.parse.urlencode(form))
    not_allowed(r, "token answer with two Origin headers")
    # before the client is identified there is no client to open to: a malformed request, a failed authentication
    for what, f in (("no grant_type", {"client_id": n.spa}), ("an unknown grant", {"grant_type": "x", "client_id": n.spa}),
                    ("a secret for a public client", dict(form, client_secret="x")),
                    ("an unknown client", dict(form, client_id="nope"))):
        r = form_post(n, "/oauth2/token", f, n.spa_origin)
        ok(r.status in (400, 401), what)
        not_allowed(r, what)


def test_confidential_client_origin():
    n = primary()
    cid, secret = n.web
    form = {"grant_type": "authorization_code", "code": "unknown", "redirect_uri": n.web_redirect}
    r = form_post(n, "/oauth2/token", form, n.web_origin, basic(cid, secret).items())
    eq(r.json()["error"], "invalid_grant", "web client's error")
    allowed(r, n.web_origin, "web client's answer (its redirect URI written HTTP://Web.Example:80)")
    for origin in (n.spa_origin, "http://Web.Example", "http://web.example:80"):
        r = form_post(n, "/oauth2/token", form, origin, basic(cid, secret).items())
        not_allowed(r, f"web client's answer to {origin}")
    r = form_post(n, "/oauth2/token", form, n.web_origin, basic(cid, secret + "x").items())
    eq(r.status, 401, "wrong secret")
    not_allowed(r, "invalid_client answer")


def test_userinfo_and_revocation():
    n = primary()
    _, r = spa_tokens(n)
    eq(r.status, 200, "code exchange " + r.text)
    not_allowed(r, "token answer without Origin")
    tokens = r.json()
    at = tokens["access_token"]
    bearer = ("Authorization", "Bearer " + at)
    for path in ("/oauth2/userinfo", "/api/method/frappe.integrations.oauth2.openid_profile"):
        r = raw("GET", n.url + path, [bearer, ("Origin", n.spa_origin)])
        eq(r.status, 200, path + " " + r.text)
        eq(r.json()["email"], "alice@example.com", path)
        allowed(r, n.spa_origin, "userinfo GET " + path)
        r = form_post(n, path, {"access_token": at}, n.spa_origin2)
        eq(r.status, 200, path + " POST " + r.text)
        allowed(r, n.spa_origin2, "userinfo POST " + path)
        for what, origin in [("another client's origin", n.web_origin)] + refused_origins(n)[:22]:
            r = raw("GET", n.url + path, [bearer, ("Origin", origin)])
            eq(r.status, 200, f"{path} with {what}")
            not_allowed(r, f"userinfo with {what}")
    # a token we did not sign names no client we can trust
    h, p, s = at.split(".")
    forged_payload = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    forged_payload["sub"] = "someone-else"
    forged = h + "." + base64.urlsafe_b64encode(json.dumps(forged_payload).encode()).decode().rstrip("=") + "." + s
    for what, hdrs in (("a forged token", [("Authorization", "Bearer " + forged)]), ("no token", []),
                       ("a malformed header", [("Authorization", "Basic eDp5")])):
        r = raw("GET", n.url + "/oauth2/userinfo", hdrs + [("Origin", n.spa_origin)])
        ok(r.status in (400, 401), what)
        not_allowed(r, f"userinfo with {what}")
    # revocation: opened to the client's origin, not to another's
    r = form_post(n, "/api/method/frappe.integrations.oauth2.revoke_token",
                  {"token": tokens["refresh_token"], "client_id": n.spa}, n.web_origin)
    eq(r.status, 200, "revoke " + r.text)
    not_allowed(r, "revocation answer to another client's origin")
    r = form_post(n, "/oauth2/revoke", {"token": at, "token_type_hint": "access_token", "client_id": n.spa}, n.spa_origin)
    eq(r.status, 200, "revoke " + r.text)
    allowed(r, n.spa_origin, "revocation answer")
    r = form_post(n, "/oauth2/revoke", {"token": at}, n.spa_origin)
    eq(r.status, 401, "revocation without client")
    not_allowed(r, "revocation invalid_client answer")
    # the revoked token still names its client (we signed it): the app can read why it failed
    r = raw("GET", n.url + "/oauth2/userinfo", [bearer, ("Origin", n.spa_origin)])
    eq((r.status, r.json()["error"]), (401, "invalid_token"), "revoked token")
    allowed(r, n.spa_origin, "userinfo error for a revoked token")


# ---- methods, and the public documents ----

def test_methods():
    n = primary()
    for path, methods in CORS_ENDPOINTS.items():
        for method in ("GET", "PUT", "DELETE", "PATCH", "HEAD"):
            if method in methods.split(", "):
                continue
            r = raw(method, n.url + path, [("Origin", n.spa_origin)])
            eq(r.status, 405, f"{method} {path}")
            eq(r.header("allow"), "OPTIONS, " + methods, f"{method} {path}: Allow")
            vary_origin(r, f"{method} {path}")
            eq(r.header("access-control-allow-origin"), None, f"{method} {path}")
    for path in PUBLIC_DOCUMENTS:
        for method in ("POST", "PUT", "DELETE"):
            r = raw(method, n.url + path, [("Origin", n.spa_origin)])
            eq(r.status, 405, f"{method} {path}")
            eq(r.header("allow"), "OPTIONS, GET, HEAD", f"{method} {path}: Allow")
    # introspection is for confidential clients (resource servers), not browsers: no preflight there
    r = preflight(n, "/oauth2/introspect", n.spa_origin)
    eq(r.status, 405, "OPTIONS on introspection")
    eq(r.header("allow"), "POST", "introspection's Allow")
    no_cors(r, "introspection")


def test_public_documents():
    n = primary()
    origins = [n.spa_origin, "http://evil.example", "null", None]
    for path in PUBLIC_DOCUMENTS:
        for origin in origins:
            h = [("Origin", origin)] if origin is not None else []
            for method in ("GET", "HEAD"):
                r = raw(method, n.url + path, h)
                eq(r.status, 200, f"{method} {path} from {origin}")
                eq(r.header_all("access-control-allow-origin"), ["*"], f"{method} {path} from {origin}")
                never_credentials(r, f"{path} from {origin}")
            r = preflight(n, path, origin, "GET", "content-type")
            eq(r.status, 204, f"OPTIONS {path} from {origin}")
            eq(r.header_all("access-control-allow-origin"), ["*"], f"OPTIONS {path} from {origin}")
            eq(r.header("access-control-allow-methods"), "GET, HEAD", f"OPTIONS {path}")
            eq(r.header("access-control-max-age"), "600", f"OPTIONS {path}")
            never_credentials(r, f"OPTIONS {path}")
        ok(raw("GET", n.url + path, []).body.startswith(b"{"), path + " still served")


# ---- the set of origins follows the clients ----

def allowed_now(n, origin):
    r = preflight(n, "/oauth2/token", origin)
    eq(r.status, 204, "preflight")
    return r.header("access-control-allow-origin") == origin


def test_origins_follow_client_changes():
    n = primary()
    a, b = f"http://127.0.0.1:{free_port()}", "https://b.example"
    ok(not allowed_now(n, a) and not allowed_now(n, b), "unknown origins")
    cid = creds(n.hubctl("client", "add", "--app-name", "live", "--redirect-uris", a + "/cb", "--auth-method", "none").stdout)[0]
    ok(allowed_now(n, a), "a client added by hubctl counts at once")
    n.hubctl("client", "update", cid, "--redirect-uris", b + "/cb")
    ok(not allowed_now(n, a) and allowed_now(n, b), "an update moves the origin")
    n.hubctl("client", "del", cid)
    ok(not allowed_now(n, b), "a deleted client's origin is gone")
    # a node registered with a join token, then revoked (its client disabled)
    out = n.hubctl("node", "join-token", "--name", "sec").stdout
    jt = re.findall(r"[A-Za-z0-9_-]{40,}", out)[-1]
    node = f"http://127.0.0.1:{free_port()}"
    md = {"client_name": "sec", "redirect_uris": [node + "/auth/callback"], "grant_types": ["authorization_code"],
          "response_types": ["code"], "token_endpoint_auth_method": "client_secret_basic", "scope": "openid"}
    r = post(n.url + "/oauth2/register", body=json.dumps(md),
             headers={"Content-Type": "application/json", "Authorization": "Bearer " + jt})
    eq(r.status, 201, "registration " + r.text)
    ok(allowed_now(n, node), "a registered node's origin")
    n.hubctl("node", "revoke", r.json()["client_id"])
    ok(not allowed_now(n, node), "a revoked node's origin is gone")
    # and it all survives a restart
    ok(n.stop() == 0, "stopped")
    n.start()
    ok(allowed_now(n, n.spa_origin) and not allowed_now(n, node) and not allowed_now(n, b), "after a restart")


if __name__ == "__main__":
    run([test_preflight_allows_every_registered_origin, test_preflight_refuses_every_other_origin,
         test_token_endpoint_opens_to_its_own_client_only, test_confidential_client_origin, test_userinfo_and_revocation,
         test_methods, test_public_documents, test_origins_follow_client_changes])
