"""systemd's notify protocol against a test socket: READY=1 once the node answers (after its listening line),
RELOADING=1 then READY=1 on SIGHUP, STOPPING=1 on SIGTERM; path and abstract sockets; a bad NOTIFY_SOCKET costs a
warning, never the node."""
import os
import signal
import socket
import time

from hubtest import Node, eq, get, ok, run, tmpdir


class Receiver:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"hub-notify-test-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            self.env = os.path.join(tmpdir("hub-notify-"), "notify")
            self.sock.bind(self.env)
        self.sock.settimeout(20)

    def next(self):
        """The next message as a dict of its assignments (fails after 20 s)."""
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.split("\n") if line)

    def pending(self):
        self.sock.settimeout(0.2)
        try:
            return self.sock.recv(4096)
        except (socket.timeout, BlockingIOError):
            return None
        finally:
            self.sock.settimeout(20)

    def close(self):
        self.sock.close()


def ready_node(receiver, name):
    n = Node("primary", name=name, env={"NOTIFY_SOCKET": receiver.env})
    n.hubctl("init")
    n.start(expect_ready=False)
    msg = receiver.next()
    # READY=1 means serving: the port answers now, and the listening line was written before the datagram
    eq(get(n.url + "/healthz").status, 200, "healthz right after READY=1")
    ok(n.wait_log("listening on", 5), "the listening line precedes READY=1")
    return n, msg


def check_lifecycle(abstract):
    r = Receiver(abstract)
    n, msg = ready_node(r, "notifyabs" if abstract else "notifypath")
    eq(msg.get("READY"), "1", f"first message is READY=1: {msg}")
    eq(msg.get("MAINPID"), str(n.proc.pid), "MAINPID is hubd's pid")
    ok(n.url in msg.get("STATUS", ""), f"STATUS names the public URL: {msg}")
    eq(r.pending(), None, "nothing else before a signal")

    n.proc.send_signal(signal.SIGHUP)
    msg = r.next()
    eq(msg.get("RELOADING"), "1", f"SIGHUP: RELOADING=1 first: {msg}")
    ok(msg.get("MONOTONIC_USEC", "").isdigit(), "with MONOTONIC_USEC")
    eq(r.next().get("READY"), "1", "then READY=1 again")
    ok(n.wait_log("SIGHUP: no node.tls"), "a node without TLS says there was nothing to reload")
    eq(get(n.url + "/healthz").status, 200, "still serving after SIGHUP")
    ok(n.proc.poll() is None, "SIGHUP did not end the node")

    n.proc.send_signal(signal.SIGTERM)
    eq(r.next().get("STOPPING"), "1", "STOPPING=1 on SIGTERM")
    eq(n.proc.wait(20), 0, "exit code 0")
    eq(r.pending(), None, "nothing after STOPPING=1")
    n.stop()
    r.close()


def test_path_socket():
    check_lifecycle(abstract=False)


def test_abstract_socket():
    check_lifecycle(abstract=True)


def test_sigint_also_says_stopping():
    r = Receiver()
    n, msg = ready_node(r, "notifyint")
    n.proc.send_signal(signal.SIGINT)
    eq(r.next().get("STOPPING"), "1", "STOPPING=1 on SIGINT")
    eq(n.proc.wait(20), 0, "exit code 0")
    n.stop()
    r.close()


def test_bad_notify_socket_is_only_a_warning():
    gone = os.path.join(tmpdir("hub-notify-"), "nobody-listens")
    for value in ["relative/notify", gone, "@", "vsock:2:1234", "/" + "a" * 200]:
        n = Node("primary", name="notifybad", env={"NOTIFY_SOCKET": value})
        n.hubctl("init")
        n.start()
        eq(get(n.url + "/healthz").status, 200, f"serving with NOTIFY_SOCKET={value[:40]!r}")
        ok(n.wait_log("cannot notify the service manager"), f"a warning for NOTIFY_SOCKET={value[:40]!r}")
        eq(n.stop(), 0, "clean stop")


if __name__ == "__main__":
    run([test_path_socket, test_abstract_socket, test_sigint_also_says_stopping, test_bad_notify_socket_is_only_a_warning])
