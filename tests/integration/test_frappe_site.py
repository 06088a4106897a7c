"""A stock Frappe site signs in through the hub (SPEC §2 --frappe-site, §4 userinfo).

FrappeSite below plays the site request for request as Frappe's own code talks, read in Frappe's source:
frappe/utils/oauth.py (get_oauth2_authorize_url, get_info_via_oauth, login_oauth_user, get_user_record,
update_oauth_user) with the stock "Frappe" Social Login Key (social_login_key.py) on rauth (OAuth2Service:
get_authorize_url, get_raw_access_token, OAuth2Session.request), and a Connected App (connected_app.py,
token_cache.py) on requests-oauthlib (fetch_token, the auto refresh of OAuth2Session.request/refresh_token) over
oauthlib's prepare_token_request. A browser signs in and consents at the primary in between."""
import base64
import http.server
import json
import os
import re
import secrets
import urllib.parse

from federation import consent_form, forms_of, jwt_claims, login_form, until
from hubtest import Browser, Node, eq, eventually, get, ok, post, request, run, serve_http
from test_hubctl import bad, creds, fresh, good, js

PASSWORD = "correct horse battery staple"
WWW_LOGIN = "/api/method/frappe.www.login.login_via_frappe"
INTEGRATIONS_LOGIN = "/api/method/frappe.integrations.oauth2_logins.login_via_frappe"
CONNECTED_APP_CALLBACK = "/api/method/frappe.integrations.doctype.connected_app.connected_app.callback/hub"
ALIAS = "/api/method/frappe.integrations.oauth2."
# What requests (under rauth and requests-oauthlib) puts on every request besides its arguments.
REQUESTS_HEADERS = {"User-Agent": "python-requests/2.32.3", "Accept-Encoding": "gzip, deflate", "Accept": "*/*"}


def stock_frappe_key(base_url, redirect_url=WWW_LOGIN):
    """The "Frappe" template of get_social_login_provider (custom_base_url: the paths are joined to base_url)."""
    return {"base_url": base_url,
            "authorize_url": base_url + ALIAS + "authorize",
            "access_token_url": base_url + ALIAS + "get_token",
            "redirect_url": redirect_url,
            "api_endpoint": ALIAS[:-1] + ".openid_profile",
            "auth_url_data": json.dumps({"response_type": "code", "scope": "openid"})}


