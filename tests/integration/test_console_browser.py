"""The consoles in a real browser: starts a primary with an administrator and a user, then runs tests/browser/console.mjs
(headless Debian Chromium via playwright-core): a client made with the seed's form signs the user in at a relying party
the script runs, Force/Auto switched in the form changes the consent page, the user revokes the app on /account/ and its
refresh token stops working, every /admin/ path is 403 for the user, a change without its CSRF token or with a wrong
one changes nothing. Screenshots of each console page go to <build>/browser-artifacts/console. Without Chromium or the
npm driver it skips, except under CI, where it fails."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_browser import BROWSER_DIR, CHROMIUM, in_ci, missing_pieces  # noqa: E402
from hubtest import BUILD_DIR, Node, free_port, ok, run  # noqa: E402

PASSWORD = "correct horse battery staple"


def test_consoles_in_a_browser():
    n = Node("primary", name="console-browser")
    n.hubctl("init", "--alg", "ES256")
    pw = os.path.join(n.dir, "pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    n.hubctl("user", "add", "root", "--email", "root@example.com", "--role", "System Manager", "--password-file", pw)
    n.hubctl("user", "add", "alice", "--email", "alice@example.com", "--full-name", "Alice Example", "--password-file", pw)
    n.start()
    artifacts = os.path.join(BUILD_DIR, "browser-artifacts")
    env = dict(os.environ, HUB_BROWSER_ARTIFACTS=artifacts, HUB_CHROMIUM=CHROMIUM)
    cmd = ["node", os.path.join(BROWSER_DIR, "console.mjs"), n.url, "root", PASSWORD, "alice", PASSWORD, "Alice Example",
           str(free_port())]
    try:
        p = subprocess.run(cmd, cwd=BROWSER_DIR, env=env, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"console.mjs did not finish within 300s:\n{e.stdout or ''}{e.stderr or ''}")
    for line in (p.stdout + p.stderr).splitlines():
        print("  console.mjs: " + line)
    ok(p.returncode == 0, f"console.mjs exited {p.returncode} (artifacts under {artifacts}/console)")
    for shot in ("admin-overview", "admin-settings", "admin-clients", "admin-client-new", "admin-client-edit",
                 "admin-client-secret", "admin-users", "admin-user", "admin-user-new", "admin-roles", "admin-nodes",
                 "admin-join-token", "admin-keys", "admin-audit", "account", "account-phone", "admin-forbidden", "consent",
                 "sign-in"):
        ok(os.path.getsize(os.path.join(artifacts, "console", shot + ".png")) > 0, f"screenshot {shot}")
    ok(n.stop() == 0, "the primary stopped cleanly")


if __name__ == "__main__":
    missing = missing_pieces()
    if missing:
        if in_ci():
            print("FAIL the browser test needs: " + "; ".join(missing))
            print("0 passed, 1 failed")
            sys.exit(1)
        print("skip: the browser test needs: " + "; ".join(missing))
        sys.exit(0)
    run([test_consoles_in_a_browser])
