"""cmake --install (SPEC §12): into a DESTDIR with prefix /usr the FHS layout, exactly these files with these modes;
the example configs pass `hubd --check` with absolute /etc/hub and /var/lib/hub paths matching the unit; the unit is
Type=notify, sandboxed, under its own user, and passes `systemd-analyze verify` where it was installed (man pages
found); installed programs run."""
import os
import re
import shutil
import stat
import subprocess

from hubtest import BUILD_DIR, eq, ok, run, tmpdir

EXPECTED = {
    "usr/bin/hubd": 0o755,
    "usr/bin/hubctl": 0o755,
    "usr/share/man/man8/hubd.8": 0o644,
    "usr/share/man/man8/hubctl.8": 0o644,
    "usr/share/man/man5/hub.yaml.5": 0o644,
    "etc/hub/primary.yaml": 0o644,
    "etc/hub/secondary.yaml": 0o644,
    "usr/lib/systemd/system/hubd@.service": 0o644,
}


def install(prefix, destdir=None):
    env = dict(os.environ)
    env.pop("DESTDIR", None)
    if destdir is not None:
        env["DESTDIR"] = destdir
    p = subprocess.run(["cmake", "--install", BUILD_DIR, "--prefix", prefix], capture_output=True, text=True, env=env,
                       timeout=120)
    eq(p.returncode, 0, f"cmake --install: {p.stderr}")


def files_under(root):
    out = {}
    for d, _, names in os.walk(root):
        for n in names:
            path = os.path.join(d, n)
            out[os.path.relpath(path, root)] = stat.S_IMODE(os.lstat(path).st_mode)
    return out


def unit_settings(path):
    settings = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(("#", "[")):
                k, _, v = line.partition("=")
                settings.setdefault(k, []).append(v)
    return settings


def test_layout_under_usr():
    dest = tmpdir("hub-install-")
    install("/usr", dest)
    found = files_under(dest)
    eq(sorted(found), sorted(EXPECTED), "exactly the installed files")
    for path, mode in EXPECTED.items():
        eq(oct(found[path]), oct(mode), f"mode of {path}")
    hubd = os.path.join(dest, "usr/bin/hubd")
    for prog in ("hubd", "hubctl"):
        p = subprocess.run([os.path.join(dest, "usr/bin", prog), "--help"], capture_output=True, text=True, timeout=30)
        eq(p.returncode, 0, f"installed {prog} runs")

    unit = unit_settings(os.path.join(dest, "usr/lib/systemd/system/hubd@.service"))
    eq(unit["ExecStart"], ["/usr/bin/hubd -c /etc/hub/%i.yaml"], "ExecStart: the installed hubd, /etc/hub/NAME.yaml")
    for key, value in {"Type": "notify", "User": "hub", "Group": "hub", "StateDirectory": "hub/%i", "Restart": "on-failure",
                       "ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes", "ProtectHome": "yes",
                       "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE", "StateDirectoryMode": "0700"}.items():
        eq(unit.get(key), [value], f"unit {key}")
    ok("@system-service" in unit.get("SystemCallFilter", []), "a system-call filter")
    ok(unit.get("ExecReload") == ["/bin/kill -HUP $MAINPID"], "reload is SIGHUP")

    for node in ("primary", "secondary"):
        conf = os.path.join(dest, f"etc/hub/{node}.yaml")
        with open(conf) as f:
            text = f.read()
        ok("./" not in text, f"{node}.yaml: no relative path left")
        eq(re.findall(r"^\s*data_dir:\s*(\S+)", text, re.M), [f"/var/lib/hub/{node}"],
           f"{node}.yaml: data_dir is the unit's StateDirectory for hubd@{node}")
        eq(re.findall(r"^\s*name:\s*(\S+)", text, re.M), [node], f"{node}.yaml: node.name is the instance name")
        p = subprocess.run([hubd, "--check", "-c", conf], capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, HUB_JOIN_TOKEN=""))
        eq((p.returncode, p.stderr), (0, ""), f"hubd --check {node}.yaml")
    with open(os.path.join(dest, "etc/hub/secondary.yaml")) as f:
        ok("join_token_file: /etc/hub/secondary.join-token" in f.read(), "the join token file under /etc/hub")


def test_unit_verifies_where_installed():
    """No DESTDIR: ExecStart names a program that exists, so systemd-analyze can check everything it checks."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("systemd-analyze is not installed: the unit is not verified")
        return
    prefix = os.path.join(tmpdir("hub-prefix-"), "hub")
    install(prefix)
    unit = os.path.join(prefix, "lib/systemd/system/hubd@.service")
    eq(unit_settings(unit)["ExecStart"], [f"{prefix}/bin/hubd -c /etc/hub/%i.yaml"], "ExecStart follows --prefix")
    ok(os.path.exists(os.path.join(prefix, "etc/hub/primary.yaml")), "configs under PREFIX/etc/hub")
    p = subprocess.run([analyze, "verify", unit], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, MANPATH=os.path.join(prefix, "share/man")))
    eq((p.returncode, p.stdout + p.stderr), (0, ""), "systemd-analyze verify, Documentation= pages included")
    # the check has teeth: a misspelt directive and a missing program are reported
    bad = os.path.join(tmpdir("hub-badunit-"), "hubd@.service")
    with open(unit) as f, open(bad, "w") as g:
        g.write(f.read().replace("ProtectSystem=strict", "ProtectSystem=strict\nProtectSytem=strict")
                .replace(f"{prefix}/bin/hubd", f"{prefix}/bin/nohubd"))
    p = subprocess.run([analyze, "verify", "--man=no", bad], capture_output=True, text=True, timeout=120)
    ok("ProtectSytem" in p.stderr and "nohubd" in p.stderr, f"systemd-analyze reports errors: {p.stderr}")


if __name__ == "__main__":
    run([test_layout_under_usr, test_unit_verifies_where_installed])
