"""Authorization endpoint, consent, codes, implicit, userinfo and RP/back-channel logout against a real primary."""
import base64
import hashlib
import html.parser
import http.server
import json
import os
import secrets
import time
import urllib.parse

from hubtest import Browser, Node, eq, eventually, get, ok, post, run, serve_http, tmpdir

PASSWORD = "correct horse battery staple"
RP = "http://127.0.0.1:9/cb"  # nothing listens there: the browser never follows redirects to the client
AFTER_LOGOUT = "http://127.0.0.1:9/bye"


# ---- helpers ----

class FormParser(html.parser.HTMLParser):
    """Collects the forms of a page: action, method and inputs/buttons."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": a.get("method", "get").lower(), "inputs": [],
                               "buttons": []})
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"].append((a.get("name"), a.get("type", "text").lower(), a.get("value", "")))
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append((a.get("name"), a.get("value", "")))


def forms_of(r):
    p = FormParser()
    p.feed(r.text)
    return p.forms


def b64json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_claims(token):
    return b64json(token.split(".")[1])


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def split_location(loc):
    """(base, query dict, fragment dict) of a redirect to the client."""
    u = urllib.parse.urlsplit(loc)
    base = f"{u.scheme}://{u.netloc}{u.path}"
    q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
    fr = dict(urllib.parse.parse_qsl(u.fragment, keep_blank_values=True))
    return base, q, fr


class Hub:
    """A primary with two users, a role and a set of clients, plus a browser helper that stops at the client."""

    def __init__(self, bcl_url=None):
        self.node = Node("primary", name="authzp")
        self.node.hubctl("init")
        pw = os.path.join(self.node.dir, "pw")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        self.node.hubctl("role", "add", "Employee")
        self.node.hubctl("user", "add", "alice", "--email", "alice@example.com", "--full-name", "Alice Example",
                         "--given-name", "Alice", "--family-name", "Example", "--role", "Employee", "--password-file", pw)
        self.node.hubctl("user", "add", "bob", "--email", "bob@example.com", "--full-name", "Bob", "--password-file", pw)
        self.clients = {}
        self.add_client("web", "--app-name", "Web App", "--redirect-uris", RP)
        self.add_client("public", "--app-name", "Public App", "--redirect-uris", RP, "--auth-method", "none")
        self.add_client("implicit", "--app-name", "Implicit App", "--redirect-uris", RP, "--grant-type", "implicit",
                        "--response-type", "token")
        self.add_client("skip", "--app-name", "Trusted App", "--redirect-uris", RP, "--skip-authorization")
        self.add_client("staff", "--app-name", "Staff App", "--redirect-uris", RP, "--allowed-roles", "Employee")
        self.add_client("svc", "--app-name", "Service", "--grant-type", "client_credentials", "--scopes", "openid;roles")
        bcl = ["--backchannel-logout-uri", bcl_url] if bcl_url else []
        self.add_client("rp", "--app-name", "Relying Party", "--redirect-uris", RP, "--skip-authorization",
                        "--post-logout-redirect-uris", AFTER_LOGOUT, *bcl)
        self.node.start()
        self.url = self.node.url

    def finish(self):
        """Stops the node gracefully: exit 0 and no sanitizer report in its log."""
        rc = self.node.stop()
        log = open(self.node.log_path).read()
        ok("Sanitizer" not in log and "runtime error" not in log, "sanitizer report:\n" + log[-3000:])
        eq(rc, 0, "hubd exit code")

    def add_client(self, key, *args):
        out = self.node.hubctl("client", "add", *args).stdout
        vals = dict(line.split(": ", 1) for line in out.strip().splitlines() if ": " in line)
        self.clients[key] = (vals["client_id"].strip(), vals.get("client_secret", "").strip() or None)

    def cid(self, key):
        return self.clients[key][0]

    def basic(self, key):
        cid, sec = self.clients[key]
        return {"Authorization": "Basic " + base64.b64encode(f"{cid}:{sec}".encode()).decode()}

    def authorize_url(self, key, **params):
        q = {"client_id": self.cid(key), "response_type": "code", "redirect_uri": RP, "state": "st-" + key}
        q.update(params)
        q = {k: v for k, v in q.items() if v is not None}
        return self.url + "/oauth2/authorize?" + urllib.parse.urlencode(q)

    def go(self, b, url, method="GET", form=None):
        """Follows redirects while they stay on the hub; returns the last response."""
        for _ in range(10):
            r = b.request(method, url, form=form, follow=False)
            loc = r.header("location")
            if r.status in (301, 302, 303) and loc:
                nxt = urllib.parse.urljoin(url, loc)
                if not nxt.startswith(self.url + "/"):
                    r.location = nxt
                    return r
                url, method, form = nxt, "GET", None
                continue
            r.url = url
            r.location = None
            return r
        raise AssertionError("redirect loop at " + url)

    def sign_in(self, b, page, user="alice"):
        """Fills the sign-in form shown in page and submits it."""
        f = [f for f in forms_of(page) if any(t == "password" for _, t, _ in f["inputs"])]
        ok(f, "sign-in page has a password form:\n" + page.text[:500])
        f = f[0]
        data = {}
        for name, typ, value in f["inputs"]:
            if not name:
                continue
            if typ == "password":
                data[name] = PASSWORD
            elif typ in ("text", "email") or name in ("username", "usr", "login"):
                data[name] = user
            else:
                data[name] = value
        return self.go(b, urllib.parse.urljoin(page.url, f["action"] or page.url), "POST", data)

    def login(self, user="alice"):
        """A browser signed in as user."""
        b = Browser()
        page = self.go(b, self.url + "/login?next=/healthz")
        r = self.sign_in(b, page, user)
        eq(r.url, self.url + "/healthz", f"signed in as {user}: {r.status} {r.text[:200]}")
        return b

    def consent(self, b, r, decision="allow"):
        forms = [f for f in forms_of(r) if "approve" in f["action"]]
        ok(forms, "consent page has an approve form:\n" + r.text[:800])
        data = {n: v for n, t, v in forms[0]["inputs"] if n}
        data["decision"] = decision
        return self.go(b, urllib.parse.urljoin(r.url, forms[0]["action"]), "POST", data)

    def code_for(self, b, key="web", **params):
        r = self.go(b, self.authorize_url(key, **params))
        if r.location is None:
            r = self.consent(b, r)
        ok(r.location is not None, f"redirected to the client: {r.status} {r.text[:300]}")
        return split_location(r.location)

    def token(self, key, **form):
        h = self.basic(key) if self.clients[key][1] else {}
        if not self.clients[key][1]:
            form.setdefault("client_id", self.cid(key))
        return post(self.url + "/oauth2/token", form=form, headers=h)

    def introspect(self, key, token):
        return post(self.url + "/oauth2/introspect", form={"token": token}, headers=self.basic(key)).json()


def expect_client_error(r, error, state=None, fragment=False):
    ok(r.location is not None, f"expected a redirect to the client, got {r.status} {r.text[:300]}")
    base, q, fr = split_location(r.location)
    p = fr if fragment else q
    eq(base, RP, "redirect base")
    eq(p.get("error"), error, "error in " + r.location)
    ok(p.get("error_description"), "error_description present")
    if state is not None:
        eq(p.get("state"), state, "state echoed")
    return p


# ---- tests ----

def test_client_and_redirect_errors_are_html():
    h = Hub()
    cases = {
        "unknown client": h.url + "/oauth2/authorize?client_id=nope&response_type=code&state=s",
        "missing client": h.url + "/oauth2/authorize?response_type=code",
        "unregistered redirect": h.authorize_url("web", redirect_uri="https://evil.example/cb"),
        "redirect prefix": h.authorize_url("web", redirect_uri=RP + "/x"),
        "repeated redirect": h.authorize_url("web") + "&redirect_uri=" + urllib.parse.quote(RP),
        "frappe alias": h.url + "/api/method/frappe.integrations.oauth2.authorize?client_id=nope&response_type=code",
    }
    for what, url in cases.items():
        r = get(url)
        eq(r.status, 400, what + " status")
        eq(r.header("location"), None, what + ": never a redirect")
        ok("text/html" in (r.header("content-type") or ""), what + ": HTML page")
    # RFC 8252 §7.3: a native (public) client's loopback redirect URI matches on any port...
    for key in ("web", "public"):
        h.node.hubctl("client", "update", h.cid(key), "--redirect-uris", "http://127.0.0.1:5000/cb")

    def loopback_any_port():
        r = get(h.authorize_url("public", redirect_uri="http://127.0.0.1:6123/cb", response_type="bogus"))
        eq(r.status, 302, "loopback redirect URI matches on any port for a public client (RFC 8252)")
        return r

    r = eventually(h.node, loopback_any_port)  # (the URIs came from hubctl)
    ok(r.header("location").startswith("http://127.0.0.1:6123/cb?"), "answered to the port sent")
    # ...a confidential client's only exactly, and never a port out of range or spelt oddly
    for what, key, uri in (("confidential client, other port", "web", "http://127.0.0.1:6123/cb"),
                           ("port above 65535", "public", "http://127.0.0.1:65536/cb"),
                           ("port 99999", "public", "http://127.0.0.1:99999/cb"),
                           ("leading zero", "public", "http://127.0.0.1:05000/cb"),
                           ("empty port", "public", "http://127.0.0.1:/cb"),
                           ("localhost", "public", "http://localhost:5000/cb"),
                           ("other path", "public", "http://127.0.0.1:6123/cb/x")):
        r = get(h.authorize_url(key, redirect_uri=uri, response_type="bogus"))
        eq(r.status, 400, what + " status")
        eq(r.header("location"), None, what + ": never a redirect")
    h.finish()


def test_redirect_errors_carry_state():
    h = Hub()
    b = Browser()
    r = h.go(b, h.authorize_url("web", response_type="bogus", state="abc"))
    p = expect_client_error(r, "unsupported_response_type", "abc")
    eq(p.get("iss"), h.url, "RFC 9207 iss")
    expect_client_error(h.go(b, h.authorize_url("web", response_type="token", state="t1")), "unauthorized_client", "t1",
                        fragment=True)
    expect_client_error(h.go(b, h.authorize_url("web", response_type=None, state="t2")), "invalid_request", "t2")
    expect_client_error(h.go(b, h.authorize_url("web", scope="openid admin", state="t3")), "invalid_scope", "t3")
    expect_client_error(h.go(b, h.authorize_url("web") + "&scope=openid&scope=email"), "invalid_request", "st-web")
    expect_client_error(h.go(b, h.authorize_url("public", state="t4")), "invalid_request", "t4")
    expect_client_error(h.go(b, h.authorize_url("public", code_challenge="x" * 43, code_challenge_method="plain")),
                        "invalid_request", "st-public")
    expect_client_error(h.go(b, h.authorize_url("public", code_challenge="x" * 43)), "invalid_request")
    expect_client_error(h.go(b, h.authorize_url("web", prompt="none login")), "invalid_request")
    expect_client_error(h.go(b, h.authorize_url("web", max_age="soon")), "invalid_request")
    expect_client_error(h.go(b, h.authorize_url("implicit", response_type="id_token", scope="openid")),
                        "invalid_request", fragment=True)
    # A redirect URI with a query keeps it and appends with '&'.
    h.node.hubctl("client", "update", h.cid("web"), "--redirect-uris", RP + "?tenant=1")

    def query_kept():  # (the URI came from hubctl: eventually)
        r = h.go(b, h.authorize_url("web", redirect_uri=RP + "?tenant=1", response_type="bogus"))
        ok((r.location or "").startswith(RP + "?tenant=1&error=unsupported_response_type"), str(r.location))

    eventually(h.node, query_kept)
    h.finish()


def test_sign_in_redirect_and_prompt_none():
    h = Hub()
    b = Browser()
    url = h.authorize_url("web", scope="openid email", nonce="n1")
    r = b.get(url, follow=False)
    eq(r.status, 302, "not signed in")
    loc = urllib.parse.urlsplit(r.header("location"))
    eq(loc.path, "/login", "sent to the sign-in page")
    nxt = urllib.parse.parse_qs(loc.query)["next"][0]
    ok(nxt.startswith("/oauth2/authorize?"), "next is the authorize request: " + nxt)
    nq = urllib.parse.parse_qs(urllib.parse.urlsplit(nxt).query)
    eq(nq["client_id"][0], h.cid("web"), "next keeps client_id")
    eq(nq["state"][0], "st-web", "next keeps state")
    expect_client_error(h.go(b, h.authorize_url("web", prompt="none", state="pn")), "login_required", "pn")
    # Signing in resumes the flow: the consent page of the app.
    page = h.go(b, url)
    r = h.sign_in(b, page)
    ok(r.location is None and "Web App" in r.text, "after sign-in the consent page shows: " + r.text[:300])
    expect_client_error(h.go(b, h.authorize_url("web", prompt="none", state="pc")), "consent_required", "pc")
    h.finish()


def test_consent_force_auto_skip_and_deny():
    h = Hub()
    b = h.login()
    r = h.go(b, h.authorize_url("web", scope="openid profile email roles"))
    eq(r.status, 200, "consent page")
    for text in ("Web App", "e-mail address", "name and picture", "roles", "Allow", "Deny"):
        ok(text in r.text, f"consent page mentions {text!r}")
    ok(r.header("content-security-policy"), "consent page has a CSP")
    _, q, _ = split_location(h.consent(b, r).location)
    ok(len(q.get("code", "")) >= 43, "code issued after Allow")
    eq(q.get("state"), "st-web", "state with the code")
    eq(q.get("iss"), h.url, "iss with the code")
    # force: asked again every time
    r = h.go(b, h.authorize_url("web", scope="openid"))
    ok(r.location is None and "Allow" in r.text, "force asks again")
    # deny
    r = h.consent(b, r, "deny")
    expect_client_error(r, "access_denied", "st-web")
    # approve without CSRF token
    r = h.go(b, h.authorize_url("web"))
    form = {n: v for n, t, v in forms_of(r)[0]["inputs"] if n and n != "csrf_token"}
    form["decision"] = "allow"
    r = b.post(h.url + "/oauth2/approve", form=form, follow=False)
    eq(r.status, 400, "approve without CSRF")
    eq(r.header("location"), None, "no redirect without CSRF")
    # tampered hidden fields are checked again
    r = h.go(b, h.authorize_url("web"))
    form = {n: v for n, t, v in forms_of(r)[0]["inputs"] if n}
    form["decision"] = "allow"
    form["scope"] = "openid admin"
    expect_client_error(h.go(b, h.url + "/oauth2/approve", "POST", form), "invalid_scope")
    form["scope"], form["redirect_uri"] = "openid", "https://evil.example/cb"
    r = h.go(b, h.url + "/oauth2/approve", "POST", form)
    eq(r.status, 400, "approve with a foreign redirect_uri")
    eq(r.location, None, "no redirect to a foreign URI")
    # auto: the grant given by the first Allow covers these scopes; another app still asks once
    h.node.hubctl("settings", "set", "skip_authorization", "auto")
    r = h.go(b, h.authorize_url("web", scope="openid email"))
    ok(r.location is not None and "code" in split_location(r.location)[1], "auto: covered scope skips consent")
    r = h.go(b, h.authorize_url("web", scope="email", prompt="consent"))
    ok(r.location is None and "Allow" in r.text, "prompt=consent forces the page")
    r = h.go(b, h.authorize_url("web", scope="email", prompt="none"))
    ok("code" in split_location(r.location)[1], "prompt=none with a covering grant gives a code")
    r = h.go(b, h.authorize_url("staff", scope="openid"))
    ok(r.location is None and "Staff App" in r.text, "auto: no grant yet, asks")
    ok("code" in split_location(h.consent(b, r).location)[1], "code after consent in auto")
    r = h.go(b, h.authorize_url("staff", scope="openid"))
    ok(r.location is not None and "code" in split_location(r.location)[1], "auto: second time skipped")
    r = h.go(b, h.authorize_url("staff", scope="openid email"))
    ok(r.location is None and "Allow" in r.text, "auto: a wider scope asks again")
    # skip_authorization client never asks
    h.node.hubctl("settings", "set", "skip_authorization", "force")
    r = h.go(b, h.authorize_url("skip"))
    ok(r.location is not None and "code" in split_location(r.location)[1], "skip_authorization gives a code at once")
    h.finish()


def test_approve_csrf_forgeries():
    """The consent decision's token is bound to the session that saw the page and to approving: every other token,
    and any cookie/field pair an attacker chose, is refused without a code being issued."""
    h = Hub()
    alice, bob = h.login("alice"), h.login("bob")
    page = h.go(alice, h.authorize_url("web", scope="openid"))
    form = {n: v for n, t, v in forms_of(page)[0]["inputs"] if n}
    form["decision"] = "allow"
    good = form["csrf_token"]
    bob_page = h.go(bob, h.authorize_url("web", scope="openid"))
    bob_token = {n: v for n, t, v in forms_of(bob_page)[0]["inputs"] if n}["csrf_token"]
    login_token = [v for n, t, v in forms_of(alice.get(h.url + "/login"))[-1]["inputs"] if n == "csrf_token"][0]
    logout_page = alice.get(h.url + "/logout")
    logout_token = [v for n, t, v in forms_of(logout_page)[0]["inputs"] if n == "csrf_token"][0]
    csrf_cookie = h.node.cookie_name("csrf")
    session = alice._jar(h.url)[h.node.cookie_name("session")]

    def refused(what, fields, cookie_extra=""):
        r = post(h.url + "/oauth2/approve", form=fields,
                 headers={"Cookie": f"{h.node.cookie_name('session')}={session}" + cookie_extra})
        eq(r.status, 400, what)
        eq(r.header("location"), None, what + ": no redirect, no code")

    for value in ("A" * 43, "x", good[:-1] + ("A" if good[-1] != "A" else "B")):
        refused(f"attacker-chosen cookie and field {value[:10]!r}", dict(form, csrf_token=value), f"; {csrf_cookie}={value}")
    refused("another session's consent token", dict(form, csrf_token=bob_token))
    refused("the sign-in form's token", dict(form, csrf_token=login_token))
    refused("the sign-out form's token", dict(form, csrf_token=logout_token))
    refused("no token", {k: v for k, v in form.items() if k != "csrf_token"})
    refused("token twice", list(form.items()) + [("csrf_token", good)])
    refused("oversized token", dict(form, csrf_token=good + "A" * 3000))
    # the same user in another session (signed in again) cannot use the old page's token
    alice2 = h.login("alice")
    r = alice2.post(h.url + "/oauth2/approve", form=form, follow=False)
    eq((r.status, r.header("location")), (400, None), "a token of the user's other session")
    # the real form still works, once
    r = h.go(alice, h.url + "/oauth2/approve", "POST", form)
    ok(r.location is not None and "code" in split_location(r.location)[1], "the valid decision gives a code")
    # a decision without any session is sent to sign in, not approved
    r = post(h.url + "/oauth2/approve", form=form)
    eq(r.status, 302, "no session")
    eq(urllib.parse.urlsplit(r.header("location")).path, "/login", "sent to sign in")
    h.finish()


def test_allowed_roles():
    h = Hub()
    bob = h.login("bob")
    expect_client_error(h.go(bob, h.authorize_url("staff", state="r1")), "access_denied", "r1")
    alice = h.login("alice")
    r = h.go(alice, h.authorize_url("staff"))
    ok(r.location is None and "Staff App" in r.text, "a holder of the role gets the consent page")
    h.finish()


def test_code_flow_tokens_and_replay():
    h = Hub()
    b = h.login()
    verifier, challenge = pkce()
    _, q, _ = h.code_for(b, "public", scope="openid profile email", nonce="nonce-123", code_challenge=challenge,
                         code_challenge_method="S256")
    r = h.token("public", grant_type="authorization_code", code=q["code"], redirect_uri=RP, code_verifier=verifier)
    eq(r.status, 200, "token exchange: " + r.text)
    t = r.json()
    idc = jwt_claims(t["id_token"])
    eq(idc["nonce"], "nonce-123", "id_token nonce")
    eq(idc["aud"] if isinstance(idc["aud"], str) else idc["aud"][0], h.cid("public"), "id_token aud")
    eq(idc["iss"], h.url, "id_token iss")
    eq(idc.get("email"), "alice@example.com", "email claim with email scope")
    # userinfo limited by scope
    r = get(h.url + "/oauth2/userinfo", headers={"Authorization": "Bearer " + t["access_token"]})
    eq(r.status, 200, "userinfo: " + r.text)
    u = r.json()
    eq(u["sub"], idc["sub"], "userinfo sub")
    eq(u["iss"], h.url, "userinfo iss")
    eq(u.get("email"), "alice@example.com", "userinfo email")
    eq(u.get("name"), "Alice Example", "userinfo name with profile")
    ok("roles" not in u, "no roles without the roles scope")
    # confidential client, narrower scope; replay revokes
    _, q, _ = h.code_for(b, "web", scope="openid email")
    r = h.token("web", grant_type="authorization_code", code=q["code"], redirect_uri=RP)
    eq(r.status, 200, "confidential exchange: " + r.text)
    at = r.json()["access_token"]
    u = get(h.url + "/api/method/frappe.integrations.oauth2.openid_profile", headers={"Authorization": "Bearer " + at}).json()
    ok("email" in u and "name" not in u and "roles" not in u, f"scope openid email limits userinfo: {u}")
    eq(h.introspect("web", at)["active"], True, "token active before replay")
    r = h.token("web", grant_type="authorization_code", code=q["code"], redirect_uri=RP)
    eq(r.json().get("error"), "invalid_grant", "code replay refused")
    eq(h.introspect("web", at)["active"], False, "replay revokes the token issued from the code")
    eq(get(h.url + "/oauth2/userinfo", headers={"Authorization": "Bearer " + at}).status, 401, "revoked token at userinfo")
    # the code is bound to the redirect_uri as sent
    _, q, _ = h.code_for(b, "web", scope="openid")
    r = h.token("web", grant_type="authorization_code", code=q["code"])
    eq(r.json().get("error"), "invalid_grant", "redirect_uri sent on authorize must be repeated")
    h.finish()


def test_implicit_fragment():
    h = Hub()
    b = h.login()
    r = h.go(b, h.authorize_url("implicit", response_type="token", scope="openid roles", state="imp"))
    r = h.consent(b, r)
    base, q, fr = split_location(r.location)
    eq(q, {}, "nothing in the query")
    eq(fr.get("token_type"), "Bearer", "token_type")
    eq(fr.get("state"), "imp", "state in fragment")
    ok(int(fr.get("expires_in", "0")) > 0, "expires_in")
    ok("refresh_token" not in fr and "code" not in fr, "no refresh token, no code")
    u = get(h.url + "/oauth2/userinfo", headers={"Authorization": "Bearer " + fr["access_token"]}).json()
    eq(u.get("roles"), ["Employee"], "roles in userinfo with roles scope")
    r = h.go(b, h.authorize_url("implicit", response_type="id_token token", scope="openid", nonce="nn"))
    r = h.consent(b, r)
    _, _, fr = split_location(r.location)
    ok("access_token" in fr and "id_token" in fr, "both tokens")
    idc = jwt_claims(fr["id_token"])
    eq(idc["nonce"], "nn", "nonce in implicit id_token")
    ok(idc.get("at_hash"), "at_hash with an access token")
    r = h.go(b, h.authorize_url("implicit", response_type="id_token", scope="openid", nonce="n2"))
    r = h.consent(b, r)
    _, _, fr = split_location(r.location)
    ok("id_token" in fr and "access_token" not in fr, f"id_token only: {fr}")
    expect_client_error(h.go(b, h.authorize_url("implicit", response_type="code")), "unauthorized_client")
    h.finish()


def test_sign_in_answers_with_the_code():
    """A sign-in that resumes an authorization which goes straight through with the new session answers with what the
    authorization grants (the code, or the implicit flow's tokens), from the sign-in's own write. Everything else goes
    on to the authorize request it resumes (its next), exactly as the browser's round trip would: consent to ask,
    a role missing, prompt=login without a fresh sign-in asked for, a bad request, another path."""
    h = Hub()
    h.add_client("skipstaff", "--app-name", "Staff Tool", "--redirect-uris", RP, "--skip-authorization",
                 "--allowed-roles", "Employee")
    h.add_client("imskip", "--app-name", "Trusted SPA", "--redirect-uris", RP, "--grant-type", "implicit",
                 "--response-type", "token", "--skip-authorization")

    def post_login(next_path, user="alice", password=PASSWORD, b=None):
        """POSTs the sign-in form of /login?next=next_path; (browser, answer)."""
        b = b or Browser()
        page = b.get(h.url + "/login?next=" + urllib.parse.quote(next_path, safe=""))
        f = [f for f in forms_of(page) if f["action"] == "/login"][0]
        data = {n: v for n, _, v in f["inputs"] if n}
        data.update(username=user, password=password)
        eq(data.get("next"), next_path, "the form carries next")
        return b, b.post(h.url + "/login", form=data, follow=False)

    def resume_path(url):
        """The next of the sign-in page an authorize request (no session) is sent to."""
        r = Browser().get(url, follow=False)
        return urllib.parse.parse_qs(urllib.parse.urlsplit(r.header("location")).query)["next"][0]

    verifier, challenge = pkce()
    nxt = resume_path(h.authorize_url("skip", scope="openid email", nonce="n-1", state="s-1", code_challenge=challenge,
                                      code_challenge_method="S256"))
    b, r = post_login(nxt)
    eq(r.status, 302, "signed in")
    base, q, _ = split_location(r.header("location"))
    eq(base, RP, "straight back to the app: " + r.header("location"))
    eq((q.get("state"), q.get("iss")), ("s-1", h.url), "state and iss")
    ok(any(c.startswith(h.node.cookie_name("session") + "=") for c in r.header_all("set-cookie")),
       "the session cookie comes with the code")
    t = h.token("skip", grant_type="authorization_code", code=q["code"], redirect_uri=RP)
    eq(t.status, 400, "the code is bound to its PKCE challenge")
    t = h.token("skip", grant_type="authorization_code", code=q["code"], redirect_uri=RP, code_verifier=verifier).json()
    idc = jwt_claims(t["id_token"])
    eq((idc["nonce"], idc["sub"] != "", idc["aud"]), ("n-1", True, h.cid("skip")), "the id_token of this request")
    ok("refresh_token" in t and h.introspect("skip", t["access_token"])["active"], "tokens issued")
    eq(h.token("skip", grant_type="authorization_code", code=q["code"], redirect_uri=RP, code_verifier=verifier).status,
       400, "the code is single use")
    r = h.go(b, h.authorize_url("skip", state="s-2"))
    eq(split_location(r.location)[1].get("state"), "s-2", "the session works for the next authorization (SSO)")
    eq(h.introspect("skip", t["access_token"])["active"], False, "the replayed code revoked what it issued")

    # the implicit flow's tokens, in the fragment
    b, r = post_login(resume_path(h.authorize_url("imskip", response_type="token", scope="openid roles", state="im")))
    base, q, fr = split_location(r.header("location"))
    eq((base, q, fr.get("state"), fr.get("token_type")), (RP, {}, "im", "Bearer"), "implicit answer in the fragment")
    u = get(h.url + "/oauth2/userinfo", headers={"Authorization": "Bearer " + fr["access_token"]}).json()
    eq(u.get("roles"), ["Employee"], "the access token is alice's")

    # allowed roles: alice has Employee, bob does not; bob's sign-in goes on to the authorization, which refuses him
    url = h.authorize_url("skipstaff", state="st")
    b, r = post_login(resume_path(url))
    ok("code" in split_location(r.header("location"))[1], "alice gets her code")
    nxt = resume_path(url)
    b, r = post_login(nxt, user="bob")
    eq(r.header("location"), nxt, "bob is sent on to the authorization")
    expect_client_error(h.go(b, h.url + nxt), "access_denied", "st")

    # consent to ask: the sign-in goes on to the authorization, which shows the consent page
    nxt = resume_path(h.authorize_url("web", state="w"))
    b, r = post_login(nxt)
    eq(r.header("location"), nxt, "consent is asked by the authorization")
    r = h.go(b, h.url + nxt)
    ok(r.location is None and "Web App" in r.text, "the consent page")

    # prompt=login: a sign-in asked for by the authorization (hub_auth_after) answers with the code; a next without it
    # goes on to the authorization, which asks for a new sign-in
    nxt = resume_path(h.authorize_url("skip", prompt="login", state="pl"))
    ok("hub_auth_after=" in nxt, "a fresh sign-in is asked for: " + nxt)
    b, r = post_login(nxt)
    ok("code" in split_location(r.header("location"))[1], "prompt=login with the sign-in it asked for")
    forged = h.authorize_url("skip", prompt="login", state="pl")[len(h.url):]
    b, r = post_login(forged)
    eq(r.header("location"), forged, "prompt=login without the time of its sign-in goes on to the authorization")
    eq(urllib.parse.urlsplit(b.get(h.url + forged, follow=False).header("location")).path, "/login", "which asks again")
    late = nxt.replace("hub_auth_after=", "hub_auth_after=9")
    b, r = post_login(late)
    eq(r.header("location"), late, "a sign-in before the time asked for goes on")
    expect_client_error(h.go(b, h.url + late), "login_required", "pl")

    # bad requests and other paths go on unchanged; the browser is signed in all the same
    for bad in (h.authorize_url("skip", redirect_uri="http://127.0.0.1:9/other")[len(h.url):],
                h.authorize_url("skip", response_type="token")[len(h.url):],
                h.authorize_url("skip", scope="openid admin")[len(h.url):],
                h.authorize_url("skip", code_challenge="short", code_challenge_method="S256")[len(h.url):],
                h.authorize_url("skip")[len(h.url):] + "&state=again",
                "/oauth2/authorize?client_id=" + "x" * 300,
                "/api/method/frappe.integrations.oauth2.authorize?" + h.authorize_url("skip")[len(h.url + "/oauth2/authorize?"):],
                "/oauth2/authorizex?" + h.authorize_url("skip")[len(h.url + "/oauth2/authorize?"):],
                "/oauth2/authorize"):
        b, r = post_login(bad)
        eq((r.status, r.header("location")), (302, bad), "goes on to " + bad)
        ok('id="signed-in"' in b.get(h.url + "/login").text, "signed in all the same")
    # the query ends where a fragment would: the state a browser would have sent
    b, r = post_login(h.authorize_url("skip", state="frag")[len(h.url):] + "#x=1")
    eq(split_location(r.header("location"))[1].get("state"), "frag", "state without the fragment")

    # a wrong password gets the sign-in page, and no code
    b, r = post_login(resume_path(h.authorize_url("skip")), password="wrong")
    eq((r.status, r.header("location")), (401, None), "wrong password")
    h.finish()


def test_userinfo_rejections():
    h = Hub()
    r = get(h.url + "/oauth2/userinfo")
    eq(r.status, 401, "no token")
    ok((r.header("www-authenticate") or "").startswith("Bearer"), "Bearer challenge")
    r = get(h.url + "/oauth2/userinfo", headers={"Authorization": "Bearer abc.def.ghi"})
    eq(r.status, 401, "garbage token")
    ok('error="invalid_token"' in r.header("www-authenticate"), "invalid_token challenge")
    r = post(h.url + "/oauth2/token", form={"grant_type": "client_credentials", "scope": "openid"}, headers=h.basic("svc"))
    eq(r.status, 200, "client_credentials token: " + r.text)
    r = get(h.url + "/oauth2/userinfo", headers={"Authorization": "Bearer " + r.json()["access_token"]})
    eq(r.status, 401, "a client token has no user")
    b = h.login()
    _, q, _ = h.code_for(b, "skip", scope="email")
    at = h.token("skip", grant_type="authorization_code", code=q["code"], redirect_uri=RP).json()["access_token"]
    r = get(h.url + "/oauth2/userinfo", headers={"Authorization": "Bearer " + at})
    eq(r.status, 403, "token without openid")
    _, q, _ = h.code_for(b, "skip", scope="openid")
    at = h.token("skip", grant_type="authorization_code", code=q["code"], redirect_uri=RP).json()["access_token"]
    r = post(h.url + "/oauth2/userinfo", form={"access_token": at})
    eq(r.status, 200, "form-encoded access_token (RFC 6750 2.2): " + r.text)
    eq(set(r.json()), {"sub", "iss"}, "scope openid: sub and iss only")
    r = post(h.url + "/oauth2/userinfo", form={"access_token": at}, headers={"Authorization": "Bearer " + at})
    eq(r.status, 400, "token sent two ways")
    h.node.hubctl("user", "disable", "alice")
    eq(get(h.url + "/oauth2/userinfo", headers={"Authorization": "Bearer " + at}).status, 401, "disabled user")
    h.finish()


def test_prompt_login_does_not_loop():
    h = Hub()
    b = h.login()
    r = b.get(h.authorize_url("skip", prompt="login"), follow=False)
    loc = urllib.parse.urlsplit(r.header("location") or "")
    eq(loc.path, "/login", "prompt=login asks for a new sign-in")
    time.sleep(1.1)  # a fresh sign-in gets a later auth_time
    before = int(time.time())
    page = h.go(b, urllib.parse.urljoin(h.url, r.header("location")))
    r = h.sign_in(b, page) if page.location is None else page
    ok(r.location is not None, f"ends at the client: {r.status} {r.text[:200]}")
    _, q, _ = split_location(r.location)
    ok("code" in q, f"a fresh sign-in resumes the flow with a code: {q}")
    t = h.token("skip", grant_type="authorization_code", code=q["code"], redirect_uri=RP).json()
    ok(jwt_claims(t["id_token"])["auth_time"] >= before, "auth_time of the new sign-in")
    # the resumed request without a new sign-in must not loop: login_required
    r = b.get(h.authorize_url("skip", prompt="login"), follow=False)
    nxt = urllib.parse.parse_qs(urllib.parse.urlsplit(r.header("location")).query)["next"][0]
    time.sleep(1.1)
    r = h.go(b, urllib.parse.urljoin(h.url, nxt).replace("hub_auth_after=", "hub_auth_after=9"))
    expect_client_error(r, "login_required", "st-skip")
    # a recent sign-in satisfies max_age; max_age=0 a second later asks again
    r = h.go(b, h.authorize_url("skip", max_age="3600"))
    ok("code" in split_location(r.location)[1], "recent sign-in satisfies max_age")
    r = b.get(h.authorize_url("skip", max_age="0"), follow=False)
    eq(urllib.parse.urlsplit(r.header("location")).path, "/login", "max_age=0 asks for a new sign-in")
    h.finish()


class BackChannel:
    """A loopback RP that receives logout tokens; the first delivery gets a 500."""

    def __init__(self):
        self.received = []
        self.calls = 0
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n).decode()
                outer.calls += 1
                ok_now = outer.calls > 1
                if ok_now:
                    outer.received.append((self.headers.get("Content-Type"), body))
                self.send_response(200 if ok_now else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = serve_http(H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bcl"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_rp_logout_and_backchannel():
    bc = BackChannel()
    try:
        h = Hub(bcl_url=bc.url)
        b = h.login()
        _, q, _ = h.code_for(b, "rp", scope="openid email", nonce="x")
        t = h.token("rp", grant_type="authorization_code", code=q["code"], redirect_uri=RP).json()
        idt = t["id_token"]
        sid = jwt_claims(idt).get("sid")
        ok(sid, "id_token has sid")
        # refused before anything ends
        r = b.get(h.url + "/oauth2/logout?" + urllib.parse.urlencode(
            {"id_token_hint": idt, "post_logout_redirect_uri": "https://evil.example/"}), follow=False)
        eq(r.status, 400, "unregistered post_logout_redirect_uri")
        eq(r.header("location"), None, "no redirect to an unregistered URI")
        r = b.get(h.url + "/oauth2/logout?" + urllib.parse.urlencode({"post_logout_redirect_uri": AFTER_LOGOUT}),
                  follow=False)
        eq(r.status, 400, "post_logout_redirect_uri without id_token_hint")
        r = b.get(h.url + "/oauth2/logout?id_token_hint=not.a.jwt", follow=False)
        eq(r.status, 400, "bad hint")
        ok("code" in split_location(h.go(b, h.authorize_url("rp")).location)[1], "still signed in after refusals")
        # the real thing
        start = time.time()
        r = b.get(h.url + "/oauth2/logout?" + urllib.parse.urlencode(
            {"id_token_hint": idt, "post_logout_redirect_uri": AFTER_LOGOUT, "state": "bye1"}), follow=False)
        eq(r.status, 302, "logout redirect: " + r.text[:200])
        ok(time.time() - start < 1.0, "logout does not wait for the back-channel delivery")
        eq(r.header("location"), AFTER_LOGOUT + "?state=bye1", "back to the registered URI with state")
        r = b.get(h.authorize_url("rp"), follow=False)
        eq(urllib.parse.urlsplit(r.header("location")).path, "/login", "session ended")
        end = time.time() + 10
        while not bc.received and time.time() < end:
            time.sleep(0.05)
        ok(bc.received, f"logout token delivered after a retry (calls={bc.calls})")
        ok(bc.calls >= 2, "first delivery failed and was retried")
        ctype, body = bc.received[0]
        ok(ctype.startswith("application/x-www-form-urlencoded"), "form POST")
        lt = dict(urllib.parse.parse_qsl(body))["logout_token"]
        c = jwt_claims(lt)
        eq(b64json(lt.split(".")[0]).get("typ"), "logout+jwt", "logout token typ")
        eq(c["iss"], h.url, "logout token iss")
        eq(c["aud"] if isinstance(c["aud"], str) else c["aud"][0], h.cid("rp"), "logout token aud")
        eq(c["sid"], sid, "logout token sid")
        ok("http://schemas.openid.net/event/backchannel-logout" in c["events"], "logout event")
        ok("nonce" not in c, "no nonce in a logout token")
        eq(h.introspect("rp", t["access_token"])["active"], False, "tokens of the session revoked")
        # without a session or hint: the signed-out page
        r = get(h.url + "/oauth2/logout")
        eq(r.status, 200, "plain logout page")
        ok("signed out" in r.text, "says signed out")
        h.finish()
    finally:
        bc.close()


if __name__ == "__main__":
    run([test_client_and_redirect_errors_are_html, test_redirect_errors_carry_state, test_sign_in_redirect_and_prompt_none,
         test_consent_force_auto_skip_and_deny, test_approve_csrf_forgeries, test_allowed_roles, test_code_flow_tokens_and_replay,
         test_implicit_fragment, test_sign_in_answers_with_the_code, test_userinfo_rejections, test_prompt_login_does_not_loop,
         test_rp_logout_and_backchannel])

