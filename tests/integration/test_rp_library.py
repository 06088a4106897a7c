"""Unmodified OIDC relying-party libraries (openid-client + jose, tests/rp/rp.js) against a real primary, once per
signing algorithm: discovery, code flow with PKCE, id_token and RFC 9068 access-token validation, userinfo, refresh with
rotation, introspection, revocation and client_credentials."""
import os
import re
import shutil
import subprocess
import sys

from hubtest import SOURCE_DIR, Node, free_port, ok, run, tmpdir

RP_DIR = os.path.join(SOURCE_DIR, "tests", "rp")
PASSWORD = "correct horse battery staple"


def creds(out):
    cid = re.search(r"client_id:\s*(\S+)", out)
    sec = re.search(r"client_secret:\s*(\S+)", out)
    return cid.group(1) if cid else None, sec.group(1) if sec else None


def rp_flow(alg, skip_authorization):
    n = Node("primary", name=f"primary-{alg}", conf={"primary": {"signing_alg": alg}})
    n.hubctl("init", "--alg", alg)
    n.hubctl("role", "add", "Service")
    pw = os.path.join(tmpdir("rp-"), "password")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    n.hubctl("user", "add", "alice", "--email", "alice@example.com", "--full-name", "Alice Doe", "--password-file", pw)
    rp_port = free_port()
    redirect = f"http://127.0.0.1:{rp_port}/cb"
    signed_out = f"http://127.0.0.1:{rp_port}/signed-out"
    bcl = f"http://127.0.0.1:{rp_port}/bcl"  # rp.js listens there for the back-channel logout
    consent = ["--skip-authorization"] if skip_authorization else ["--no-skip-authorization"]
    web = creds(n.hubctl("client", "add", "--app-name", "rp", "--redirect-uris", redirect, "--scopes",
                         "openid profile email roles", "--post-logout-redirect-uris", signed_out, *consent).stdout)
    spa = creds(n.hubctl("client", "add", "--app-name", "rp-spa", "--redirect-uris", redirect, "--scopes",
                         "openid profile email roles", "--auth-method", "none", *consent).stdout)
    svc = creds(n.hubctl("client", "add", "--app-name", "rp-svc", "--grant-type", "client_credentials", "--scopes", "read",
                         "--role", "Service", "--redirect-uris", "").stdout)
    imp = creds(n.hubctl("client", "add", "--app-name", "rp-implicit", "--grant-type", "implicit", "--response-type", "token",
                         "--redirect-uris", redirect, "--scopes", "openid profile", "--auth-method", "none", *consent).stdout)
    join = n.hubctl("node", "join-token", "--name", f"rp-{alg}").stdout.strip()
    ok(web[0] and web[1] and spa[0] and svc[0] and svc[1] and imp[0] and join, "clients created")
    n.start()
    cmd = ["node", os.path.join(RP_DIR, "rp.js"), "--issuer", n.url, "--alg", alg, "--username", "alice",
           "--password-file", pw, "--client-id", web[0], "--client-secret", web[1], "--public-client-id", spa[0],
           "--redirect-uri", redirect, "--post-logout-redirect-uri", signed_out,
           "--expect-consent", "no" if skip_authorization else "yes", "--cc-client-id", svc[0], "--cc-client-secret", svc[1],
           "--implicit-client-id", imp[0], "--join-token", join, "--backchannel-logout-uri", bcl]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    print(p.stdout, end="", flush=True)
    if p.returncode != 0:
        raise AssertionError(f"rp.js ({alg}) exited {p.returncode}:\n{p.stderr}")
    ok(f"steps passed ({alg})" in p.stdout, "rp.js reported success")
    ok(n.stop() == 0, "primary stopped cleanly")


def test_rs256():
    rp_flow("RS256", skip_authorization=False)


def test_es256():
    rp_flow("ES256", skip_authorization=True)


def test_eddsa():
    rp_flow("EdDSA", skip_authorization=False)


def main():
    if shutil.which("node") is None or not os.path.isdir(os.path.join(RP_DIR, "node_modules", "openid-client")):
        if os.environ.get("CI"):
            print("FAIL: node or tests/rp/node_modules missing (run tools/bootstrap)", flush=True)
            sys.exit(1)
        print("skip: node or tests/rp/node_modules missing (run tools/bootstrap)", flush=True)
        sys.exit(0)
    run([test_rs256, test_es256, test_eddsa])


if __name__ == "__main__":
    main()
