"""Real browser end to end: starts a primary and a secondary in front of tools/demo-app.py, then
runs tests/browser/signin.mjs (headless Debian Chromium via playwright-core) through sign-in,
consent and the app. Without Chromium or the npm driver it skips, except under CI, where it fails."""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from federation import PASSWORD, DemoApp, Federation  # noqa: E402
from hubtest import BUILD_DIR, SOURCE_DIR, ok, run  # noqa: E402

BROWSER_DIR = os.path.join(SOURCE_DIR, "tests", "browser")
CHROMIUM = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")


def missing_pieces():
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if shutil.which("node") is None:
        missing.append("node (apt-get install nodejs)")
    if not os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        missing.append("tests/browser/node_modules (tools/bootstrap runs npm ci there)")
    return missing


def in_ci():
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def test_browser_signin_through_secondary():
    fed = Federation(names=("A",), upstream=DemoApp("Browser test app"))
    # a consent page on the way: A's client asks (nodes joined with a join token skip it by default)
    fed.primary.hubctl("client", "update", fed.node_id("A"), "--no-skip-authorization")
    artifacts = os.path.join(BUILD_DIR, "browser-artifacts")
    env = dict(os.environ, HUB_BROWSER_ARTIFACTS=artifacts, HUB_CHROMIUM=CHROMIUM)
    try:
        p = subprocess.run(["node", os.path.join(BROWSER_DIR, "signin.mjs"), fed.url("A", "/app/"), "alice", PASSWORD,
                            "Alice Example"], cwd=BROWSER_DIR, env=env, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"signin.mjs did not finish within 120s:\n{e.stdout or ''}{e.stderr or ''}")
    for line in (p.stdout + p.stderr).splitlines():
        print("  signin.mjs: " + line)
    ok(p.returncode == 0, f"signin.mjs exited {p.returncode} (artifacts under {artifacts})")
    fed.finish()


if __name__ == "__main__":
    missing = missing_pieces()
    if missing:
        if in_ci():
            print("FAIL the browser test needs: " + "; ".join(missing))
            print("0 passed, 1 failed")
            sys.exit(1)
        print("skip: the browser test needs: " + "; ".join(missing))
        sys.exit(0)
    run([test_browser_signin_through_secondary])
