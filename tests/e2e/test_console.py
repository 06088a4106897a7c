"""The consoles on a real hubd (SPEC §11): an administrator creates a client in /admin/ with the seed's form and
';'-separated redirect URIs, and a relying party signs a user in with it (consent, code, tokens); hubctl sees what the
console changed and the console what hubctl changed; the audit log is in hubd's log and on /admin/audit, secrets in
neither; a user's own page changes their password (Argon2id on the workers) and revokes an app; a user disabled in the
console is signed out at once; every /admin/ path is 403 for a user without System Manager."""
import base64
import html
import json
import os
import re
import urllib.parse

from hubtest import Browser, Node, eq, get, ok, post, request, run

PASSWORD = "correct horse battery staple"
ADMIN_PATHS_GET = ["/admin/", "/admin/settings", "/admin/audit", "/admin/clients", "/admin/clients/new",
                   "/admin/users", "/admin/users/new", "/admin/roles", "/admin/nodes", "/admin/keys"]
ADMIN_PATHS_POST = ["/admin/settings", "/admin/clients/new", "/admin/clients/edit", "/admin/clients/rotate-secret",
                    "/admin/clients/delete", "/admin/users/new", "/admin/users/state", "/admin/users/roles",
                    "/admin/users/password", "/admin/users/delete", "/admin/roles/add", "/admin/roles/delete",
                    "/admin/nodes/join-token", "/admin/nodes/revoke", "/admin/keys/rotate", "/admin/keys/retire",
                    "/admin/keys/revoke"]


