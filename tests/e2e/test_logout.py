"""RP-initiated logout (/oauth2/logout) without consent: a session ends at once only when the id_token_hint names the
browser's own session; otherwise the browser's owner is asked, and the answer (a POST with a CSRF token bound to the
session) can only end the browser's own session. A hint alone, from anywhere, ends nothing and notifies nobody."""
import re
import time
import urllib.parse

from hubtest import Browser, eq, eventually, get, ok, post, run
from test_authorize import AFTER_LOGOUT, RP, BackChannel, Hub, forms_of, jwt_claims, split_location


def tokens(h, b, key="rp"):
    """(id_token, access_token, sid) of a fresh code flow in browser b."""
    _, q, _ = h.code_for(b, key, scope="openid email", nonce="n")
    t = h.token(key, grant_type="authorization_code", code=q["code"], redirect_uri=RP).json()
    return t["id_token"], t["access_token"], jwt_claims(t["id_token"])["sid"]


def alive(h, b, at, key="rp"):
    """True when the session behind browser b and its access token at are both still alive."""
    r = h.go(b, h.authorize_url(key, prompt="none"))
    has_code = r.location is not None and "code" in split_location(r.location)[1]
    return has_code and h.introspect(key, at)["active"] is True


def logout_url(h, **params):
    return h.url + "/oauth2/logout?" + urllib.parse.urlencode(params)


def confirmation(r):
    """The fields of the confirmation form (csrf_token included)."""
    eq(r.status, 200, "a confirmation page: " + r.text[:300])
    forms = [f for f in forms_of(r) if f["action"] == "/oauth2/logout" and f["method"] == "post"]
    ok(forms, "the page has the confirmation form:\n" + r.text[:800])
    ok(("decision", "yes") in forms[0]["buttons"] and ("decision", "no") in forms[0]["buttons"], "Sign out and Cancel")
    return {n: v for n, t, v in forms[0]["inputs"] if n}


def test_hint_alone_ends_nothing():
    bc = BackChannel()
    try:
        h = Hub(bcl_url=bc.url)
        alice = h.login()
        idt, at, sid = tokens(h, alice)
        # from anywhere, without the browser's cookies: GET, GET with a redirect, POST
        r = get(logout_url(h, id_token_hint=idt))
        eq(r.status, 200, "a hint without a session: the signed-out page")
        r = get(logout_url(h, id_token_hint=idt, post_logout_redirect_uri=AFTER_LOGOUT, state="s1"))
        eq((r.status, r.header("location")), (302, AFTER_LOGOUT + "?state=s1"), "back to the RP, nothing ended")
        r = post(h.url + "/oauth2/logout", form={"id_token_hint": idt, "client_id": h.cid("rp")})
        eq(r.status, 200, "POST with a hint, without a session")
        # from another browser with its own session (another user, then the same user elsewhere): asked, not done
        mallory = h.login("bob")
        _, mallory_at, _ = tokens(h, mallory)
        fields = confirmation(mallory.get(logout_url(h, id_token_hint=idt), follow=False))
        ok(alive(h, alice, at) and alive(h, mallory, mallory_at), "the question ends nobody")
        alice2 = h.login()
        _, at2, _ = tokens(h, alice2)
        confirmation(alice2.get(logout_url(h, id_token_hint=idt), follow=False))
        ok(alive(h, alice, at) and alive(h, alice2, at2), "the same user's other browser is only asked")
        # the owner of the other browser confirms: only that browser's session ends, whatever the hint named
        r = mallory.post(h.url + "/oauth2/logout", form=dict(fields, decision="yes"), follow=False)
        eq(r.status, 200, "confirmed: " + r.text[:200])
        ok(not alive(h, mallory, mallory_at), "the confirming browser's session ended")
        ok(alive(h, alice, at), "the session the hint named lives on")
        ok(alive(h, alice2, at2), "and so does every other")
        time.sleep(1.0)  # a delivery would have been queued at once; the listener answers within milliseconds
        sids = [jwt_claims(dict(urllib.parse.parse_qsl(body))["logout_token"])["sid"] for _, body in bc.received]
        ok(sid not in sids, f"no back-channel logout for the hinted session: {sids}")
        h.finish()
    finally:
        bc.close()


def test_own_hint_signs_out_at_once():
    """The secondary's flow: its /auth/logout sends the browser here with the hint of the browser's own session."""
    bc = BackChannel()
    try:
        h = Hub(bcl_url=bc.url)
        b = h.login()
        idt, at, sid = tokens(h, b)
        r = b.get(logout_url(h, id_token_hint=idt, post_logout_redirect_uri=AFTER_LOGOUT, state="bye"), follow=False)
        eq((r.status, r.header("location")), (302, AFTER_LOGOUT + "?state=bye"), "no question, straight back")
        eq(h.introspect("rp", at)["active"], False, "the session's tokens are revoked")
        end = time.time() + 10
        while not bc.received and time.time() < end:
            time.sleep(0.05)
        ok(bc.received, "back-channel logout delivered")
        eq(jwt_claims(dict(urllib.parse.parse_qsl(bc.received[0][1]))["logout_token"])["sid"], sid, "for this session")
        # an old hint of an ended session, in a browser signed in again: that is another session now, so it asks
        b2 = h.login()
        _, at2, _ = tokens(h, b2)
        confirmation(b2.get(logout_url(h, id_token_hint=idt), follow=False))
        ok(alive(h, b2, at2), "an old hint does not end the new session")
        h.finish()
    finally:
        bc.close()


