"""The npm packages of the browser, relying-party and single-page app tests run on Debian 12's own Node.js (18):
every package their lock files install must admit that version in its "engines", and package.json pins exact versions,
so neither `npm ci` nor `npm install` on a machine with a newer Node can pull in a release that refuses Node 18
(playwright-core 1.62 and later need Node 20)."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hubtest import SOURCE_DIR, eq, ok, run  # noqa: E402

# nodejs in Debian 12 (bookworm and bookworm-security): what tools/bootstrap installs there
DEBIAN_12_NODE = (18, 20, 4)
NPM_DIRS = ("tests/browser", "tests/rp", "tests/spa")


def version(text):
    """'18', '18.2', '18.2.1' or with x/* parts -> (parts given, padded tuple); None for anything else."""
    m = re.fullmatch(r"v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:[-+][0-9A-Za-z.-]+)?", text)
    if not m:
        return None
    parts = []
    for p in m.groups():
        if p is None or p in "xX*":
            break
        parts.append(int(p))
    return len(parts), tuple(parts + [0] * (3 - len(parts)))


def bump(n, v):
    """The first version above every version that matches the first n parts of v."""
    if n == 0:
        return (1 << 30, 0, 0)
    out = list(v[:n - 1]) + [v[n - 1] + 1]
    return tuple(out + [0] * (3 - len(out)))


def comparator(c):
    """One npm comparator -> a list of (op, version) that must all hold."""
    m = re.fullmatch(r"(>=|<=|>|<|=|\^|~)?\s*(\S+)", c)
    if not m or version(m.group(2)) is None:
        raise AssertionError(f"cannot read the engines comparator {c!r}")
    op, (n, v) = m.group(1) or "", version(m.group(2))
    if op in ("", "=") and n < 3:
        return [(">=", v), ("<", bump(n, v))]
    if op == "^":
        first = next((i for i, x in enumerate(v) if x != 0), n - 1)
        return [(">=", v), ("<", bump(min(first + 1, max(n, 1)), v))]
    if op == "~":
        return [(">=", v), ("<", bump(min(max(n, 1), 2), v))]
    if op == "<=" and n < 3:
        return [("<", bump(n, v))]
    if op == ">" and n < 3:
        return [(">=", bump(n, v))]
    return [(op or "=", v)]


def satisfies(v, rng):
    """Whether version tuple v is in the npm range rng ('>=18', '^10.13.0 || >=12.0.0', '>= 6', '1.2 - 2', '*')."""
    ops = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
           "=": lambda a, b: a == b}
    for alt in rng.split("||"):
        alt = re.sub(r"(>=|<=|>|<|=|\^|~)\s+", r"\1", alt.strip())
        hyphen = re.fullmatch(r"(\S+)\s+-\s+(\S+)", alt)
        if hyphen:
            conds = comparator(">=" + hyphen.group(1)) + comparator("<=" + hyphen.group(2))
        elif alt in ("", "*", "x", "X"):
            conds = []
        else:
            conds = [c for part in alt.split() for c in comparator(part)]
        if all(ops[op](v, w) for op, w in conds):
            return True
    return False


def test_the_range_reader():
    for rng, yes, no in ((">=18", [(18, 0, 0), (22, 1, 0)], [(17, 9, 9)]),
                         (">=20", [(20, 0, 0)], [(18, 20, 4), (19, 9, 0)]),
                         ("^10.13.0 || >=12.0.0", [(10, 13, 0), (18, 20, 4)], [(10, 12, 9), (11, 0, 0)]),
                         (">= 6", [(6, 0, 0), (18, 20, 4)], [(5, 9, 9)]),
                         ("^18.19.0", [(18, 19, 0), (18, 20, 4)], [(18, 18, 9), (19, 0, 0)]),
                         ("~18.20.1", [(18, 20, 4)], [(18, 21, 0), (18, 20, 0)]),
                         ("16 - 18", [(16, 0, 0), (18, 20, 4)], [(15, 9, 9), (19, 0, 0)]),
                         (">17 <=18.20", [(18, 0, 0), (18, 20, 9)], [(17, 9, 9), (18, 21, 0)]),
                         ("^0.2.3", [(0, 2, 9)], [(0, 3, 0), (0, 2, 2)]),
                         ("18.x", [(18, 20, 4)], [(19, 0, 0), (17, 0, 0)]),
                         (">=14 <19", [(18, 20, 4)], [(19, 0, 0), (13, 9, 9)]),
                         ("*", [(18, 20, 4)], [])):
        for v in yes:
            ok(satisfies(v, rng), f"{v} in {rng!r}")
        for v in no:
            ok(not satisfies(v, rng), f"{v} not in {rng!r}")


def test_every_locked_package_runs_on_debian_12_node():
    want = ".".join(map(str, DEBIAN_12_NODE))
    for d in NPM_DIRS:
        with open(os.path.join(SOURCE_DIR, d, "package-lock.json")) as f:
            lock = json.load(f)
        packages = {p: m for p, m in lock.get("packages", {}).items() if p}
        ok(packages, f"{d}/package-lock.json lists its packages (lockfileVersion 2 or 3)")
        refused = [f"{p.removeprefix('node_modules/')}@{m.get('version')} wants node {m['engines']['node']}"
                   for p, m in packages.items()
                   if isinstance(m.get("engines"), dict) and "node" in m["engines"]
                   and not satisfies(DEBIAN_12_NODE, m["engines"]["node"])]
        eq(refused, [], f"{d}: packages that refuse Debian 12's Node {want}")


def test_test_dependencies_are_pinned():
    for d in NPM_DIRS:
        with open(os.path.join(SOURCE_DIR, d, "package.json")) as f:
            pkg = json.load(f)
        with open(os.path.join(SOURCE_DIR, d, "package-lock.json")) as f:
            root = json.load(f)["packages"][""]
        deps = {**pkg.get("dependencies", {}), **pkg.get("devDependencies", {})}
        ok(deps, f"{d}/package.json has dependencies")
        loose = {n: s for n, s in deps.items() if version(s) is None or version(s)[0] != 3}
        eq(loose, {}, f"{d}/package.json: dependencies not pinned to one exact version")
        eq({**root.get("dependencies", {}), **root.get("devDependencies", {})}, deps,
           f"{d}/package-lock.json was made from this package.json")


if __name__ == "__main__":
    run([test_the_range_reader, test_every_locked_package_runs_on_debian_12_node, test_test_dependencies_are_pinned])