class FrappeSite:
    """A Frappe site on loopback: the login endpoints of its "Frappe" Social Login Key, a /me page for whoever signed
    in, and a Connected App's callback. What it asked and got is kept for the test to read."""

    def __init__(self):
        self.key = None
        self.client_id = self.client_secret = None
        self.users = {}         # e-mail -> the User record built as get_user_record/update_oauth_user build it
        self.sessions = {}      # sid -> e-mail
        self.state_tokens = set()
        self.exchanges = []     # (token response, userinfo response, state as received) per login
        self.failures = []      # frappe.throw / respond_as_web_page messages
        self.token_cache = None  # the Connected App's Token Cache (token_cache.update_data)
        self.connected_state = None
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                site.handle(self)

            def log_message(self, fmt, *args):
                pass

        self.server = serve_http(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def configure(self, key, client_id, client_secret):
        self.key, self.client_id, self.client_secret = key, client_id, client_secret

    # ---- frappe/utils/oauth.py ----

    def get_redirect_uri(self):
        return self.url + self.key["redirect_url"]  # frappe.utils.get_url(redirect_url)

    def get_oauth2_authorize_url(self, redirect_to, token=None):
        """rauth's get_authorize_url(**data): params in this order, client_id last, urlencode (quote_plus); the state is
        the bytes of base64(JSON), so '+', '/' and '=' reach the hub percent-encoded."""
        token = token or secrets.token_hex(28)  # frappe.generate_hash()
        self.state_tokens.add(token)
        state = {"site": self.url, "token": token, "redirect_to": redirect_to}
        data = {"redirect_uri": self.get_redirect_uri(), "state": base64.b64encode(json.dumps(state).encode("utf-8"))}
        data.update(json.loads(self.key["auth_url_data"]))
        data.update({"client_id": self.client_id})
        return self.key["authorize_url"] + "?" + urllib.parse.urlencode(data)

    def get_info_via_oauth(self, code):
        # rauth OAuth2Service.get_raw_access_token: POST, client_id and client_secret added to the form data
        data = {"code": code, "redirect_uri": self.get_redirect_uri(), "grant_type": "authorization_code"}
        data.update({"client_id": self.client_id, "client_secret": self.client_secret})
        headers = dict(REQUESTS_HEADERS, **{"Content-Type": "application/x-www-form-urlencoded"})
        tr = request("POST", self.key["access_token_url"], body=urllib.parse.urlencode(data), headers=headers)
        access_token = json.loads(bytes(tr.body).decode("utf-8"))["access_token"]  # decoder_compat; KeyError = failure
        # session.get(api_endpoint, params=None): urljoin with base_url, OAuth2Auth = the Authorization header
        ur = request("GET", urllib.parse.urljoin(self.key["base_url"], self.key["api_endpoint"]),
                     headers=dict(REQUESTS_HEADERS, Authorization="Bearer " + access_token))
        info = json.loads(ur.body)
        return tr, ur, info

    def login_via_frappe(self, handler, query):
        """login_via_frappe(code, state): frappe.call keeps only the function's own arguments (iss is dropped)."""
        args = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        code, state = args.get("code"), args.get("state")
        if code is None:  # a required argument of login_via_frappe is missing: Frappe answers with an error page
            return self.fail(handler, 417, args.get("error", "code missing"))
        tr, ur, info = self.get_info_via_oauth(code)
        self.exchanges.append((tr, ur, state))
        if not (info.get("email_verified") or info.get("email")):
            return self.fail(handler, 417, "Email not verified with Frappe")
        state = json.loads(base64.b64decode(state).decode("utf-8"))
        if not (state and state["token"]) or state["token"] not in self.state_tokens:
            return self.fail(handler, 417, "Token is missing")
        self.state_tokens.discard(state["token"])
        user = info.get("email") or info.get("upn") or info.get("unique_name")  # get_email
        if not user:
            return self.fail(handler, 200, "Please ensure that your profile has an email address")
        self.update_oauth_user(user, info)
        sid = secrets.token_hex(16)
        self.sessions[sid] = user
        redirect_to = state.get("redirect_to") or self.url + "/me"  # redirect_post_login, a Website User
        handler.send_response(302)
        handler.send_header("Location", redirect_to)
        handler.send_header("Set-Cookie", f"sid={sid}; Path=/; HttpOnly")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def update_oauth_user(self, user, data):
        record = self.users.get(user)
        if record is None:  # get_user_record: a new Website User
            record = {"first_name": data.get("first_name") or data.get("given_name") or data.get("name"),
                      "last_name": data.get("last_name") or data.get("family_name"),
                      "email": data.get("email") or data.get("upn") or data.get("unique_name"),
                      "enabled": 1, "user_type": "Website User",
                      "user_image": data.get("picture") or data.get("avatar_url"), "social_logins": {}}
            self.users[user] = record
        if "frappe" not in record["social_logins"]:
            record["social_logins"]["frappe"] = data["sub"]  # set_social_login_userid("frappe", userid=data["sub"])

    def fail(self, handler, status, message):
        self.failures.append(message)
        self.send(handler, status, message)

    # ---- a Connected App (requests-oauthlib) ----

    def connected_app_authorization_url(self, authorization_uri, scopes):
        """OAuth2Session.authorization_url: oauthlib prepare_grant_uri (response_type, client_id, redirect_uri, scope,
        state) with a generated state of 30 letters and digits."""
        self.connected_state = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                                       for _ in range(30))
        self.scopes = scopes
        params = [("response_type", "code"), ("client_id", self.client_id), ("redirect_uri", self.url + CONNECTED_APP_CALLBACK),
                  ("scope", " ".join(scopes)), ("state", self.connected_state)]
        return authorization_uri + "?" + urllib.parse.urlencode(params)

    def connected_app_callback(self, handler, query):
        """callback(code, state): fetch_token(token_uri, code=code, client_secret=..., include_client_id=True): the
        credentials in the body, after grant_type, as oauthlib's prepare_token_request orders them."""
        args = dict(urllib.parse.parse_qsl(query))
        if args.get("state") != self.connected_state:
            return self.fail(handler, 417, "Invalid state.")
        body = [("grant_type", "authorization_code"), ("client_id", self.client_id), ("client_secret", self.client_secret),
                ("code", args.get("code")), ("redirect_uri", self.url + CONNECTED_APP_CALLBACK)]
        headers = dict(REQUESTS_HEADERS, **{"Accept": "application/json",
                                            "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"})
        r = request("POST", self.key["access_token_url"], body=urllib.parse.urlencode(body), headers=headers)
        self.token_cache_update(r)
        self.send(handler, 200, "connected")

    def token_cache_update(self, r):
        """oauthlib parse_token_response (a scope other than the one asked raises) and TokenCache.update_data."""
        eq(r.status, 200, f"token endpoint: {r.text[:300]}")
        data = r.json()
        ok("access_token" in data and "token_type" in data, f"access_token and token_type: {data}")
        eq(set(data.get("scope", "").split()), set(self.scopes), "the scope asked (oauthlib refuses a changed one)")
        eq(data["token_type"].lower(), "bearer", "TokenCache accepts bearer")
        self.token_cache = {"access_token": data["access_token"], "refresh_token": data.get("refresh_token", ""),
                            "expires_in": data.get("expires_in", 0)}

    def connected_app_get(self, url, auth=None):
        """A Connected App request whose token is past its expiry (TokenCache.get_expires_in): OAuth2Session refreshes
        first with refresh_token(auto_refresh_url, auth=None, client_id=..., client_secret=...), the credentials in the
        body (prepare_refresh_body: grant_type, client_id, client_secret, scope, refresh_token); then the request, the
        new token in the Authorization header. auth replaces the body credentials with Basic, as requests-oauthlib
        does when the caller hands client_id and client_secret to request()."""
        body = [("grant_type", "refresh_token")]
        headers = dict(REQUESTS_HEADERS, **{"Accept": "application/json",
                                            "Content-Type": "application/x-www-form-urlencoded"})
        if auth is None:
            body += [("client_id", self.client_id), ("client_secret", self.client_secret)]
        else:
            headers["Authorization"] = auth
        body += [("scope", " ".join(self.scopes)), ("refresh_token", self.token_cache["refresh_token"])]
        r = request("POST", self.key["access_token_url"], body=urllib.parse.urlencode(body), headers=headers)
        if r.status != 200:
            return r
        self.token_cache_update(r)
        return request("GET", url, headers=dict(REQUESTS_HEADERS, Authorization="Bearer " + self.token_cache["access_token"]))

    # ---- serving ----

    def handle(self, handler):
        path, _, query = handler.path.partition("?")
        if path in (WWW_LOGIN, INTEGRATIONS_LOGIN) and path == self.key["redirect_url"]:
            return self.login_via_frappe(handler, query)
        if path == CONNECTED_APP_CALLBACK:
            return self.connected_app_callback(handler, query)
        cookies = dict(c.strip().partition("=")[::2] for c in (handler.headers.get("Cookie") or "").split(";") if "=" in c)
        user = self.sessions.get(cookies.get("sid"))
        if user is None:
            return self.send(handler, 403, "Guest")
        self.send(handler, 200, json.dumps({"user": user, "path": handler.path}), "application/json")

    @staticmethod
    def send(handler, status, text, ctype="text/plain"):
        data = text.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


