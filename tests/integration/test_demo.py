"""tools/demo: starts with the binaries of this build on free ports, prints its URLs and the demo
user's password, signs that user in through a secondary, and stops every process it started on
Ctrl-C (SIGINT to its process group, as a terminal sends it), exiting 0 with "demo: stopped",
whichever process sees the signal first; also on SIGINT or SIGTERM to the script alone or SIGTERM
to the group, when the script inherited SIGINT ignored, and when one node is stopped alone. A
process that dies on its own still ends the demo with "exited unexpectedly" and status 1."""
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
    """A base port with base..base+2 and base+921..base+922 all free, below the kernel's ephemeral range: the ports the
    other tests get from bind(0) and every outgoing connection's local port come from that range, so one of them could
    take a demo port between this check and the demo's start."""
    import random
    import socket
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    for _ in range(50):
        base = random.randrange(10000, max(10001, low - 923))
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


def proc_stat(pid):
    """(state, pgid) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0], int(fields[2])
    except (OSError, IndexError, ValueError):
        return None


def alive(pid):
    st = proc_stat(pid)
    return st is not None and st[0] != "Z"


def group_pids(pgid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[1] == pgid and st[0] != "Z":
                out.append(int(d))
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Demo:
    """tools/demo as a terminal's foreground job: its own process group, SIGINT at its default. With
    sigint_ignored, the script inherits SIGINT ignored, as a non-interactive shell's background job does
    (bash cannot trap it then)."""

    def __init__(self, sigint_ignored=False):
        self.base = free_base()
        self.data = os.path.join(tmpdir("hub-demo-"), "demo")
        env = dict(os.environ, HUB_DEMO_PORT_BASE=str(self.base), HUB_DEMO_DIR=self.data, HUB_DEMO_NO_BUILD="1",
                   HUB_DEMO_BUILD_DIR=BUILD_DIR)
        self.out_path = os.path.join(os.path.dirname(self.data), "demo.out")
        self.out = open(self.out_path, "w")
        disposition = signal.SIG_IGN if sigint_ignored else signal.SIG_DFL
        self.proc = subprocess.Popen([os.path.join(SOURCE_DIR, "tools", "demo")], cwd=SOURCE_DIR, env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, disposition))
        self.pids = []

    def text(self):
        with open(self.out_path) as f:
            return f.read()

    def wait_banner(self):
        def banner():
            t = self.text()
            return t if "Press Ctrl-C" in t or self.proc.poll() is not None else None

        text = until(banner, 40, what="the demo's banner")
        ok(self.proc.poll() is None, "demo still running after its banner:\n" + text)
        # the script's long-lived children (a short-lived cat or sleep of the script may be there too); an app
        # started in the background may still be a forked shell, not yet python, when the banner is out
        def long_lived():
            found = [p for p in group_pids(self.proc.pid) if re.search(r"/hubd |/demo-app\.py ", cmdline(p))]
            return found if len(found) == 5 else None

        children = until(long_lived, 20, what="2 apps + 3 nodes running")
        self.pids = [self.proc.pid] + children
        return text

    def pid_of(self, needle):
        """The process of the demo's group whose command line contains needle (e.g. "app-two.yaml")."""
        found = [p for p in self.pids if p != self.proc.pid and needle in cmdline(p)]
        eq(len(found), 1, f"processes running {needle}")
        return found[0]

    def node_pids(self):
        return [p for p in self.pids if p != self.proc.pid and ".yaml" in cmdline(p)]

    def others(self):
        return [p for p in self.pids if p != self.proc.pid]

    def finish(self, what):
        """Waits for the demo to end; returns (exit status, output) once no process it started is left."""
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{what}: the demo did not end within 30s:\n{self.text()[-2000:]}")
        text = self.text()
        # the processes the script started are its children: it reaps them before it exits
        eq([p for p in self.pids if alive(p)], [], f"{what}: processes left")
        logs = "".join(open(os.path.join(self.data, f)).read() for f in os.listdir(self.data) if f.endswith(".log"))
        bad = [ln for ln in logs.splitlines() if "Assertion" in ln or "Sanitizer" in ln]
        eq(bad, [], f"{what}: nodes stopped cleanly")
        return rc, text

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for p in self.pids:
            if alive(p):
                os.kill(p, signal.SIGKILL)
        self.out.close()


def expect_stopped(demo, what):
    rc, text = demo.finish(what)
    tail = text[text.find("Press Ctrl-C"):]
    ok("unexpectedly" not in text, f"{what}: no process called unexpected:\n{tail}")
    eq(rc, 0, f"{what}: exit status:\n{tail}")
    eq([ln for ln in tail.splitlines() if ln.startswith("demo:")], ["demo: stopping", "demo: stopped"],
       f"{what}: what the demo says:\n{tail}")