def primary():
    n = Node("primary", name="consoles")
    n.hubctl("init", "--alg", "ES256")
    pw = os.path.join(n.dir, "pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    n.hubctl("user", "add", "root", "--email", "root@example.com", "--role", "System Manager", "--password-file", pw)
    n.hubctl("user", "add", "alice", "--email", "alice@example.com", "--full-name", "Alice Example", "--password-file", pw)
    return n.start()


def sign_in(n, user, password=PASSWORD):
    b = Browser()
    r = b.get(n.url + "/login")
    token = re.search(r'action="/login">\s*<input type="hidden" name="csrf_token" value="([^"]*)"', r.text).group(1)
    r = b.post(n.url + "/login", form={"csrf_token": token, "username": user, "password": password, "next": "/account/"})
    eq(r.status, 200, f"{user} signed in, on /account/")
    return b


def token_of(page):
    """The console's form token (not the sign-out button's)."""
    m = re.search(r'action="/(?:admin|account)/[^"]*">\s*<input type="hidden" name="csrf_token" value="([^"]*)"', page)
    ok(m is not None, "a console form on the page:\n" + page[:3000])
    return m.group(1)


def client_form(token, **fields):
    form = {"csrf_token": token, "app_name": "", "scopes": "openid;profile;email;roles", "redirect_uris": "",
            "default_redirect_uri": "", "grant_type": "authorization_code", "response_type": "code",
            "auth_method": "client_secret_basic", "allowed_roles": "", "backchannel_logout_uri": "",
            "post_logout_redirect_uris": "", "frappe_site": "", "service_roles": ""}
    form.update(fields)
    return form


def between(page, start, end="<"):
    i = page.find(start)
    ok(i >= 0, f"{start!r} in the page:\n{page[:3000]}")
    return html.unescape(page[i + len(start):page.index(end, i + len(start))])


def code_flow(n, b, client_id, secret, redirect_uri, expect_consent):
    """The relying party's side: authorize in the user's browser, consent when asked, the code exchanged."""
    q = urllib.parse.urlencode({"client_id": client_id, "response_type": "code", "redirect_uri": redirect_uri,
                                "scope": "openid profile", "state": "st-1"})
    r = b.get(n.url + "/oauth2/authorize?" + q, follow=False)
    if expect_consent:
        eq(r.status, 200, "the consent page")
        ok("Test app" in r.text, "it names the app")
        token = re.search(r'name="csrf_token" value="([^"]*)"', r.text).group(1)
        fields = dict(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', r.text))
        fields = {k: html.unescape(v) for k, v in fields.items()}
        fields.update(csrf_token=token, decision="allow")
        r = b.post(n.url + "/oauth2/approve", form=fields, follow=False)
    eq(r.status, 302, "back to the relying party")
    loc = r.header("location")
    ok(loc.startswith(redirect_uri + "?"), loc)
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
    eq(params.get("state"), ["st-1"], "state")
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    r = post(n.url + "/oauth2/token", form={"grant_type": "authorization_code", "code": params["code"][0],
                                             "redirect_uri": redirect_uri}, headers={"Authorization": "Basic " + basic})
    eq(r.status, 200, "tokens: " + r.text)
    return r.json()


def refresh(n, client_id, secret, refresh_token):
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return post(n.url + "/oauth2/token", form={"grant_type": "refresh_token", "refresh_token": refresh_token},
                headers={"Authorization": "Basic " + basic})


def test_client_from_the_form_signs_a_user_in():
    n = primary()
    admin = sign_in(n, "root")
    page = admin.get(n.url + "/admin/clients/new").text
    for label in ("App Name", "Skip Authorization", "Scopes", "Redirect URIs", "Default Redirect URI", "Grant Type",
                  "Response Type", "Allowed Roles", "Auth Method", "Back-channel Logout URI", "Post-logout Redirect URIs",
                  "Frappe Site"):
        ok(f">{label}</label>" in page, f"the form has the field {label!r}")
    rp = "http://127.0.0.1:9/cb"
    r = admin.post(n.url + "/admin/clients/new", form=client_form(
        token_of(page), app_name="Test app", redirect_uris=f"{rp};http://127.0.0.1:9/other"))
    eq(r.status, 200, "created")
    client_id, secret = between(r.text, 'id="client-id">'), between(r.text, 'id="secret">')
    eq(len(secret), 43, "the secret, shown once")
    shown = json.loads(n.hubctl("client", "show", client_id, "--json").stdout)
    eq(shown["redirect_uris"], [rp, "http://127.0.0.1:9/other"], "hubctl sees both redirect URIs")
    eq(shown["app_name"], "Test app", "and the name")
    alice = sign_in(n, "alice")
    tokens = code_flow(n, alice, client_id, secret, rp, expect_consent=True)
    ok("access_token" in tokens and "refresh_token" in tokens and "id_token" in tokens, tokens)
    # hubctl's change seen by the console at once, and the console's by the token endpoint at once
    n.hubctl("client", "update", client_id, "--app-name", "Renamed by hubctl")
    ok("Renamed by hubctl" in admin.get(n.url + "/admin/clients").text, "the console sees hubctl's change")
    page = admin.get(n.url + f"/admin/clients/edit?id={client_id}").text
    r = admin.post(n.url + "/admin/clients/rotate-secret", form={"csrf_token": token_of(page), "client_id": client_id})
    eq(r.status, 200, "rotated")
    new_secret = between(r.text, 'id="secret">')
    eq(refresh(n, client_id, secret, tokens["refresh_token"]).status, 401, "the old secret no longer works")
    eq(refresh(n, client_id, new_secret, tokens["refresh_token"]).status, 200, "the new one does")
    # the audit: in hubd's log (action, who, where, never a secret) and on the page
    ok(n.wait_log("client.create by root"), "the audit line")
    log = n.log()
    for s in (secret, new_secret, PASSWORD):
        ok(s not in log, "no secret in hubd's log")
    audit = admin.get(n.url + "/admin/audit").text
    ok("client.rotate-secret" in audit and "client.create" in audit and secret not in audit, "the audit page")
    ok(n.stop() == 0, "clean stop")


def test_same_messages_as_hubctl():
    """A value hubctl refuses is refused by the form with the same words, next to the field."""
    n = primary()
    admin = sign_in(n, "root")
    cases = [("redirect_uris", "--redirect-uris", "javascript:alert(1)", {}),
             ("backchannel_logout_uri", "--backchannel-logout-uri", "http://169.254.169.254/x", {"redirect_uris": "https://a.example/cb"}),
             ("allowed_roles", "--allowed-roles", "Nobody Has This", {"redirect_uris": "https://a.example/cb"}),
             ("frappe_site", "--frappe-site", "https://site.example/path", {"redirect_uris": "https://a.example/cb"})]
    for field, option, value, extra in cases:
        args = ["client", "add", "--app-name", "x", option, value]
        if "redirect_uris" in extra:
            args += ["--redirect-uris", extra["redirect_uris"]]
        p = n.hubctl(*args, check=False)
        eq(p.returncode, 2, f"hubctl refuses {option}")
        said = p.stderr.strip().split(f"{option}: ", 1)[1]
        page = admin.get(n.url + "/admin/clients/new").text
        r = admin.post(n.url + "/admin/clients/new", form=client_form(token_of(page), app_name="x", **dict(extra, **{field: value})))
        eq(r.status, 400, f"the form refuses {field}")
        eq(between(r.text, f'id="m-{field}">'), said, f"the same words for {field}")
    ok(n.stop() == 0, "clean stop")


def test_settings_both_ways():
    n = primary()
    admin = sign_in(n, "root")
    n.hubctl("settings", "set", "skip_authorization", "auto")
    page = admin.get(n.url + "/admin/settings").text
    ok('<option value="auto" selected>Auto</option>' in page, "the console shows hubctl's setting")
    r = admin.post(n.url + "/admin/settings", form={"csrf_token": token_of(page), "skip_authorization": "force"})
    eq(r.status, 200, "saved, back on the page")
    ok("were saved" in r.text, "with its flash")
    eq(json.loads(n.hubctl("settings", "show", "--json").stdout)["skip_authorization"], "force", "hubctl sees the console's")
    ok(n.stop() == 0, "clean stop")


def test_non_admin_and_no_csrf():
    n = primary()
    alice = sign_in(n, "alice")
    token = token_of(alice.get(n.url + "/account/").text)
    for path in ADMIN_PATHS_GET:
        eq(alice.get(n.url + path).status, 403, f"GET {path}")
    for path in ADMIN_PATHS_POST:
        eq(alice.post(n.url + path, form={"csrf_token": token, "confirm": "yes"}).status, 403, f"POST {path}")
    admin = sign_in(n, "root")
    before = n.hubctl("role", "list").stdout
    eq(admin.post(n.url + "/admin/roles/add", form={"role": "NoToken"}).status, 403, "no token")
    eq(admin.post(n.url + "/admin/roles/add", form={"role": "Wrong", "csrf_token": token}).status, 403, "alice's token")
    eq(n.hubctl("role", "list").stdout, before, "nothing changed")
    eq(get(n.url + "/admin/").status, 302, "not signed in: to the sign-in page")
    ok(n.stop() == 0, "clean stop")


def test_account():
    n = primary()
    admin = sign_in(n, "root")
    page = admin.get(n.url + "/admin/clients/new").text
    rp = "http://127.0.0.1:9/cb"
    r = admin.post(n.url + "/admin/clients/new", form=client_form(
        token_of(page), app_name="Test app", redirect_uris=rp, skip_authorization="1"))
    client_id, secret = between(r.text, 'id="client-id">'), between(r.text, 'id="secret">')
    alice = sign_in(n, "alice")
    elsewhere = sign_in(n, "alice")
    tokens = code_flow(n, alice, client_id, secret, rp, expect_consent=False)
    page = alice.get(n.url + "/account/").text
    ok("Test app" in page and "openid profile" in page, "the app holding a grant")
    r = alice.post(n.url + "/account/revoke", form={"csrf_token": token_of(page), "client_id": client_id})
    eq(r.status, 200, "revoked, back on the page")
    eq(refresh(n, client_id, secret, tokens["refresh_token"]).status, 400, "its refresh token stops working")
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    r = post(n.url + "/oauth2/introspect", form={"token": tokens["access_token"]}, headers={"Authorization": "Basic " + basic})
    eq(r.json().get("active"), False, "introspection: inactive")
    # the password: the current one required; the other session ends
    page = alice.get(n.url + "/account/").text
    r = alice.post(n.url + "/account/password", form={"csrf_token": token_of(page), "current_password": "nope-nope",
                                                       "new_password": "a-new-password", "new_password_again": "a-new-password"})
    eq(r.status, 400, "a wrong current password")
    r = alice.post(n.url + "/account/password", form={"csrf_token": token_of(page), "current_password": PASSWORD,
                                                       "new_password": "a-new-password", "new_password_again": "a-new-password"})
    eq(r.status, 200, "changed")
    ok("Your password was changed" in r.text, "said so")
    eq(elsewhere.get(n.url + "/account/", follow=False).status, 302, "the other session ended")
    sign_in(n, "alice", "a-new-password")
    # disabled in the console: signed out at once, and hubctl sees it
    page = admin.get(n.url + "/admin/users?q=alice").text
    sub = re.search(r'/admin/users/edit\?id=([^"]+)"', page).group(1)
    page = admin.get(n.url + "/admin/users/edit?id=" + sub).text
    ok('id="state">enabled' in page, "the user's page")
    r = admin.post(n.url + "/admin/users/state", form={"csrf_token": token_of(page), "sub": sub})
    eq(r.status, 200, "disabled")
    eq(alice.get(n.url + "/account/", follow=False).status, 302, "alice is signed out")
    eq(json.loads(n.hubctl("user", "show", "alice", "--json").stdout)["enabled"], False, "hubctl sees it")
    ok("a-new-password" not in n.log() and PASSWORD not in n.log(), "no password in the log")
    ok(n.stop() == 0, "clean stop")


if __name__ == "__main__":
    run([test_client_from_the_form_signs_a_user_in, test_same_messages_as_hubctl, test_settings_both_ways, test_non_admin_and_no_csrf, test_account])