class Setup:
    """A primary with alice (Employee, given and family names) and bob (a full name only), and a Frappe site."""

    def __init__(self):
        self.primary = Node("primary", name="frappehub")
        p = self.primary
        p.hubctl("init")
        pw = os.path.join(p.dir, "pw")
        with open(pw, "w") as f:
            f.write(PASSWORD + "\n")
        p.hubctl("role", "add", "Employee")
        p.hubctl("user", "add", "alice", "--email", "alice@example.com", "--full-name", "Alice Example", "--given-name",
                 "Alice", "--family-name", "Example", "--role", "Employee", "--password-file", pw)
        p.hubctl("user", "add", "bob", "--email", "Bob.Builder@example.com", "--full-name", "Bob Builder",
                 "--password-file", pw)
        self.site = FrappeSite()
        p.start()

    def add_client(self, *args):
        return creds(self.primary.hubctl("client", "add", *args).stdout)

    def sub(self, user):
        return json.loads(self.primary.hubctl("user", "show", user, "--json").stdout)["sub"]

    def finish(self):
        self.site.stop()
        eq(self.primary.stop(), 0, "primary exits 0")
        log = open(self.primary.log_path).read()
        ok("Sanitizer" not in log and "runtime error" not in log, "no sanitizer report:\n" + log[-3000:])
        return log


