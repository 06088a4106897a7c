"""Revocation reaches a secondary (issue 10, item 3): hubctl user disable / del / passwd / roles --remove / role del on
the primary's data dir end the user's session at a real secondary within seconds, through the back-channel logout by
sub that the running primary delivers from its queue; other users keep theirs, and a new sign-in carries the new state."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from federation import Federation, until, walk  # noqa: E402
from hubtest import Browser, eq, ok, run  # noqa: E402

JSON = {"Accept": "application/json"}
NEW_PASSWORD = "a brand new password"

# (user, roles, hubctl arguments): one user per way of taking something away
EVENTS = [
    ("alice", ("Employee",), ("user", "disable", "alice")),
    ("carol", ("Employee",), ("user", "del", "carol")),
    ("dave", ("Employee",), ("user", "passwd", "dave", "--password-file", "{pw2}")),
    ("erin", ("Employee",), ("user", "roles", "erin", "--remove", "Employee")),
    ("frank", ("Employee", "Solo"), ("role", "del", "Solo")),
]


def me(b, fed):
    return b.get(fed.url("A", "/auth/me"), headers=JSON, follow=False)


def test_hubctl_changes_end_secondary_sessions():
    fed = Federation(names=("A",))
    pw2 = os.path.join(fed.primary.dir, "pw2")
    with open(pw2, "w") as f:
        f.write(NEW_PASSWORD + "\n")
    fed.primary.hubctl("role", "add", "Solo")
    for user, roles, _ in EVENTS:
        if user != "alice":
            fed.add_user(user, user.title(), *roles)
    browsers = {}
    for user, _, _ in EVENTS + [("bob", (), ())]:
        b = Browser()
        walk(b, fed.url("A"), user=user).echo()
        eq(me(b, fed).status, 200, f"{user} signed in at A")
        browsers[user] = b
    ended = []
    for user, _, args in EVENTS:
        fed.primary.hubctl(*(a.format(pw2=pw2) for a in args))
        until(lambda: me(browsers[user], fed).status == 401, 5, what=f"{' '.join(args)}: {user}'s session at A ended")
        ended.append(user)
        for other, b in browsers.items():
            if other not in ended:
                eq(me(b, fed).status, 200, f"after {' '.join(args)}: {other} still signed in at A")
    ok(fed["A"].wait_log("back-channel logout ended 1 local session", 2), "A logs the back-channel logouts")
    # the primary's sessions ended too, so a new sign-in asks for a password and carries the new state
    v = walk(Browser(), fed.url("A", "/auth/login?next=/staff/"), user="dave", password=NEW_PASSWORD)
    eq(v.passwords, 1, "dave signs in again with the new password")
    v.echo()
    b = Browser()
    walk(b, fed.url("A"), user="erin").echo()
    eq(b.get(fed.url("A", "/staff/x")).status, 403, "erin, without Employee now, is refused the staff route")
    v = walk(Browser(), fed.url("A"), user="alice")
    ok(v.r.status != 200 or "application/json" not in (v.r.header("content-type") or ""),
       f"disabled alice cannot sign in again: {v.r.status}")
    eq(me(browsers["bob"], fed).status, 200, "bob, untouched, is still signed in")
    fed.finish()


if __name__ == "__main__":
    run([test_hubctl_changes_end_secondary_sessions])
