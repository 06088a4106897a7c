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

def configured():
    """The install directories this build was configured with (Debian's build makes some absolute)."""
    dirs = {"CMAKE_INSTALL_BINDIR": "bin", "CMAKE_INSTALL_MANDIR": "share/man", "CMAKE_INSTALL_SYSCONFDIR": "etc",
            "HUB_SYSTEMD_UNITDIR": "lib/systemd/system"}
    with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
        for line in f:
            m = re.match(r"^(\w+):\w+=(.*)$", line.strip())
            if m and m.group(1) in dirs and m.group(2):  # GNUInstallDirs caches an empty MANDIR for its default
                dirs[m.group(1)] = m.group(2)
    return dirs


def under(prefix, d):
    """Where an install directory lands, as dist/stage.cmake and GNUInstallDirs place it."""
    if os.path.isabs(d):
        return d
    if prefix == "/usr" and d == "etc":
        return "/etc"
    return os.path.join(prefix, d)


def expected_files(prefix):
    dirs = {k: under(prefix, v).lstrip("/") for k, v in configured().items()}
    return {
        f"{dirs['CMAKE_INSTALL_BINDIR']}/hubd": 0o755,
        f"{dirs['CMAKE_INSTALL_BINDIR']}/hubctl": 0o755,
        f"{dirs['CMAKE_INSTALL_MANDIR']}/man8/hubd.8": 0o644,
        f"{dirs['CMAKE_INSTALL_MANDIR']}/man8/hubctl.8": 0o644,
        f"{dirs['CMAKE_INSTALL_MANDIR']}/man5/hub.yaml.5": 0o644,
        f"{dirs['CMAKE_INSTALL_SYSCONFDIR']}/hub/primary.yaml": 0o644,
        f"{dirs['CMAKE_INSTALL_SYSCONFDIR']}/hub/secondary.yaml": 0o644,
        f"{dirs['HUB_SYSTEMD_UNITDIR']}/hubd@.service": 0o644,
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
    expected = expected_files("/usr")
    found = files_under(dest)
    eq(sorted(found), sorted(expected), "exactly the installed files")
    ok("usr/bin/hubd" in expected and "etc/hub/primary.yaml" in expected, f"the FHS layout under /usr: {sorted(expected)}")
    for path, mode in expected.items():
        eq(oct(found[path]), oct(mode), f"mode of {path}")
    hubd = os.path.join(dest, "usr/bin/hubd")
    for prog in ("hubd", "hubctl"):
        p = subprocess.run([os.path.join(dest, "usr/bin", prog), "--help"], capture_output=True, text=True, timeout=30)
        eq(p.returncode, 0, f"installed {prog} runs")

    unit = unit_settings(os.path.join(dest, [k for k in expected if k.endswith("hubd@.service")][0]))
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


def test_unit_verifies():
    """systemd-analyze verify on the unit as installed for another prefix. Its ExecStart is checked as text, and for
    the verification pointed at the program in the DESTDIR (systemd checks that it exists); man pages are looked up
    in the DESTDIR too."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        print("systemd-analyze is not installed: the unit is not verified")
        return
    dest, prefix = tmpdir("hub-prefix-"), "/opt/hub"
    install(prefix, dest)
    expected = expected_files(prefix)
    eq(sorted(files_under(dest)), sorted(expected), "the same files under another prefix")
    unit_path = os.path.join(dest, [k for k in expected if k.endswith("hubd@.service")][0])
    eq(unit_settings(unit_path)["ExecStart"], [f"{prefix}/bin/hubd -c /etc/hub/%i.yaml"], "ExecStart follows --prefix")
    check_dir = tmpdir("hub-verify-")
    unit = os.path.join(check_dir, "hubd@.service")
    with open(unit_path) as f, open(unit, "w") as g:
        g.write(f.read().replace(f"ExecStart={prefix}/bin/hubd", f"ExecStart={dest}{prefix}/bin/hubd"))
    man = os.path.join(dest, [k for k in expected if k.endswith("man8/hubd.8")][0].rsplit("/man8/", 1)[0])
    p = subprocess.run([analyze, "verify", unit], capture_output=True, text=True, timeout=120, env=dict(os.environ, MANPATH=man))
    eq((p.returncode, p.stdout + p.stderr), (0, ""), "systemd-analyze verify, Documentation= pages included")
    # the check has teeth: a misspelt directive and a missing program are reported
    with open(unit) as f:
        text = f.read()
    with open(unit, "w") as g:
        g.write(text.replace("ProtectSystem=strict", "ProtectSystem=strict\nProtectSytem=strict").replace("/bin/hubd", "/bin/nohubd"))
    p = subprocess.run([analyze, "verify", "--man=no", unit], capture_output=True, text=True, timeout=120)
    ok("ProtectSytem" in p.stderr and "nohubd" in p.stderr, f"systemd-analyze reports errors: {p.stderr}")


def link_line(prog):
    """The command that linked prog in this build tree (Makefiles: link.txt; Ninja: the LINK_LIBRARIES of its build
    statement), or None when neither is there."""
    path = os.path.join(BUILD_DIR, "CMakeFiles", f"{prog}.dir", "link.txt")
    if os.path.exists(path):
        with open(path) as f:
            return f.read()
    path = os.path.join(BUILD_DIR, "build.ninja")
    if os.path.exists(path):
        with open(path) as f:
            m = re.search(rf"^build {re.escape(prog)}: .*?(?=^build |\Z)", f.read(), re.M | re.S)
            return m.group(0) if m else None
    return None


def test_no_test_only_library():
    """libjwt cross-checks our JWTs in two tests; hubd and hubctl neither link it nor need it at run time."""
    for prog in ("hubd", "hubctl"):
        p = subprocess.run(["readelf", "-d", os.path.join(BUILD_DIR, prog)], capture_output=True, text=True, timeout=30)
        eq(p.returncode, 0, f"readelf -d {prog}: {p.stderr}")
        needed = re.findall(r"\(NEEDED\).*\[(.+?)\]", p.stdout)
        ok("libcrypto.so.3" in needed, f"{prog}'s libraries are read: {needed}")
        eq([n for n in needed if "jwt" in n], [], f"{prog} needs no libjwt at run time")
        line = link_line(prog)
        if line is None:
            print(f"no link command of {prog} found in this build tree (not Makefiles or Ninja): only NEEDED checked")
            continue
        ok("-lcrypto" in line or "libcrypto" in line, f"the link command of {prog} is read")
        ok("jwt" not in line, f"{prog} is linked without libjwt: {line}")


if __name__ == "__main__":
    run([test_layout_under_usr, test_unit_verifies, test_no_test_only_library])