def sign_in(b, url, user, decision="allow"):
    """Browser b opens url (an authorize URL), signs in as user at the primary and answers its consent page with
    decision. Returns the last response and the consent page (None when none was shown)."""
    r = b.get(url)
    f = login_form(r)
    if f is not None:
        data = {n: (PASSWORD if t == "password" else user if n == "username" else v) for n, t, v in f["inputs"] if n}
        r = b.post(urllib.parse.urljoin(r.url, f["action"] or r.url), form=data)
    page, f = None, consent_form(r)
    if f is not None:
        page = r
        data = {n: v for n, t, v in f["inputs"] if n}
        data.update({n: v for n, v in f["buttons"] if n and v == decision})
        r = b.post(urllib.parse.urljoin(r.url, f["action"]), form=data)
    return r, page


def consent_items(page):
    return re.findall(r"<li>([^<]*)</li>", page.text)


def state_with_every_base64_sign(site):
    """A redirect_to whose state (base64 of the JSON) holds '+', '/' and ends in '=': the characters a lax percent
    decoding or encoding breaks ('>' and '?' make base64's last two digits). Bounded: about one in three qualifies."""
    for i in range(300):
        redirect_to = "/app/todo?" + "x" * (i % 3) + f"=>?>?&n={i}"
        token = secrets.token_hex(28)
        state = base64.b64encode(json.dumps({"site": site.url, "token": token, "redirect_to": redirect_to}).encode())
        if b"+" in state and b"/" in state and state.endswith(b"="):
            return redirect_to, token, state.decode()
    raise AssertionError("no state with + / = found")


# ---- the tests ----

def test_stock_site_signs_in():
    """The stock key's requests, both login paths: consent lists what openid discloses to a Frappe site, the state
    round-trips byte for byte, the site builds its users from the answer (first/last name, e-mail, sub)."""
    s = Setup()
    site, p = s.site, s.primary
    cid, secret = s.add_client("--app-name", "Frappe Site", "--frappe-site", site.url + "/")
    c = js(p, "client", "show", cid)
    eq((c["frappe_site"], c["auth_method"], c["redirect_uris"]),
       (site.url, "client_secret_post", [site.url + WWW_LOGIN, site.url + INTEGRATIONS_LOGIN]), "the site's client")

    # alice through frappe.www.login.login_via_frappe, with a state full of base64's + / =
    site.configure(stock_frappe_key(p.url, WWW_LOGIN), cid, secret)
    redirect_to, token, state = state_with_every_base64_sign(site)
    url = site.get_oauth2_authorize_url(redirect_to, token)
    ok("%2B" in url and "%2F" in url and "%3D" in url, "rauth percent-encodes the state: " + url)
    b = Browser()
    r, page = sign_in(b, url, "alice")
    ok(page is not None, "the consent page is shown")
    items = consent_items(page)
    eq(items, ["Your identity (a stable identifier for your account)", "Your name and picture", "Your e-mail address",
               "Your roles"], "for a Frappe site, openid lists name, picture, e-mail and roles")
    ok("Frappe Site" in page.text, "the consent page names the app")
    eq(site.failures, [], "the site accepted the sign-in")
    eq(r.status, 200, f"the site's page after sign-in: {r.status} {r.text[:300]}")
    eq(r.json(), {"user": "alice@example.com", "path": redirect_to}, "signed in at the site, sent where redirect_to said")
    tr, ur, got_state = site.exchanges[-1]
    eq(got_state, state, "the state came back byte for byte")
    eq(tr.status, 200, "rauth's token request (secret in the body, alias path) " + tr.text[:300])
    ok("no-store" in (tr.header("cache-control") or ""), "token response not cached")
    eq(ur.status, 200, "rauth's userinfo GET on openid_profile " + ur.text[:300])
    info = ur.json()
    alice_sub = s.sub("alice")
    eq(info, {"sub": alice_sub, "name": "Alice Example", "given_name": "Alice", "family_name": "Example",
              "preferred_username": "alice", "email": "alice@example.com", "email_verified": True, "roles": ["Employee"],
              "iss": p.url}, "what Frappe's get_userinfo answers for openid")
    eq(site.users["alice@example.com"],
       {"first_name": "Alice", "last_name": "Example", "email": "alice@example.com", "enabled": 1,
        "user_type": "Website User", "user_image": None, "social_logins": {"frappe": alice_sub}},
       "the User record login_oauth_user builds")
    idt = jwt_claims(tr.json()["id_token"])
    eq((idt["sub"], idt["aud"], idt["email"], idt["name"], idt["roles"], idt["iss"]),
       (alice_sub, cid, "alice@example.com", "Alice Example", ["Employee"], p.url),
       "the id_token carries the same claims, as Frappe's finalize_id_token does for openid")
    eq(tr.json()["scope"], "openid", "granted what was asked")

    # bob through frappe.integrations.oauth2_logins.login_via_frappe, no redirect_to: first_name from name
    site.configure(stock_frappe_key(p.url, INTEGRATIONS_LOGIN), cid, secret)
    r, page = sign_in(Browser(), site.get_oauth2_authorize_url(None), "bob")
    ok(page is not None, "bob consents")
    eq((r.status, r.json()["user"], r.json()["path"]), (200, "Bob.Builder@example.com", "/me"), "bob signed in at /me")
    eq(site.users["Bob.Builder@example.com"],
       {"first_name": "Bob Builder", "last_name": None, "email": "Bob.Builder@example.com", "enabled": 1,
        "user_type": "Website User", "user_image": None, "social_logins": {"frappe": s.sub("bob")}},
       "bob's record: the full name as first name (get_first_name: given_name missing)")
    eq(site.exchanges[-1][1].json()["roles"], [], "a user without roles gets an empty list")

    # alice again: the same record (one user per e-mail), a fresh consent (force) and login
    r, _ = sign_in(b, site.get_oauth2_authorize_url("/app"), "alice")
    eq((r.status, len(site.users)), (200, 2), "alice signs in again, no new user")

    # Deny: the site gets access_denied with its state, and no user is made
    site.configure(stock_frappe_key(p.url, WWW_LOGIN), cid, secret)
    n = len(site.exchanges)
    r, page = sign_in(Browser(), site.get_oauth2_authorize_url("/x"), "alice", decision="deny")
    eq((len(site.exchanges), site.failures[-1:]), (n, ["access_denied"]), "Deny: the site is told, no token request")
    log = s.finish()
    for secret_text in (secret, tr.json()["access_token"], tr.json()["refresh_token"], state):
        ok(secret_text not in log, "the primary's log holds no secret, token or state")