def test_demo_runs_and_stops_on_ctrl_c():
    demo = Demo()
    try:
        text = demo.wait_banner()
        base = demo.base
        m = re.search(r"Sign in as:\s+(\S+)\s+/\s+(\S+)", text)
        ok(m, "credentials in the banner:\n" + text)
        user, password = m.groups()
        for port, path in ((base + 1, "/app/"), (base + 2, "/app/"), (base, "/.well-known/openid-configuration")):
            ok(f"http://127.0.0.1:{port}{path}" in text, f"URL for port {port} printed:\n{text}")
        eq(get(f"http://127.0.0.1:{base}/healthz").status, 200, "primary up")
        # the admin console's URL and an administrator's credentials
        m = re.search(r"Admin console:\s+(\S+)\s+\(System Manager:\s+(\S+)\s+/\s+(\S+)\)", text)
        ok(m and m.group(1) == f"http://127.0.0.1:{base}/admin/", "the admin console in the banner:\n" + text)
        ok(f"http://127.0.0.1:{base}/account/" in text, "the account console in the banner:\n" + text)
        a = Browser()
        v = walk(a, m.group(1), user=m.group(2), password=m.group(3))
        eq(v.r.status, 200, f"the administrator reaches the admin console: {v.r.text[:300]}")
        ok("OAuth Provider Settings" in v.r.text, "the admin console's overview")
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
        os.killpg(demo.proc.pid, signal.SIGINT)
        expect_stopped(demo, "Ctrl-C")
    finally:
        demo.close()


def nodes_first(demo):
    """The Ctrl-C reaches the nodes and apps, and the script only once a node has exited: the order the
    script cannot count on."""
    nodes = demo.node_pids()
    for p in demo.others():
        os.kill(p, signal.SIGINT)
    until(lambda: any(not alive(p) for p in nodes), 20, what="a node exited")
    time.sleep(1)  # well after the node's exit: not a speed assertion, only an order
    if demo.proc.poll() is None:
        os.kill(demo.proc.pid, signal.SIGINT)


# (what, the script inherits SIGINT ignored, how the stop is sent)
STOPS = [
    ("Ctrl-C, the script's SIGINT ignored", True, lambda d: os.killpg(d.proc.pid, signal.SIGINT)),
    ("Ctrl-C seen by the nodes first", False, nodes_first),
    ("SIGINT to the script alone", False, lambda d: os.kill(d.proc.pid, signal.SIGINT)),
    ("SIGTERM to the script alone", False, lambda d: os.kill(d.proc.pid, signal.SIGTERM)),
    ("SIGTERM to the process group", False, lambda d: os.killpg(d.proc.pid, signal.SIGTERM)),
    ("SIGTERM to one secondary", False, lambda d: os.kill(d.pid_of("app-two.yaml"), signal.SIGTERM)),
    ("SIGINT to the primary", False, lambda d: os.kill(d.pid_of("primary.yaml"), signal.SIGINT)),
]


def test_demo_stops_cleanly_however_the_signal_comes():
    failed = []
    for what, ignored, send in STOPS:
        demo = Demo(sigint_ignored=ignored)
        try:
            demo.wait_banner()
            send(demo)
            expect_stopped(demo, what)
            print(f"  stopped cleanly: {what}", flush=True)
        except AssertionError as e:
            print(f"  FAILED: {e}", flush=True)
            failed.append(what)
        finally:
            demo.close()
    eq(failed, [], "stops that did not end cleanly")


# (what, the process killed, its name in the demo's message)
CRASHES = [
    ("a secondary killed", "app-two.yaml", "secondary app-two"),
    ("a demo app killed", "App two", "demo app two"),
]


def test_demo_reports_a_process_that_dies():
    for what, needle, name in CRASHES:
        demo = Demo()
        try:
            demo.wait_banner()
            os.kill(demo.pid_of(needle), signal.SIGKILL)
            rc, text = demo.finish(what)
            eq(rc, 1, f"{what}: exit status:\n{text[-1500:]}")
            ok(f"demo: {name} exited unexpectedly (status 137)" in text, f"{what}: named in the output:\n{text[-1500:]}")
            ok("demo: stopped" not in text, f"{what}: not reported as a clean stop:\n{text[-1500:]}")
        finally:
            demo.close()
        print(f"  reported: {what}", flush=True)


if __name__ == "__main__":
    run([test_demo_runs_and_stops_on_ctrl_c, test_demo_stops_cleanly_however_the_signal_comes,
         test_demo_reports_a_process_that_dies])
