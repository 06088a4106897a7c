"""hubctl run by root on a data dir that belongs to a service user (as /var/lib/hub/NAME belongs to hub) is refused
before it writes anything: a key file it made would be root's, mode 0600, and the node could not read it. The dir's
own user, and root on a root-owned dir, work as before. Needs root to change owners; says so and passes otherwise."""
import os
import pwd
import shutil
import subprocess

from hubtest import HUBCTL, eq, hubctl, ok, run, tmpdir


def tree_owner(path, uid, gid):
    for d, dirs, files in os.walk(path):
        os.chown(d, uid, gid)
        for n in files:
            os.chown(os.path.join(d, n), uid, gid)


def listing(path):
    return sorted(os.path.relpath(os.path.join(d, n), path) for d, _, names in os.walk(path) for n in names)


def test_root_refused_on_a_service_users_dir():
    if os.geteuid() != 0:
        print("not root: owners cannot be changed here; nothing checked")
        return
    svc = pwd.getpwnam("nobody")
    parent = tmpdir("hub-owner-")
    os.chmod(parent, 0o755)
    data = os.path.join(parent, "data")
    hubctl(data, "init", "--alg", "ES256")
    hubctl(data, "user", "add", "alice", "--email", "alice@example.org", input="a fine password\n")
    tree_owner(data, svc.pw_uid, svc.pw_gid)
    before = listing(data)
    for args in (["keys", "rotate"], ["user", "list"], ["user", "list", "--json"], ["init"],
                 ["client", "add", "--app-name", "x", "--redirect-uris", "https://x.example/cb"],
                 ["user", "passwd", "alice", "--password-file", "/dev/null"]):
        p = hubctl(data, *args, check=False)
        eq(p.returncode, 1, f"hubctl {' '.join(args)} as root on nobody's dir")
        ok(f"belongs to user {svc.pw_name}" in p.stderr and f"runuser -u {svc.pw_name} --" in p.stderr,
           f"the message says whose it is and what to run: {p.stderr!r}")
        eq(p.stdout, "", "nothing printed (no secret made)")
    eq(listing(data), before, "no file was added")
    for d, dirs, files in os.walk(data):
        for n in dirs + files:
            eq(os.stat(os.path.join(d, n)).st_uid, svc.pw_uid, f"{n} still belongs to {svc.pw_name}")
    # the dir's own user: works, and what it writes is its own (a copy of hubctl the user can reach: the build dir may
    # sit under root's 0700 home)
    own = os.path.join(parent, "hubctl")
    shutil.copy(HUBCTL, own)
    os.chmod(own, 0o755)
    p = subprocess.run(["runuser", "-u", svc.pw_name, "--", own, "-d", data, "keys", "rotate"], capture_output=True,
                       text=True, timeout=60)
    eq(p.returncode, 0, f"hubctl as the owner: {p.stderr}")
    new = [n for n in listing(data) if n not in before]
    ok(new and all(os.stat(os.path.join(data, n)).st_uid == svc.pw_uid for n in new), f"new files are the owner's: {new}")
    # root on a root-owned dir: unchanged
    tree_owner(data, 0, 0)
    eq(hubctl(data, "user", "list", check=False).returncode, 0, "root on root's dir")
    eq(hubctl(data, "--help", check=False).returncode, 0, "help needs no owner check")


if __name__ == "__main__":
    run([test_root_refused_on_a_service_users_dir])