def test_openid_keeps_its_meaning_for_other_clients():
    """A client registered the same way but without --frappe-site: openid is sub (and iss) only, the consent page says
    so, and the stock site refuses the answer ("Email not verified", the issue's symptom). The meaning follows the
    client record: --no-frappe-site takes it back at once, for tokens already issued too."""
    s = Setup()
    site, p = s.site, s.primary
    plain, plain_secret = s.add_client("--app-name", "Plain", "--auth-method", "client_secret_post", "--redirect-uris",
                                       site.url + WWW_LOGIN)
    site.configure(stock_frappe_key(p.url), plain, plain_secret)
    b = Browser()
    r, page = sign_in(b, site.get_oauth2_authorize_url("/app"), "alice")
    eq(consent_items(page), ["Your identity (a stable identifier for your account)"], "openid alone for another client")
    eq(site.failures, ["Email not verified with Frappe"], "the stock site cannot make a user from {sub, iss}")
    tr, ur, _ = site.exchanges[-1]
    eq(ur.json(), {"sub": s.sub("alice"), "iss": p.url}, "userinfo for openid: sub and iss")
    idt = jwt_claims(tr.json()["id_token"])
    ok("email" not in idt and "name" not in idt and "roles" not in idt, f"id_token without profile claims: {idt}")
    # the same client asking for the other scopes by name gets them (what a non-Frappe client does)
    site.key["auth_url_data"] = json.dumps({"response_type": "code", "scope": "openid email"})
    r, page = sign_in(b, site.get_oauth2_authorize_url("/app"), "alice")
    eq(consent_items(page), ["Your identity (a stable identifier for your account)", "Your e-mail address"], "email asked")
    eq(r.status, 200, "with the email scope the site signs alice in")
    eq(sorted(site.exchanges[-1][1].json()), ["email", "email_verified", "iss", "sub"], "email scope claims only")

    # a Frappe site's token, then the mark taken away: the same live token answers {sub, iss}
    cid, secret = s.add_client("--app-name", "Frappe Site", "--frappe-site", site.url)
    site.configure(stock_frappe_key(p.url), cid, secret)
    r, _ = sign_in(b, site.get_oauth2_authorize_url("/app"), "alice")
    tr, ur, _ = site.exchanges[-1]
    token = tr.json()["access_token"]
    ok("email" in ur.json(), "a Frappe site's openid includes the e-mail")
    for path in ("/oauth2/userinfo", ALIAS + "openid_profile"):
        eq(get(p.url + path, headers={"Authorization": "Bearer " + token}).json(), ur.json(), f"{path}: same answer")
        eq(post(p.url + path, form={"access_token": token}).json(), ur.json(), f"{path}: POST form token, same answer")
    good(p, "client", "update", cid, "--no-frappe-site")
    eq(js(p, "client", "show", cid)["frappe_site"], None, "no longer a Frappe site")
    eventually(p, lambda: eq(get(p.url + ALIAS + "openid_profile", headers={"Authorization": "Bearer " + token}).json(),
                             {"sub": s.sub("alice"), "iss": p.url},
                             "the running primary follows the record at once (within a second on a cluster)"))
    good(p, "client", "update", cid, "--frappe-site", site.url)
    eventually(p, lambda: ok("roles" in get(p.url + ALIAS + "openid_profile",
                                            headers={"Authorization": "Bearer " + token}).json(), "and back"))
    s.finish()


