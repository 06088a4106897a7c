"""The primary's sign-in page: form and headers, CSRF tokens bound to the pre-session or session, redirects after
sign-in (no open redirects), indistinguishable failures, account lockout, address throttling, disabled users, session
expiry and the confirmed sign-out, on a real hubd."""
import html
import os
import re
import time
import urllib.parse

from hubtest import Browser, Node, eq, get, ok, post, request, run

PASSWORD = "correct horse battery staple"


def primary(name="primary", login=None, session_ttl=None):
    conf = {"primary": {"login": login or {"max_failures": 3, "lockout": "2s"}}}
    if session_ttl:
        conf["primary"]["session_ttl"] = session_ttl
    n = Node("primary", name=name, conf=conf)
    n.hubctl("init")
    pw = os.path.join(n.dir, "pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    n.hubctl("user", "add", "alice", "--email", "alice@example.com", "--password-file", pw)
    n.hubctl("user", "add", "bob", "--email", "bob@example.com", "--password-file", pw)
    return n.start()


def clean_stop(n):
    """Stops n; under the sanitizer build a report naming this module fails the test.
    Leak reports elsewhere (start-up config, h2o buffers) are test_node's business."""
    rc = n.stop()
    with open(n.log_path) as f:
        log = f.read()
    ok(not re.search(r"idp/(login|session)\.c", log), "sanitizer report in the sign-in module:\n" + log[-4000:])
    ok(rc == 0 or ("LeakSanitizer" in log and "runtime error" not in log), f"exit {rc}:\n" + log[-4000:])


def session_cookie(n):
    return n.cookie_name("session")


def csrf_of(r):
    """The token of the sign-in form (a signed-in user's page also has a sign-out button with its own)."""
    m = re.search(r'action="/login">\s*<input type="hidden" name="csrf_token" value="([^"]*)"', r.text)
    ok(m is not None, "form has a csrf_token field:\n" + r.text)
    return m.group(1)


def sign_out_button_token(r):
    m = re.search(r'action="/logout">.*?name="csrf_token" value="([^"]*)"', r.text, re.S)
    ok(m is not None, "the page of a signed-in user has a sign-out button:\n" + r.text)
    return m.group(1)


def sign_in(n, b, username="alice", password=PASSWORD, next=None, follow=False):
    url = n.url + "/login" + ("?next=" + urllib.parse.quote(next, safe="") if next is not None else "")
    token = csrf_of(b.get(url))
    form = {"csrf_token": token, "username": username, "password": password}
    if next is not None:
        form["next"] = next
    return b.post(n.url + "/login", form=form, follow=follow)


def signed_in_as(n, b):
    r = b.get(n.url + "/login")
    eq(r.status, 200, "login page")
    m = re.search(r'id="signed-in">You are signed in as <strong>([^<]*)<', r.text)
    return html.unescape(m.group(1)) if m else None


def test_form_and_headers():
    n = primary()
    r = get(n.url + "/login?next=" + urllib.parse.quote('/x?a=1&b="><script>alert(1)</script>', safe=""))
    eq(r.status, 200, "GET /login")
    csp = r.header("content-security-policy") or ""
    ok("default-src 'none'" in csp, "CSP: " + csp)
    eq(r.header("x-frame-options"), "DENY", "X-Frame-Options")
    eq(r.header("referrer-policy"), "no-referrer", "Referrer-Policy")
    ok(r.header("content-type").startswith("text/html"), "content type")
    ok("<script" not in r.text, "next is escaped:\n" + r.text)
    ok('value="/x?a=1&amp;b=&quot;&gt;&lt;script&gt;' in r.text, "next kept, escaped:\n" + r.text)
    for needle in ('<label for="username">', '<label for="password">', 'autocomplete="username"',
                   'autocomplete="current-password"', 'type="password"', 'method="post"', 'name="next"'):
        ok(needle in r.text, f"form has {needle}")
    token = csrf_of(r)
    eq(len(token), 43, "csrf token length")
    cookies = r.header_all("set-cookie")
    csrf = [c for c in cookies if c.startswith(n.cookie_name("csrf") + "=")]
    eq(len(csrf), 1, "pre-session cookie set: %r" % cookies)
    pre = csrf[0].split(";")[0].split("=", 1)[1]
    eq(len(pre), 43, "a 256-bit pre-session id")
    ok(pre != token, "the form's token is not the cookie's value (an HMAC of it under the server key)")
    ok("HttpOnly" in csrf[0] and "SameSite=Lax" in csrf[0] and "Path=/" in csrf[0], "csrf cookie attributes: " + csrf[0])
    ok("Secure" not in csrf[0], "no Secure over plain http")
    eq(get(n.url + "/loginx").status, 404, "only the exact path")
    eq(post(n.url + "/login", body="x", headers={"Content-Type": "text/plain"}).status, 400, "not a form")
    eq(post(n.url + "/login", body="a=%zz", headers={"Content-Type": "application/x-www-form-urlencoded"}).status, 400,
       "malformed form")
    eq(request("PUT", n.url + "/login").status, 405, "other methods")
    clean_stop(n)


def test_csrf_required():
    n = primary()
    form = {"username": "alice", "password": PASSWORD}
    r = post(n.url + "/login", form=form)
    eq(r.status, 400, "no CSRF at all")
    ok(not any(c.startswith(session_cookie(n)) for c in r.header_all("set-cookie")), "no session without CSRF")
    b = Browser()
    token = csrf_of(b.get(n.url + "/login"))
    r = b.post(n.url + "/login", form=dict(form, csrf_token=token[:-1] + ("A" if token[-1] != "A" else "B")), follow=False)
    eq(r.status, 400, "wrong CSRF token")
    ok(session_cookie(n) not in b._jar(n.url), "no session with a wrong token")
    r = post(n.url + "/login", form=dict(form, csrf_token=token))
    eq(r.status, 400, "token without its cookie")
    r = post(n.url + "/login", form=dict(form, csrf_token=token), headers={"Cookie": n.cookie_name("csrf") + "=other"})
    eq(r.status, 400, "token with another cookie")
    eq(signed_in_as(n, b), None, "not signed in")


def test_csrf_forgeries():
    """Each way an attacker who can set cookies (a same-site origin) or read one page could forge the sign-in form."""
    n = primary(login={"max_failures": 100, "lockout": "2s"})
    csrf_cookie = n.cookie_name("csrf")
    form = {"username": "alice", "password": PASSWORD}

    def refused(what, token, cookie_header=None, browser=None, extra=None):
        f = list(dict(form, csrf_token=token).items()) if token is not None else list(form.items())
        f += extra or []
        if browser is not None:
            r = browser.post(n.url + "/login", form=f, follow=False)
        else:
            r = post(n.url + "/login", form=f, headers={"Cookie": cookie_header} if cookie_header else {})
        eq(r.status, 400, what)
        ok("This form has expired" in r.text, what + ": the form again with a message")
        ok(not any(c.startswith(session_cookie(n) + "=") and "Max-Age=0" not in c for c in r.header_all("set-cookie")),
           what + ": no session")

    # 1. the old double-submit: a cookie and a field the attacker chose together, in every shape
    for value in ("A" * 43, "attacker-chosen", "x", "A" * 44, "_" * 43):
        refused(f"cookie = field = {value!r}", value, f"{csrf_cookie}={value}")
    # 2. a real token of another browser (the attacker's own pre-session), with the victim's cookie or with its own
    attacker, victim = Browser(), Browser()
    attacker_token = csrf_of(attacker.get(n.url + "/login"))
    victim_token = csrf_of(victim.get(n.url + "/login"))
    ok(attacker_token != victim_token, "two browsers get different tokens")
    refused("another pre-session's token", attacker_token, browser=victim)
    refused("the attacker's cookie planted with the victim's token", victim_token,
            f"{csrf_cookie}={attacker._jar(n.url)[csrf_cookie]}")
    # 3. missing, duplicated, oversized, truncated fields
    refused("no csrf_token field", None, browser=victim)
    refused("csrf_token twice (same value)", victim_token, browser=victim, extra=[("csrf_token", victim_token)])
    refused("csrf_token twice (another value)", "x", browser=victim, extra=[("csrf_token", victim_token)])
    refused("oversized csrf_token", victim_token + "A" * 5000, browser=victim)
    refused("truncated csrf_token", victim_token[:20], browser=victim)
    # 4. a token from before sign-in stops working at sign-in: as a signed-in user, and after signing out again
    b = Browser()
    before = csrf_of(b.get(n.url + "/login"))
    r = b.post(n.url + "/login", form=dict(form, csrf_token=before), follow=False)
    eq(r.status, 302, "the valid flow signs in")
    refused("pre-sign-in token, signed in", before, browser=b)
    page = b.get(n.url + "/logout")
    r = b.post(n.url + "/logout", form={"csrf_token": confirm_form(page)[0], "decision": "yes"}, follow=False)
    eq(r.status, 200, "signed out")
    refused("pre-sign-in token, signed out again", before, browser=b)
    # 5. a signed-in browser's token belongs to its session: not to another session of the same user
    b2 = Browser()
    eq(sign_in(n, b2).status, 302, "second browser signed in")
    other_session_token = csrf_of(b2.get(n.url + "/login"))
    b3 = Browser()
    eq(sign_in(n, b3).status, 302, "third browser signed in")
    refused("another session's token", other_session_token, browser=b3)
    # 6. a token made for another form (the sign-out button's) is not a sign-in token
    refused("the sign-out form's token", sign_out_button_token(b3.get(n.url + "/login")), browser=b3)
    # and the victim's own form still works
    eq(victim.post(n.url + "/login", form=dict(form, csrf_token=victim_token), follow=False).status, 302, "valid flow")
    clean_stop(n)


def test_sign_in_redirects_to_next():
    n = primary(name="login-node")
    b = Browser()
    nxt = "/oauth2/authorize?client_id=abc&response_type=code&state=x%20y"
    r = sign_in(n, b, next=nxt)
    eq(r.status, 302, "sign-in status: " + r.text)
    eq(r.header("location"), nxt, "redirect to next")
    sc = [c for c in r.header_all("set-cookie") if c.startswith(session_cookie(n) + "=")]
    eq(len(sc), 1, "session cookie named after the node (or its cluster): %r" % r.header_all("set-cookie"))
    ok("HttpOnly" in sc[0] and "SameSite=Lax" in sc[0] and "Path=/" in sc[0], "cookie attributes: " + sc[0])
    eq(len(sc[0].split(";")[0].split("=", 1)[1]), 43, "256-bit session id")
    eq(signed_in_as(n, b), "alice", "signed in")
    # Sign in with the e-mail address instead, without next.
    b2 = Browser()
    r = sign_in(n, b2, username="Bob@Example.com")
    eq(r.status, 302, "e-mail sign-in")
    eq(r.header("location"), "/", "default target")
    eq(signed_in_as(n, b2), "bob", "signed in by e-mail")


def test_no_open_redirect():
    n = primary()
    bad = ["//evil.com", "https://evil.com", "/\\evil.com", "\\\\evil.com", "javascript:alert(1)", "%2F%2Fevil",
           "/\r\nSet-Cookie:x=1", "evil.com", "", "///evil.com", "/\tevil"]
    for target in bad:
        b = Browser()
        r = sign_in(n, b, next=target)
        eq(r.status, 302, f"sign-in with next={target!r}")
        eq(r.header("location"), "/", f"next={target!r} falls back to /")
    b = Browser()
    r = sign_in(n, b, next="/a/b?c=%2F%2Fd#frag")
    eq(r.header("location"), "/a/b?c=%2F%2Fd#frag", "a same-origin path is kept")


def test_failures_look_alike():
    n = primary(login={"max_failures": 100, "lockout": "2s"})
    b = Browser()
    token = csrf_of(b.get(n.url + "/login"))

    def checks():
        for line in get(n.url + "/metrics").text.splitlines():
            if line.startswith("hub_password_checks_total "):
                return int(line.split()[1])
        raise AssertionError("no hub_password_checks_total in /metrics")

    def attempt(username, password):
        before = checks()
        r = b.post(n.url + "/login", form={"csrf_token": token, "username": username, "password": password}, follow=False)
        # Each failure, whatever its kind, costs exactly one Argon2id verification (a dummy hash of the same
        # parameters when there is no user: tests/idp/model.c checks it is a full one), so none is answered faster.
        eq(checks() - before, 1, f"one password check for {username or 'an empty username'}")
        return r

    wrong = attempt("alice", "wrong password")
    unknown = attempt("nobody", "wrong password")
    empty = attempt("", "")
    for r in (wrong, unknown, empty):
        eq(r.status, 401, "failure status")
        ok("Incorrect username or password" in r.text, "failure message")
        ok(session_cookie(n) not in b._jar(n.url), "no session")
    eq(wrong.text.replace('value="alice"', 'value="X"'), unknown.text.replace('value="nobody"', 'value="X"'),
       "same body for wrong password and unknown user")
    eq(sorted(k for k, _ in wrong.headers if k != "date"), sorted(k for k, _ in unknown.headers if k != "date"),
       "same headers")


def test_lockout():
    n = primary(login={"max_failures": 3, "lockout": "2s"})
    b = Browser()
    for i in range(3):
        eq(sign_in(n, b, password="wrong").status, 401, f"failure {i + 1}")
    r = sign_in(n, b)
    eq(r.status, 401, "right password while locked")
    ok("Incorrect username or password" in r.text, "locked looks like any failure")
    eq(signed_in_as(n, b), None, "not signed in while locked")
    eq(sign_in(n, Browser(), username="bob").status, 302, "another account is not locked")
    time.sleep(2.5)
    eq(sign_in(n, b).status, 302, "works after the lockout")
    # Success resets the count: two more failures do not lock.
    b2 = Browser()
    for i in range(2):
        eq(sign_in(n, b2, password="wrong").status, 401, f"failure {i + 1} after reset")
    eq(sign_in(n, b2).status, 302, "not locked after reset")
    clean_stop(n)


def test_address_throttle():
    n = primary(login={"max_failures": 100, "lockout": "2s"})
    b = Browser()
    for i in range(10):
        eq(sign_in(n, b, username=f"nobody{i}", password="x").status, 401, f"failure {i + 1}")
    r = sign_in(n, b)
    eq(r.status, 429, "throttled")
    ra = r.header("retry-after")
    ok(ra is not None and ra.isdigit() and 0 < int(ra) <= 900, f"Retry-After: {ra}")
    ok('name="csrf_token"' in r.text, "the form is shown again")
    eq(signed_in_as(n, b), None, "no session while throttled")
    clean_stop(n)


def test_disabled_user():
    n = primary()
    b = Browser()
    eq(sign_in(n, b).status, 302, "sign in")
    eq(signed_in_as(n, b), "alice", "signed in")
    n.hubctl("user", "disable", "alice")
    eq(signed_in_as(n, b), None, "a disabled user's session is dead")
    r = sign_in(n, Browser())
    eq(r.status, 401, "disabled user cannot sign in")
    ok("Incorrect username or password" in r.text, "same message")


def test_session_expiry():
    n = primary(session_ttl="2s")
    b = Browser()
    eq(sign_in(n, b).status, 302, "sign in")
    eq(signed_in_as(n, b), "alice", "signed in")
    time.sleep(3)
    old = b._jar(n.url).get(session_cookie(n))
    eq(get(n.url + "/login", headers={"Cookie": f"{session_cookie(n)}={old}"}).text.count('id="signed-in"'), 0,
       "expired session is not accepted")


def confirm_form(r):
    """(csrf_token, hidden fields) of the sign-out confirmation page."""
    ok('id="logout-confirm"' in r.text, "a confirmation page:\n" + r.text[:600])
    fields = dict(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', r.text))
    return fields.pop("csrf_token"), {k: html.unescape(v) for k, v in fields.items()}


def test_logout():
    n = primary()
    b = Browser()
    eq(sign_in(n, b).status, 302, "sign in")
    old = b._jar(n.url)[session_cookie(n)]
    # a GET only asks: the session lives on (a link or an image elsewhere cannot sign anybody out)
    r = b.get(n.url + "/logout", follow=False)
    eq(r.status, 200, "confirmation page")
    eq(r.header("x-frame-options"), "DENY", "page headers")
    ok("Sign out" in r.text and "Cancel" in r.text, "asks to sign out or cancel")
    token, fields = confirm_form(r)
    eq(signed_in_as(n, b), "alice", "a GET signs nobody out")
    eq(request("HEAD", n.url + "/logout", headers={"Cookie": f"{session_cookie(n)}={old}"}).status, 200, "HEAD")
    eq(signed_in_as(n, b), "alice", "a HEAD signs nobody out")
    # Cancel keeps the session
    r = b.post(n.url + "/logout", form={"csrf_token": token, "decision": "no"}, follow=False)
    eq(r.status, 302, "cancel")
    eq(signed_in_as(n, b), "alice", "still signed in after Cancel")
    # the confirmation signs out
    r = b.post(n.url + "/logout", form={"csrf_token": token, "decision": "yes"}, follow=False)
    eq(r.status, 200, "signed out: " + r.text[:300])
    ok("signed out" in r.text, "says signed out")
    ok(any(c.startswith(session_cookie(n) + "=;") and "Max-Age=0" in c for c in r.header_all("set-cookie")),
       "cookie cleared: %r" % r.header_all("set-cookie"))
    eq(signed_in_as(n, b), None, "signed out")
    r = get(n.url + "/login", headers={"Cookie": f"{session_cookie(n)}={old}"})
    ok('id="signed-in"' not in r.text, "the old cookie no longer works")
    # the sign-in page's button, with a safe and an unsafe next
    eq(sign_in(n, b).status, 302, "sign in again")
    button = sign_out_button_token(b.get(n.url + "/login"))
    r = b.post(n.url + "/logout?next=/bye", form={"csrf_token": button, "decision": "yes"}, follow=False)
    eq((r.status, r.header("location")), (302, "/bye"), "sign-out to a safe next")
    eq(signed_in_as(n, b), None, "signed out by the button")
    r = b.get(n.url + "/logout?next=//evil.com", follow=False)
    eq(r.status, 200, "unsafe next shows the page")
    eq(get(n.url + "/logout").status, 200, "logout without a session")
    clean_stop(n)


def test_logout_forgeries():
    """A cross-site POST, or one with a token of another kind or browser, signs nobody out."""
    n = primary(login={"max_failures": 100, "lockout": "2s"})
    victim, other = Browser(), Browser()
    eq(sign_in(n, victim).status, 302, "victim signed in")
    eq(sign_in(n, other, username="bob").status, 302, "another user signed in")
    csrf_cookie = n.cookie_name("csrf")
    victim_session = victim._jar(n.url)[session_cookie(n)]
    other_token, _ = confirm_form(other.get(n.url + "/logout"))
    victim_login_token = csrf_of(victim.get(n.url + "/login"))
    attempts = [
        ("no token", {"decision": "yes"}, None),
        ("attacker-chosen cookie and field", {"csrf_token": "A" * 43, "decision": "yes"}, f"{csrf_cookie}={'A' * 43}"),
        ("another session's token", {"csrf_token": other_token, "decision": "yes"}, None),
        ("the sign-in form's token", {"csrf_token": victim_login_token, "decision": "yes"}, None),
        ("token twice", [("csrf_token", other_token), ("csrf_token", other_token), ("decision", "yes")], None),
        ("oversized token", {"csrf_token": "A" * 5000, "decision": "yes"}, None),
    ]
    for what, form, extra_cookie in attempts:
        cookie = f"{session_cookie(n)}={victim_session}" + (f"; {extra_cookie}" if extra_cookie else "")
        r = post(n.url + "/logout", form=form, headers={"Cookie": cookie})
        eq(r.status, 400, what)
        eq(signed_in_as(n, victim), "alice", what + ": the victim is still signed in")
    # a valid token without a decision, or with an unknown one, does nothing either
    token, _ = confirm_form(victim.get(n.url + "/logout"))
    for decision in ([], [("decision", "maybe")], [("decision", "yes"), ("decision", "yes")]):
        r = victim.post(n.url + "/logout", form=[("csrf_token", token)] + decision, follow=False)
        eq(r.status, 400, f"decision {decision!r}")
    eq(signed_in_as(n, victim), "alice", "still signed in")
    eq(signed_in_as(n, other), "bob", "the other user too")
    clean_stop(n)


if __name__ == "__main__":
    run([test_form_and_headers, test_csrf_required, test_csrf_forgeries, test_sign_in_redirects_to_next,
         test_no_open_redirect, test_failures_look_alike, test_lockout, test_address_throttle, test_disabled_user,
         test_session_expiry, test_logout, test_logout_forgeries])