def test_confirmation():
    h = Hub()
    h.node.hubctl("client", "update", h.cid("web"), "--app-name", "Web <b>App</b> & co")
    b = h.login()
    idt, at, _ = tokens(h, b)
    other = h.login("bob")
    # without a hint: "Sign out?"; with client_id: the app's name, escaped
    r = b.get(h.url + "/oauth2/logout", follow=False)
    confirmation(r)
    ok(re.search(r'<h1 id="confirm-title">Sign out\?</h1>', r.text), "generic question: " + r.text[:400])
    def names_the_app():  # (the new name came from hubctl: eventually)
        r = b.get(logout_url(h, client_id=h.cid("web")), follow=False)
        confirmation(r)
        ok("Sign out of Web &lt;b&gt;App&lt;/b&gt; &amp; co?" in r.text, "names the app, escaped: " + r.text[:500])
        return r

    r = eventually(h.node, names_the_app)
    # with another session's hint, a redirect and a state: all carried by the form
    other_idt, other_at, _ = tokens(h, other)
    fields = confirmation(b.get(logout_url(h, id_token_hint=other_idt, post_logout_redirect_uri=AFTER_LOGOUT,
                                           state="x&y"), follow=False))
    eq((fields["post_logout_redirect_uri"], fields["state"], fields["id_token_hint"]), (AFTER_LOGOUT, "x&y", other_idt),
       "the request's parameters ride along")
    ok(alive(h, b, at), "asking ends nothing")
    # Cancel: nothing ends, a link back to the application is offered
    r = b.post(h.url + "/oauth2/logout", form=dict(fields, decision="no"), follow=False)
    eq(r.status, 200, "cancel")
    ok("still signed in" in r.text and 'id="back"' in r.text and "state=x%26y" in r.text, "cancel page: " + r.text[:400])
    ok(alive(h, b, at), "still signed in after Cancel")
    # the redirect is validated again when the form comes back
    r = b.post(h.url + "/oauth2/logout", form=dict(fields, decision="yes", post_logout_redirect_uri="https://evil.example/"),
               follow=False)
    eq((r.status, r.header("location")), (400, None), "a tampered post_logout_redirect_uri")
    ok(alive(h, b, at), "nothing ended by the tampered form")
    # the confirmation ends this browser's session and goes back to the RP with the state
    r = b.post(h.url + "/oauth2/logout", form=dict(fields, decision="yes"), follow=False)
    eq((r.status, r.header("location")), (302, AFTER_LOGOUT + "?state=x%26y"), "confirmed: back to the RP")
    ok(not alive(h, b, at), "this browser is signed out")
    ok(alive(h, other, other_at), "the session the hint named lives on")
    h.finish()


def test_confirmation_forgeries():
    """Forged confirmations: a POST another site makes with the victim's cookies, or one carrying a token of another
    session or form, signs nobody out."""
    h = Hub()
    victim = h.login()
    _, at, _ = tokens(h, victim)
    attacker = h.login("bob")
    attacker_fields = confirmation(attacker.get(h.url + "/oauth2/logout", follow=False))
    victim_fields = confirmation(victim.get(h.url + "/oauth2/logout", follow=False))
    login_token = [v for n, t, v in forms_of(victim.get(h.url + "/login"))[-1]["inputs"] if n == "csrf_token"][0]
    consent = h.go(victim, h.authorize_url("web", scope="openid"))
    approve_token = [v for n, t, v in forms_of(consent)[0]["inputs"] if n == "csrf_token"][0]
    session = victim._jar(h.url)[h.node.cookie_name("session")]
    csrf_cookie = h.node.cookie_name("csrf")
    cases = [
        ("attacker-chosen cookie and field", {"csrf_token": "A" * 43}, f"; {csrf_cookie}={'A' * 43}"),
        ("another session's confirmation token", {"csrf_token": attacker_fields["csrf_token"]}, ""),
        ("the sign-in form's token", {"csrf_token": login_token}, ""),
        ("the consent form's token", {"csrf_token": approve_token}, ""),
        ("a truncated token", {"csrf_token": victim_fields["csrf_token"][:-1]}, ""),
        ("an oversized token", {"csrf_token": victim_fields["csrf_token"] + "A" * 4000}, ""),
        ("an empty token", {"csrf_token": ""}, ""),
    ]
    for what, fields, cookie_extra in cases:
        r = post(h.url + "/oauth2/logout", form=dict(fields, decision="yes"),
                 headers={"Cookie": f"{h.node.cookie_name('session')}={session}" + cookie_extra})
        eq(r.status, 400, what)
        ok(alive(h, victim, at), what + ": the victim is still signed in")
    r = post(h.url + "/oauth2/logout", headers={"Cookie": f"{h.node.cookie_name('session')}={session}"},
             form=[("csrf_token", victim_fields["csrf_token"]), ("csrf_token", victim_fields["csrf_token"]),
                   ("decision", "yes")])
    eq(r.status, 400, "the token twice")
    for decision in ([], [("decision", "sure")], [("decision", "yes"), ("decision", "no")]):
        r = victim.post(h.url + "/oauth2/logout", form=[("csrf_token", victim_fields["csrf_token"])] + decision, follow=False)
        eq(r.status, 400, f"decision {decision!r}")
    # a POST without a token is an RP's request: it only asks
    r = post(h.url + "/oauth2/logout", form={"decision": "yes"}, headers={"Cookie": f"{h.node.cookie_name('session')}={session}"})
    confirmation(r)
    ok(alive(h, victim, at), "every forgery left the victim signed in")
    # the victim's own confirmation works
    r = victim.post(h.url + "/oauth2/logout", form=dict(victim_fields, decision="yes"), follow=False)
    eq(r.status, 200, "the real confirmation")
    ok("signed out" in r.text, "signed-out page")
    ok(not alive(h, victim, at), "signed out")
    h.finish()


if __name__ == "__main__":
    run([test_hint_alone_ends_nothing, test_own_hint_signs_out_at_once, test_confirmation, test_confirmation_forgeries])