def test_token_only_where_rauth_sends_it():
    """rauth sends the access token in the Authorization header (OAuth2Session.request, bearer_auth=True); the hub
    takes no token from a URL (RFC 6750 §2.3 is not offered: URLs end up in logs and histories)."""
    s = Setup()
    site, p = s.site, s.primary
    cid, secret = s.add_client("--app-name", "Frappe Site", "--frappe-site", site.url)
    site.configure(stock_frappe_key(p.url), cid, secret)
    sign_in(Browser(), site.get_oauth2_authorize_url("/app"), "alice")
    token = site.exchanges[-1][0].json()["access_token"]
    q = urllib.parse.urlencode({"access_token": token})
    for method, path in (("GET", ALIAS + "openid_profile"), ("GET", "/oauth2/userinfo"), ("POST", ALIAS + "openid_profile")):
        r = request(method, f"{p.url}{path}?{q}")
        eq(r.status, 401, f"{method} {path} with the token in the query")
        ok((r.header("www-authenticate") or "").startswith("Bearer"), "a Bearer challenge")
        ok("email" not in r.text, "no claims")
        r = request(method, f"{p.url}{path}?{q}", body="", headers={"Content-Type": "application/x-www-form-urlencoded"})
        eq(r.status, 401, f"{method} {path}: query token with an empty form")
    eq(get(p.url + ALIAS + "openid_profile", headers={"Authorization": "Bearer " + token}).status, 200, "header works")
    log = s.finish()
    ok(token not in log, "the token sent in URLs is in no log line")


def test_client_authentication_exactly_as_the_site_sends_it():
    """The site's client is client_secret_post, as rauth and requests-oauthlib send it; Basic, both at once, a wrong or
    missing secret are 401 invalid_client and change nothing: the code still works afterwards, once."""
    s = Setup()
    site, p = s.site, s.primary
    cid, secret = s.add_client("--app-name", "Frappe Site", "--frappe-site", site.url)
    site.configure(stock_frappe_key(p.url), cid, secret)
    b = Browser()
    url = site.get_oauth2_authorize_url("/app")
    r = b.get(url)
    f = login_form(r)
    data = {n: (PASSWORD if t == "password" else "alice" if n == "username" else v) for n, t, v in f["inputs"] if n}
    r = b.post(urllib.parse.urljoin(r.url, f["action"]), form=data)
    f = consent_form(r)
    data = {n: v for n, t, v in f["inputs"] if n}
    data["decision"] = "allow"
    r = b.post(urllib.parse.urljoin(r.url, f["action"]), form=data, follow=False)
    loc = r.header("location") or ""
    ok(loc.startswith(site.url + WWW_LOGIN + "?"), "sent back to the site: " + loc)
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))["code"]
    basic = "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()
    form = {"code": code, "redirect_uri": site.get_redirect_uri(), "grant_type": "authorization_code"}
    token_url = p.url + ALIAS + "get_token"
    for what, extra, headers in (("Basic", {}, {"Authorization": basic}),
                                 ("Basic and the body", {"client_id": cid, "client_secret": secret}, {"Authorization": basic}),
                                 ("a wrong secret", {"client_id": cid, "client_secret": secret[:-1] + "x"}, {}),
                                 ("an empty secret", {"client_id": cid, "client_secret": ""}, {}),
                                 ("no secret", {"client_id": cid}, {}),
                                 ("another client's id", {"client_id": cid[:-1] + "x", "client_secret": secret}, {})):
        r = post(token_url, form=dict(form, **extra), headers=headers)
        eq((r.status, r.json().get("error")), (401, "invalid_client"), what)
        ok((r.header("www-authenticate") or "") != "", f"{what}: WWW-Authenticate")
    r = post(token_url, form=dict(form, client_id=cid, client_secret=secret))
    eq(r.status, 200, "the code still works with the registered method: " + r.text[:200])
    r = post(token_url, form=dict(form, client_id=cid, client_secret=secret))
    eq((r.status, r.json().get("error")), (400, "invalid_grant"), "and only once")
    s.finish()


