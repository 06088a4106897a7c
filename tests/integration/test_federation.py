"""Federation end to end: a primary, two secondaries joined with join tokens and an upstream app,
all real processes on loopback (SPEC §§2-8)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from federation import Federation, bearer, walk  # noqa: E402
from hubtest import Browser, eq, get, ok, run  # noqa: E402


def test_single_sign_on_across_secondaries():
    fed = Federation()
    b = Browser()
    v = walk(b, fed.url("A", "/app/hello?x=1"))
    doc = v.echo()
    eq(v.passwords, 1, "password prompts for the first secondary")
    eq(doc["path"].endswith("/hello?x=1"), True, f"upstream path {doc['path']}")
    eq(doc["headers"]["X-Hub-Email"], "alice@example.com", "X-Hub-Email")
    eq(doc["headers"]["X-Hub-Name"], "Alice Example", "X-Hub-Name")
    ok("Employee" in (doc["headers"]["X-Hub-Roles"] or ""), f"X-Hub-Roles {doc['headers']}")
    ok(doc["headers"]["X-Hub-Sub"] and "@" not in doc["headers"]["X-Hub-Sub"], "X-Hub-Sub is the opaque sub")
    v2 = walk(b, fed.url("B"))
    v2.echo()
    eq(v2.passwords, 0, "no second password prompt at the other secondary")
    eq(v2.echo()["headers"]["X-Hub-Sub"], doc["headers"]["X-Hub-Sub"], "same user at both")
    # the local sessions now answer without the primary
    for n in ("A", "B"):
        r = b.get(fed.url(n, "/auth/me"), headers={"Accept": "application/json"})
        eq(r.status, 200, f"/auth/me at {n}")
        eq(r.json().get("email"), "alice@example.com", f"/auth/me email at {n}")
    fed.finish()


if __name__ == "__main__":
    run([test_single_sign_on_across_secondaries])
