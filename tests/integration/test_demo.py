"""tools/demo: starts with the binaries of this build on free ports, prints its URLs and the demo
user's password, signs that user in through a secondary, and on Ctrl-C (SIGINT to its process
group, as a terminal sends it) stops every process it started and exits 0."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from federation import forms_of, until, walk  # noqa: E402
from hubtest import BUILD_DIR, SOURCE_DIR, Browser, eq, get, ok, run, tmpdir  # noqa: E402


def free_base():
    """A base port with base..base+2 and base+921..base+922 all free."""
    import socket
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if not 20000 <= base <= 60000:
            continue
        try:
            socks = []
            for p in (base, base + 1, base + 2, base + 921, base + 922):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free port range")


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def group_pids(pgid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def test_demo_runs_and_stops_on_ctrl_c():
    base = free_base()
    data = os.path.join(tmpdir("hub-demo-"), "demo")
    env = dict(os.environ, HUB_DEMO_PORT_BASE=str(base), HUB_DEMO_DIR=data, HUB_DEMO_NO_BUILD="1",
               HUB_DEMO_BUILD_DIR=BUILD_DIR)
    out_path = os.path.join(os.path.dirname(data), "demo.out")
    out = open(out_path, "w")
    # a terminal's foreground job: SIGINT at its default, its own process group
    proc = subprocess.Popen([os.path.join(SOURCE_DIR, "tools", "demo")], cwd=SOURCE_DIR, env=env, stdin=subprocess.DEVNULL,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        def banner():
            t = open(out_path).read()
            return t if "Press Ctrl-C" in t or proc.poll() is not None else None

        text = until(banner, 40, what="the demo's banner")
        ok(proc.poll() is None, "demo still running after its banner:\n" + text)
        m = re.search(r"Sign in as:\s+(\S+)\s+/\s+(\S+)", text)
        ok(m, "credentials in the banner:\n" + text)
        user, password = m.groups()
        for port, path in ((base + 1, "/app/"), (base + 2, "/app/"), (base, "/.well-known/openid-configuration")):
            ok(f"http://127.0.0.1:{port}{path}" in text, f"URL for port {port} printed:\n{text}")
        eq(get(f"http://127.0.0.1:{base}/healthz").status, 200, "primary up")
        b = Browser()
        v = walk(b, f"http://127.0.0.1:{base + 2}/app/", user=user, password=password)
        eq(v.r.status, 200, f"signed in at app two: {v.r.text[:300]}")
        ok("Hello, Demo User" in v.r.text, "app two greets the demo user")
        v = walk(b, f"http://127.0.0.1:{base + 1}/app/")
        ok("Hello, Demo User" in v.r.text and v.passwords == 0, "single sign-on at app one")
        # the app's Sign out button lands on the node's signed-out page, not on a 404
        out_form = [f for f in forms_of(v.r) if f["action"] == "/auth/logout"]
        ok(out_form and out_form[0]["method"] == "post", f"Sign out form on the app page: {forms_of(v.r)}")
        r = b.post(f"http://127.0.0.1:{base + 1}/auth/logout", form={})
        confirm = [f for f in forms_of(r) if f["action"] == "/auth/logout" and f["method"] == "post"]
        ok(r.status == 200 and confirm, f"the node asks to confirm the sign-out: {r.status} {r.text[:300]}")
        r = b.post(f"http://127.0.0.1:{base + 1}/auth/logout", form={n: v for n, _, v in confirm[0]["inputs"] if n})
        eq((r.status, r.url), (200, f"http://127.0.0.1:{base + 1}/auth/signed-out"), f"Sign out lands: {r.text[:300]}")
        ok("You are signed out" in r.text and 'href="/auth/login"' in r.text, "signed-out page: " + r.text[:300])
        pids = group_pids(proc.pid)
        ok(len(pids) >= 6, f"demo script + 2 apps + 3 nodes running: {pids}")
        os.killpg(proc.pid, signal.SIGINT)
        rc = proc.wait(30)
        text = open(out_path).read()
        eq(rc, 0, "demo exit code after Ctrl-C:\n" + text[-2000:])
        left = [p for p in pids if alive(p)]
        time.sleep(0.2)
        left = [p for p in left if alive(p)]
        eq(left, [], "processes left after Ctrl-C")
        logs = "".join(open(os.path.join(data, f)).read() for f in os.listdir(data) if f.endswith(".log"))
        ok("Assertion" not in logs and "Sanitizer" not in logs, "nodes stopped cleanly:\n" +
           "\n".join(l for l in logs.splitlines() if "Assertion" in l or "Sanitizer" in l))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        out.close()


if __name__ == "__main__":
    run([test_demo_runs_and_stops_on_ctrl_c])
