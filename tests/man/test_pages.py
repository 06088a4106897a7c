"""The man pages against the real programs: hubctl(8) has every command of `hubctl --help` with its usage exactly, and
an entry for every option; hubd(8) has every option of `hubd --help`; no page documents what does not exist; every
page renders without a groff warning. Changed copies of the pages and of the help prove the check catches drift."""
import os
import re
import shutil
import subprocess

from hubtest import BUILD_DIR, SOURCE_DIR, eq, ok, run

MAN = os.path.join(SOURCE_DIR, "man")
GLOBAL_HELP = {"--help", "-h"}


def read(name):
    with open(os.path.join(MAN, name)) as f:
        return f.read()


def program_help(prog):
    p = subprocess.run([os.path.join(BUILD_DIR, prog), "--help"], capture_output=True, text=True, timeout=30)
    eq(p.returncode, 0, f"{prog} --help")
    return p.stdout


def plain(line):
    """Roff escapes of text undone: \\- \\e \\& and font changes."""
    line = re.sub(r"\\f[BIRP]", "", line).replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")
    return " ".join(line.split())


def sections(text):
    """{section name: [(tag, first line of the entry's body)]} for every .TP/.TQ entry."""
    out, current = {}, None
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith(".SH "):
            current = line[4:].strip().strip('"')
            out.setdefault(current, [])
        elif line in (".TP", ".TQ") and current is not None and i + 1 < len(lines):
            tag = lines[i + 1]
            if tag.startswith(".B ") or tag.startswith(".BR "):
                tag = tag.split(" ", 1)[1].replace('"', "")
            out[current].append(plain(tag))
    return out


def hubctl_commands(help_text):
    """[(words, usage)] from the help's command lines ("  hubctl -d DIR user add NAME ...")."""
    cmds = []
    for line in help_text.split("\n"):
        m = re.match(r"^\s+hubctl\s+(?:(?:\[[^\]]*\]|-\w\s+\S+)\s+)*(.*)$", line)
        if not m:
            continue
        toks = m.group(1).split()
        n = 2 if len(toks) > 1 and re.fullmatch(r"[a-z][a-z-]*", toks[1]) else 1
        cmds.append((" ".join(toks[:n]), " ".join(toks[n:])))
    return cmds


def options_in(text):
    return set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", text))


def described_options(tags):
    out = set()
    for tag in tags:
        for piece in tag.split(", "):
            m = re.match(r"^(--?[a-zA-Z][\w-]*)", piece)
            if m:
                out.add(m.group(1))
    return out


def hubctl_problems(page, help_text):
    problems = []
    secs = sections(page)
    cmds = hubctl_commands(help_text)
    if len(cmds) < 20:
        problems.append(f"only {len(cmds)} commands read from the help")
    documented = secs.get("COMMANDS", [])
    wanted = {f"{w} {u}".strip() for w, u in cmds}
    for w, u in cmds:
        if f"{w} {u}".strip() not in documented:
            near = [d for d in documented if d.split(" [")[0].startswith(w)]
            problems.append(f"hubctl.8: command '{w}' is missing or its usage differs from the help "
                            f"(help: '{f'{w} {u}'.strip()}'; page: {near})")
    for d in documented:
        if d not in wanted:
            problems.append(f"hubctl.8: documents '{d}', which `hubctl --help` does not list")
    if len(documented) != len(set(documented)):
        problems.append("hubctl.8: a command is documented twice")
    described = described_options(secs.get("OPTIONS", []))
    used = set()
    for w, u in cmds:
        used |= options_in(u)
    header = help_text.split("\n", 1)[0]
    known = used | options_in(header) | GLOBAL_HELP | {"--data-dir"}
    for o in sorted(used | options_in(header)):
        if o not in described:
            problems.append(f"hubctl.8: option {o} has no entry in OPTIONS")
    for o in sorted(described - known):
        problems.append(f"hubctl.8: OPTIONS describes {o}, which no usage in the help has")
    return problems


def hubd_problems(page, help_text):
    problems = []
    described = described_options(sections(page).get("OPTIONS", []))
    used = options_in(help_text)
    if not {"-c", "--check"} <= used:
        problems.append(f"hubd --help names no -c/--check: {help_text!r}")
    for o in sorted(used - described):
        problems.append(f"hubd.8: option {o} has no entry in OPTIONS")
    for o in sorted(described - used - GLOBAL_HELP - {"--config"}):
        problems.append(f"hubd.8: OPTIONS describes {o}, which `hubd --help` does not have")
    return problems


def test_hubctl_page_matches_the_help():
    problems = hubctl_problems(read("hubctl.8"), program_help("hubctl"))
    eq(problems, [], "hubctl.8 against hubctl --help")


def test_hubd_page_matches_the_help():
    eq(hubd_problems(read("hubd.8"), program_help("hubd")), [], "hubd.8 against hubd --help")


def test_drift_is_caught():
    page, help_text = read("hubctl.8"), program_help("hubctl")
    new_cmd = help_text + "  hubctl -d DIR store verify [--strict]\n"
    cases = [
        ("a new command", page, new_cmd),
        ("a new option of a command", page,
         help_text.replace("[--introspect-any|--no-introspect-any]", "[--introspect-any|--no-introspect-any] [--frappe-site URL]")),
        ("a new option of one command only", page, help_text.replace("node join-token [--name N]", "node join-token [--name N] [--uses K]")),
        ("a renamed placeholder", page, help_text.replace("user del NAME", "user del USER")),
        ("a removed command still documented", page, "\n".join(l for l in help_text.split("\n") if " keys retire " not in l)),
        ("a command missing from the page", page.replace("\\fBrole del\\fR ROLE", "\\fBrole delete\\fR ROLE"), help_text),
        ("an option without an entry", page.replace(".TP\n\\-\\-ttl DURATION\n", ".TP\nttl DURATION\n"), help_text),
        ("a stale option entry", page.replace(".SH EXIT STATUS", ".TP\n\\-\\-force\nGone.\n.SH EXIT STATUS"), help_text),
    ]
    for what, p, h in cases:
        ok(p != page or h != help_text, f"{what}: the change applies")
        ok(hubctl_problems(p, h), f"{what}: caught")
    hubd_page, hubd_help = read("hubd.8"), program_help("hubd")
    ok(hubd_problems(hubd_page, hubd_help + "       hubd --test-config -c FILE\n"), "a new hubd option: caught")
    ok(hubd_problems(hubd_page.replace(".TP\n\\-\\-check\n", ".TP\ncheck\n"), hubd_help), "a hubd option lost: caught")


def test_pages_render_cleanly():
    groff = shutil.which("groff")
    if groff is None:
        print("groff is not installed: rendering not checked")
        return
    for name in ("hubd.8", "hubctl.8", "hub.yaml.5"):
        p = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", os.path.join(MAN, name)], capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, LC_ALL="C.UTF-8"))
        eq((p.returncode, p.stderr), (0, ""), f"groff warnings in {name}")


if __name__ == "__main__":
    run([test_hubctl_page_matches_the_help, test_hubd_page_matches_the_help, test_drift_is_caught, test_pages_render_cleanly])
