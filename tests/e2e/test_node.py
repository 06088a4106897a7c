"""A node starts, answers /healthz and /metrics, rejects what it must, and stops cleanly."""
import os
import signal
import socket
import time
import subprocess

from hubtest import HUBD, Node, eq, get, ok, post, request, run, tmpdir


def test_healthz_metrics_and_sigterm():
    n = Node().start()
    r = get(n.url + "/healthz")
    eq(r.status, 200, "healthz status")
    eq(r.json()["status"], "ok", "healthz body")
    ok(r.header("content-length") is not None, "healthz has Content-Length")
    # a request is counted when h2o disposes it, just after its response went out (maybe on the
    # other loop thread): poll briefly
    for _ in range(50):
        r = get(n.url + "/metrics")
        eq(r.status, 200, "metrics status")
        if 'hub_http_requests_total{route="/healthz",status="200"} 1' in r.text:
            break
        time.sleep(0.05)
    ok('hub_http_requests_total{route="/healthz",status="200"} 1' in r.text, "healthz counted in metrics:\n" + r.text)
    ok("hub_http_request_duration_seconds_bucket" in r.text, "latency histogram present")
    eq(get(n.url + "/no/such/path").status, 404, "unknown path")
    eq(n.stop(), 0, "exit code after SIGTERM")


def test_sigint_stops_too():
    n = Node().start()
    n.proc.send_signal(signal.SIGINT)
    eq(n.proc.wait(20), 0, "exit code after SIGINT")


def test_body_limit():
    n = Node().start()
    # h2o answers from the Content-Length alone, before the body is sent
    with socket.create_connection(("127.0.0.1", n.port), timeout=10) as s:
        s.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2097152\r\n\r\n")
        status = s.recv(4096).split(b"\r\n", 1)[0]
    ok(b" 413 " in status, f"oversized body: {status!r}")
    eq(get(n.url + "/healthz").status, 200, "still up")
    eq(n.stop(), 0, "exit")


def test_idle_keepalive_at_stop():
    """An idle keep-alive connection must not stop a graceful exit (it used to abort)."""
    n = Node().start()
    conns = []
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", n.port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        ok(b" 200 " in s.recv(4096).split(b"\r\n", 1)[0], "answered")
        conns.append(s)
    eq(n.stop(), 0, "exit code with idle keep-alive connections")
    for s in conns:
        s.close()


def test_query_not_logged():
    n = Node().start()
    get(n.url + "/healthz?code=SECRETCODE123")
    n.stop()
    ok("SECRETCODE123" not in open(n.log_path).read(), "query string must not reach the log")


def test_check_mode():
    d = tmpdir()
    good = Node()
    path = good.write_conf()
    p = subprocess.run([HUBD, "--check", "-c", path], capture_output=True, text=True)
    eq(p.returncode, 0, "valid config: " + p.stderr)
    for example in ("primary", "secondary"):
        path = os.path.join(os.environ.get("HUB_SOURCE_DIR", "."), "conf", example + ".yaml")
        p = subprocess.run([HUBD, "--check", "-c", path], capture_output=True, text=True)
        eq(p.returncode, 0, f"conf/{example}.yaml is valid: {p.stderr}")
    bad = os.path.join(d, "bad.yaml")
    with open(bad, "w") as f:
        f.write("node:\n  role: primary\n  lisen: 1\n")
    p = subprocess.run([HUBD, "--check", "-c", bad], capture_output=True, text=True)
    eq(p.returncode, 2, "invalid config exit")
    ok(f"{bad}:3: node.lisen" in p.stderr, "names file, line and key: " + p.stderr)




if __name__ == "__main__":
    run([test_healthz_metrics_and_sigterm, test_sigint_stops_too, test_body_limit, test_idle_keepalive_at_stop, test_query_not_logged, test_check_mode])
