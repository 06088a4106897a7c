"""POST /auth/jwks-changed on a secondary (SPEC §6, issue 10 item 12): anyone may ask, all it does is the shared,
rate-limited JWKS refresh (many asks: one refresh now and at most one more after the rate limit); the node's key set
becomes what the primary publishes, and a key the primary no longer publishes stops verifying at once, also for
tokens the node verified (and cached) before."""
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from federation import Federation, basic, bearer, jwt_header, until  # noqa: E402
from hubtest import Node, eq, get, ok, post, request, run  # noqa: E402

FORCE_INTERVAL = 10  # FED_JWKS_FORCE_INTERVAL


def jwks_gets(node):
    return sum('"GET /oauth2/jwks' in line for line in node.lines)


def keys_in_use(node):
    """The key counts the node logged after each refresh that changed its set."""
    return [int(m.group(1)) for m in (re.search(r"(\d+) signing keys of the primary in use", l) for l in node.lines) if m]


def federation():
    # publish_ahead 1h: the JWKS max-age is 30 min, so no scheduled refresh happens during a test
    fed = Federation(names=("A",), primary_conf={"primary": {"key_rotation": {"every": "30d", "publish_ahead": "1h"}}},
                     start=False)
    svc, secret = fed.add_client("--app-name", "svc", "--grant-type", "client_credentials", "--scopes", "openid;roles")
    fed["A"].conf["secondary"]["accept_audiences"] = [svc]
    fed.start()
    ok(fed["A"].wait_log("signing keys of the primary in use", 10), "A fetched the primary's keys")
    return fed, svc, secret


def test_refresh_on_ask_rate_limited():
    fed, _, _ = federation()
    a = fed["A"]
    url = fed.url("A", "/auth/jwks-changed")
    for method in ("GET", "PUT", "DELETE"):
        r = request(method, url, body=b"")
        eq(r.status, 405, f"{method} /auth/jwks-changed")
        eq(r.header("allow"), "POST", f"{method}: Allow")
    eq(request("GET", url + "x").status, 404, "only the exact path")
    # a key published by the primary that A does not know yet (no scheduled refresh for 30 min)
    out = fed.primary.hubctl("keys", "rotate").stdout
    kid = re.search(r"next:\s*(\S+)", out).group(1)
    until(lambda: kid in get(fed.primary.url + "/oauth2/jwks").text, 10, what="the primary publishes the next key")
    time.sleep(0.5)
    until(lambda: keys_in_use(a) == [1], 5, what="A knows one key before anyone asks")
    before = jwks_gets(fed.primary)
    r = post(url)  # no body, no credentials: anyone may ask
    eq((r.status, r.body), (204, b""), "answered at once, empty")
    until(lambda: keys_in_use(a)[-1:] == [2], 5, what="A refreshed and knows both keys")
    eq(jwks_gets(fed.primary) - before, 1, "one JWKS fetch for the ask")
    # a storm of asks (with and without bodies, from several threads): all answered alike, no fetch now
    answers = []

    def storm():
        for i in range(25):
            answers.append(post(url, body=b"x" * (i * 1000)).status)

    threads = [threading.Thread(target=storm) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    eq(set(answers), {204}, "every ask answered 204")
    eq(len(answers), 100, "100 asks")
    time.sleep(1)
    eq(jwks_gets(fed.primary) - before, 1, "no fetch while rate-limited")
    # the kept ask is served once, after the rate limit (counted from the first fetch)
    until(lambda: jwks_gets(fed.primary) - before == 2, FORCE_INTERVAL + 5, what="one more fetch after the rate limit")
    time.sleep(3)
    eq(jwks_gets(fed.primary) - before, 2, "and no more than that")
    eq(get(fed.url("A", "/healthz")).status, 200, "A healthy")
    fed.finish()


def test_dropped_key_stops_verifying():
    """The primary stops publishing the key of a token A verified (and cached) before: after an ask, the token is
    refused. The primary is replaced on its address by one with other keys (what a key revocation looks like to A)."""
    fed, svc, secret = federation()
    tok = fed.client_token(svc, secret)
    for i in range(3):
        eq(get(fed.url("A", f"/app/{i}"), headers=bearer(tok)).status, 200, f"accepted (then from the cache) {i}")
    old = fed.primary
    eq(old.stop(), 0, "the first primary stops")
    new = Node("primary", name="fedp2")
    new.port, new.url = old.port, old.url
    new.conf["node"].update({"listen": f"127.0.0.1:{old.port}", "public_url": old.url})
    new.conf.setdefault("primary", {})["key_rotation"] = {"every": "30d", "publish_ahead": "1h"}
    new.hubctl("init")
    new.start()
    try:
        new_kid = jwt_header(cc_token(new, *new_client(new)))["kid"]
        ok(new_kid != jwt_header(tok)["kid"], "the new primary signs with another key")
        r = post(fed.url("A", "/auth/jwks-changed"))
        eq(r.status, 204, "ask")
        until(lambda: get(fed.url("A", "/app/after"), headers=bearer(tok)).status == 401, 5,
              what="the token of the dropped key is refused")
        r = get(fed.url("A", "/auth/me"), headers=bearer(tok))
        ok(r.status == 401 and 'error="invalid_token"' in (r.header("www-authenticate") or ""), "refused at /auth/me too")
        # the node's log is read by another thread: wait for the line rather than race it
        until(lambda: keys_in_use(fed["A"]) == [1, 1], 5, what="A logs that it holds only the new primary's key")
    finally:
        new.stop()
    fed.primary = old  # finish() stops what is left
    fed.finish()


def cc_token(node, cid, secret):
    r = post(node.url + "/oauth2/token", form={"grant_type": "client_credentials"}, headers=basic(cid, secret))
    eq(r.status, 200, f"client_credentials at {node.name}: {r.text[:200]}")
    return r.json()["access_token"]


def new_client(node):
    out = node.hubctl("client", "add", "--app-name", "svc2", "--grant-type", "client_credentials", "--scopes", "openid").stdout
    return re.search(r"client_id:\s*(\S+)", out).group(1), re.search(r"client_secret:\s*(\S+)", out).group(1)


def test_revoked_key_stops_verifying():
    """`hubctl keys revoke KID` (another branch, SPEC §4): the primary tells A, which stops accepting the key's
    tokens within seconds."""
    fed, svc, secret = federation()
    tok = fed.client_token(svc, secret)
    kid = jwt_header(tok)["kid"]
    eq(get(fed.url("A", "/app/"), headers=bearer(tok)).status, 200, "accepted before")
    p = fed.primary.hubctl("keys", "revoke", kid, check=False)
    if p.returncode == 2 and 'unknown command "keys revoke"' in p.stderr:
        print("skip: test_revoked_key_stops_verifying needs `hubctl keys revoke` (SPEC §4), made on another branch")
        fed.finish()
        return
    eq(p.returncode, 0, f"keys revoke: {p.stderr}")
    until(lambda: get(fed.url("A", "/app/"), headers=bearer(tok)).status == 401, 15,
          what="A refuses the revoked key's token (told by the primary)")
    tok2 = fed.client_token(svc, secret)
    ok(jwt_header(tok2)["kid"] != kid, "a new key signs")
    until(lambda: get(fed.url("A", "/app/"), headers=bearer(tok2)).status == 200, 5, what="the new key's token accepted")
    fed.finish()


if __name__ == "__main__":
    run([test_refresh_on_ask_rate_limited, test_dropped_key_stops_verifying, test_revoked_key_stops_verifying])