def test_connected_app_refresh():
    """A Connected App of the site (its callback added with --redirect-uris) gets tokens with requests-oauthlib's
    fetch_token and refreshes them as OAuth2Session's auto refresh does; each refresh rotates, the new access token
    reads openid_profile; Basic (which the site never sends) is refused and spoils nothing."""
    s = Setup()
    site, p = s.site, s.primary
    cid, secret = s.add_client("--app-name", "Frappe Site", "--frappe-site", site.url, "--redirect-uris",
                               site.url + CONNECTED_APP_CALLBACK)
    eq(js(p, "client", "show", cid)["redirect_uris"],
       [site.url + WWW_LOGIN, site.url + INTEGRATIONS_LOGIN, site.url + CONNECTED_APP_CALLBACK],
       "--redirect-uris adds to the login URIs")
    site.configure(stock_frappe_key(p.url), cid, secret)
    b = Browser()
    r, page = sign_in(b, site.connected_app_authorization_url(p.url + ALIAS + "authorize", ["openid"]), "alice")
    eq((r.status, r.text, site.failures), (200, "connected", []), "the Connected App got its tokens")
    first = dict(site.token_cache)
    ok(first["refresh_token"], "a refresh token")
    profile = p.url + ALIAS + "openid_profile"
    r = site.connected_app_get(profile)
    eq(r.status, 200, "refreshed, then read the profile: " + r.text[:300])
    eq((r.json()["email"], r.json()["roles"]), ("alice@example.com", ["Employee"]), "the profile with openid")
    second = dict(site.token_cache)
    ok(second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"], "rotated")
    # Basic for this client_secret_post client: 401, and the current refresh token still works after it
    basic = "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()
    r = site.connected_app_get(profile, auth=basic)
    eq((r.status, r.json().get("error")), (401, "invalid_client"), "Basic refused")
    eq(site.token_cache, second, "nothing changed at the site")
    r = site.connected_app_get(profile)
    eq(r.status, 200, "the refresh token survived the refused attempt: " + r.text[:300])
    # the first refresh token, rotated away long ago in this family, is a reuse: refused, the family revoked
    site.token_cache = first
    r = site.connected_app_get(profile)
    eq((r.status, r.json().get("error")), (400, "invalid_grant"), "a rotated refresh token")
    s.finish()


def test_hubctl_frappe_site():
    """--frappe-site: what it registers, updates, shows; every bad SITE_URL or contradicting option is one line naming
    the option, exit 2, nothing stored."""
    d = fresh()
    cid, secret = creds(good(d, "client", "add", "--app-name", "Site", "--frappe-site", "HTTPS://Site.Example/").stdout)
    ok(cid and secret, "client_id and client_secret printed")
    c = js(d, "client", "show", cid)
    eq((c["frappe_site"], c["redirect_uris"], c["default_redirect_uri"], c["auth_method"], c["grant_type"],
        c["response_type"], c["scopes"]),
       ("https://site.example", ["https://site.example" + WWW_LOGIN, "https://site.example" + INTEGRATIONS_LOGIN],
        "https://site.example" + WWW_LOGIN, "client_secret_post", "authorization_code", "code",
        ["openid", "profile", "email", "roles"]), "a Frappe site's client")
    ok("frappe_site: https://site.example" in good(d, "client", "show", cid).stdout, "client show names the site")
    http_id = creds(good(d, "client", "add", "--app-name", "Dev", "--frappe-site", "http://127.0.0.1:8000").stdout)[0]
    eq(js(d, "client", "show", http_id)["redirect_uris"][0], "http://127.0.0.1:8000" + WWW_LOGIN, "http kept as http")

    for site, reason in (("ftp://site.example", "not an absolute http(s) URL"),
                         ("site.example", "not an absolute http(s) URL"),
                         ("https://site.example#frag", "not an absolute http(s) URL"),
                         ("https://user@site.example", "not an absolute http(s) URL"),
                         ("https://site.example:99999", "not an absolute http(s) URL"),
                         ("https://site.example/app", "has a path"),
                         ("https://site.example" + WWW_LOGIN, "has a path"),
                         ("https://site.example/?x=1", "has a query"),
                         ("https://site.example?redirect=https://evil.example", "has a query"),
                         ("https://site.example\nfoo", "not an absolute http(s) URL"),
                         ("", "required")):
        line = bad(d, 2, "--frappe-site", "client", "add", "--app-name", "X", "--frappe-site", site)
        ok(reason in line, f"{site!r}: {line}")
    for args, option in ((["--auth-method", "client_secret_basic"], "--auth-method"),
                         (["--auth-method", "none"], "--auth-method"),
                         (["--grant-type", "implicit"], "--grant-type"),
                         (["--grant-type", "client_credentials"], "--grant-type"),
                         (["--scopes", "profile email"], "--scopes"),
                         (["--no-frappe-site"], "--frappe-site")):
        bad(d, 2, option, "client", "add", "--app-name", "X", "--frappe-site", "https://x.example", *args)
    bad(d, 2, "--auth-method", "client", "update", cid, "--auth-method", "client_secret_basic")
    bad(d, 2, "--scopes", "client", "update", cid, "--scopes", "email")
    bad(d, 2, "--frappe-site", "client", "update", cid, "--frappe-site", "https://new.example/path")

    # update: another site's URL moves the login URIs, keeps extra URIs and the secret (nothing printed)
    good(d, "client", "update", cid, "--redirect-uris", "https://site.example" + CONNECTED_APP_CALLBACK)
    eq(js(d, "client", "show", cid)["redirect_uris"][2], "https://site.example" + CONNECTED_APP_CALLBACK, "extra URI added")
    eq(good(d, "client", "update", cid, "--frappe-site", "https://new.example").stdout, "", "no new secret")
    c = js(d, "client", "show", cid)
    eq((c["frappe_site"], c["redirect_uris"], c["default_redirect_uri"]),
       ("https://new.example", ["https://new.example" + WWW_LOGIN, "https://new.example" + INTEGRATIONS_LOGIN,
                                "https://site.example" + CONNECTED_APP_CALLBACK], "https://new.example" + WWW_LOGIN),
       "moved to the new site")
    # a public client made a Frappe site gets a secret; --no-frappe-site keeps URIs and method
    spa = creds(good(d, "client", "add", "--app-name", "spa", "--redirect-uris", "http://127.0.0.1:9/cb", "--auth-method",
                     "none").stdout)[0]
    out = good(d, "client", "update", spa, "--frappe-site", "https://spa.example").stdout
    ok(creds(out)[1], "a secret for the former public client: " + out)
    eq(js(d, "client", "show", spa)["auth_method"], "client_secret_post", "now client_secret_post")
    good(d, "client", "update", spa, "--no-frappe-site")
    c = js(d, "client", "show", spa)
    eq((c["frappe_site"], c["auth_method"], len(c["redirect_uris"])), (None, "client_secret_post", 3), "mark taken away")
    # no user without an e-mail exists at the hub, so a Frappe site always gets one
    bad(d, 2, "--email", "user", "add", "carol", input=PASSWORD)


if __name__ == "__main__":
    run([test_hubctl_frappe_site, test_stock_site_signs_in, test_openid_keeps_its_meaning_for_other_clients,
         test_token_only_where_rauth_sends_it, test_client_authentication_exactly_as_the_site_sends_it,
         test_connected_app_refresh])
