"""docs/SECURITY.md's table of attack classes is reproduced by the suite: every test it names exists and is run.
A row names tests as `tests/<dir>/<file>.py::<function>`, `tests/<dir>/<file>.c::<function>` or `tests/fuzz/<name>.c`
(`::<function>` alone continues the file named before it in the same cell). A Python test must be a top-level
function listed in its file's run([...]); a C test a function of the file called from its main(); a fuzz target must
have a non-empty corpus; every file must be one ctest runs (tests/e2e and tests/integration test_*.py, tests/<dir>/*.c).
No hubd is started."""
import ast
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from hubtest import SOURCE_DIR, eq, ok, run  # noqa: E402

DOC = os.path.join(SOURCE_DIR, "docs", "SECURITY.md")
SECTION = "## Attack classes tried"
REF = re.compile(r"`(tests/[a-z0-9_]+/[A-Za-z0-9_]+\.(?:py|c))?(?:::([A-Za-z_][A-Za-z0-9_]*))?`")
RUN_BY_CTEST = (re.compile(r"tests/(e2e|integration)/test_[A-Za-z0-9_]+\.py"),
                re.compile(r"tests/(?!support/)[a-z0-9_]+/[A-Za-z0-9_]+\.c"))


def table_rows(text):
    """The rows of the first table after SECTION: (line number, [cells]), header and separator left out."""
    lines = text.split("\n")
    start = next((i for i, line in enumerate(lines) if line.strip() == SECTION), None)
    if start is None:
        raise AssertionError(f"no '{SECTION}' section")
    rows, seen_table = [], False
    for i in range(start + 1, len(lines)):
        line = lines[i].strip()
        if line.startswith("## "):
            break
        if not line.startswith("|"):
            if seen_table:
                break
            continue
        seen_table = True
        cells = [c.strip() for c in line.strip("|").split("|")]
        if all(set(c) <= set("-: ") for c in cells):
            continue
        rows.append((i + 1, cells))
    return rows[1:]  # the header


def refs_of(cell):
    """[(file, function or None)] named in a cell; '::f' alone belongs to the file named before it."""
    out, current = [], None
    for m in REF.finditer(cell):
        path, func = m.group(1), m.group(2)
        if path is None and func is None:
            continue
        if path is None:
            if current is None:
                out.append((None, func))
                continue
            path = current
        current = path
        out.append((path, func))
    return out


def python_runs(source):
    """(top-level function names, names listed in any run([...]) call) of a Python test file."""
    tree = ast.parse(source)
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    listed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "run" and node.args:
            if isinstance(node.args[0], (ast.List, ast.Tuple)):
                listed |= {e.id for e in node.args[0].elts if isinstance(e, ast.Name)}
    return defined, listed


def c_body(source, func):
    """The text of C function func's definition in source (to its closing brace at the start of a line), or None."""
    m = re.search(r"^[A-Za-z_][\w \t\*]*\b" + re.escape(func) + r"\s*\([^;]*?\)\s*\{", source, re.M)
    if m is None:
        return None
    end = source.find("\n}", m.end())
    return source[m.start():end if end != -1 else len(source)]


def c_function_run(source, func):
    """(defined, called from main) for a function of a C test file: main calls it, or passes (not calls) a function of
    the file that calls it (the store tests' main hands run_all to test_backend_each)."""
    defined = c_body(source, func) is not None
    main = c_body(source, "main")
    if main is None:
        return defined, False
    passed = set(re.findall(r"\b([A-Za-z_]\w*)\b(?!\s*\()", main)) - {"main", func}
    bodies = [main] + [c_body(source, name) or "" for name in passed]
    called = any(re.search(r"\b" + re.escape(func) + r"\s*\(", body) for body in bodies)
    return defined, called


def problems_of(text, root):
    """Every way the table in text does not match the suite under root; [] when it does."""
    problems, cache = [], {}
    rows = table_rows(text)
    if len(rows) < 20:
        problems.append(f"only {len(rows)} rows in the table")
    for line, cells in rows:
        if len(cells) != 3:
            problems.append(f"line {line}: {len(cells)} cells, expected 3")
            continue
        what, answer, tests = cells
        if what.startswith("**") and not answer and not tests:
            continue  # a group heading
        refs = refs_of(tests)
        if not what or not answer or not refs:
            problems.append(f"line {line}: a row needs an attack class, an answer and at least one test")
        for path, func in refs:
            where = f"line {line}: {path}::{func}" if func else f"line {line}: {path}"
            if path is None:
                problems.append(f"line {line}: ::{func} names no file before it")
                continue
            full = os.path.join(root, path)
            if not os.path.isfile(full):
                problems.append(f"{where}: no such file")
                continue
            if not any(p.fullmatch(path) for p in RUN_BY_CTEST):
                problems.append(f"{where}: not a file ctest runs")
                continue
            if path not in cache:
                with open(full, encoding="utf-8") as f:
                    cache[path] = f.read()
            source = cache[path]
            if path.startswith("tests/fuzz/"):
                corpus = os.path.join(root, "tests", "fuzz", "corpus", os.path.basename(path)[:-2])
                if not os.path.isdir(corpus) or not os.listdir(corpus):
                    problems.append(f"{where}: no corpus in {corpus}")
                if func is not None:
                    problems.append(f"{where}: name a fuzz target without a function")
                continue
            if func is None:
                problems.append(f"{where}: name the test function")
            elif path.endswith(".py"):
                defined, listed = python_runs(source)
                if func not in defined:
                    problems.append(f"{where}: no such test function")
                elif func not in listed:
                    problems.append(f"{where}: not in the file's run([...])")
            else:
                defined, called = c_function_run(source, func)
                if not defined:
                    problems.append(f"{where}: no such function")
                elif not called:
                    problems.append(f"{where}: not called from main()")
    return problems


# ---- tests ----

def test_table_matches_the_suite():
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    problems = problems_of(text, SOURCE_DIR)
    eq(problems, [], "docs/SECURITY.md names tests the suite does not run")
    rows = table_rows(text)
    refs = [r for _, cells in rows for r in refs_of(cells[2])]
    print(f"  {len(rows)} rows, {len(refs)} test references, {len({p for p, _ in refs})} files", flush=True)


def test_every_issue_item_has_a_row():
    """Items 1-13 of issue 10 (the classes that did not hold) each have a row, marked (item N)."""
    with open(DOC, encoding="utf-8") as f:
        rows = table_rows(f.read())
    marked = {int(n) for _, cells in rows for n in re.findall(r"\(item (\d+)\)", cells[0])}
    eq(sorted(set(range(1, 14)) - marked), [], "items without a row")


def test_every_fuzz_target_is_named():
    """Each fuzz target of tests/fuzz is in the table or the fuzzing section."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    targets = sorted(n[:-2] for n in os.listdir(os.path.join(SOURCE_DIR, "tests", "fuzz"))
                     if n.endswith(".c") and n != "replay.c")
    ok(len(targets) >= 13, f"fuzz targets: {targets}")
    missing = [t for t in targets if f"`{t}`" not in text and f"tests/fuzz/{t}.c" not in text]
    eq(missing, [], "fuzz targets docs/SECURITY.md does not name")


def test_drift_is_caught():
    """The checker itself: a table naming what the suite does not have is refused, line by line."""
    bad = [
        ("`tests/e2e/test_nope.py::test_x`", "no such file"),
        ("`tests/e2e/test_login.py::test_not_there`", "no such test function"),
        ("`tests/e2e/test_login.py::signed_in_as`", "not in the file's run([...])"),
        ("`tests/e2e/test_login.py`", "name the test function"),
        ("`tests/e2e/hubtest.py::run`", "not a file ctest runs"),
        ("`tests/hub/form.c::test_nothing_like_it`", "no such function"),
        ("`tests/hub/form.c::fake_req`", None),  # filled in below: a helper main() does not call, if there is one
        ("`tests/fuzz/no_such_target.c`", "no such file"),
        ("`tests/fuzz/form_parse.c::LLVMFuzzerTestOneInput`", "name a fuzz target without a function"),
        ("`::test_orphan`", "names no file before it"),
    ]
    with open(os.path.join(SOURCE_DIR, "tests", "hub", "form.c"), encoding="utf-8") as f:
        form_c = f.read()
    helper = next((n for n in re.findall(r"^static [\w \*]+\b(\w+)\s*\(", form_c, re.M)
                   if not n.startswith("test_") and c_function_run(form_c, n) == (True, False)), None)
    bad = [(f"`tests/hub/form.c::{helper}`", "not called from main()") if want is None else (ref, want)
           for ref, want in bad if want is not None or helper is not None]
    good = "`tests/e2e/test_login.py::test_lockout`, `::test_address_throttle`, `tests/fuzz/form_parse.c`"
    rows = ["| Attack class | The hub's answer | Tests |", "|---|---|---|", "| **A group** | | |"]
    rows += [f"| a fair row {i} | refused | {good} |" for i in range(20)]
    rows += [f"| class {i} | refused | {ref} |" for i, (ref, _) in enumerate(bad)]
    rows += ["| a row without tests | refused | |", "| only two cells | x |"]
    text = "# x\n\n" + SECTION + "\n\n" + "\n".join(rows) + "\n\n## After\n\n| a | b | c |\n"
    problems = problems_of(text, SOURCE_DIR)
    for ref, want in bad:
        name = ref.strip("`")
        ok(any(name in p and want in p for p in problems), f"{ref}: expected '{want}' among {problems}")
    ok(any("a row needs" in p for p in problems), "a row without tests is refused")
    ok(any("2 cells" in p for p in problems), "a malformed row is refused")
    eq(len(problems), len(bad) + 2, f"nothing else is refused (the fair rows pass): {problems}")
    # a document without the section, and a fuzz target without its corpus
    ok(any("no '" + SECTION in str(e) for e in _raises(lambda: problems_of("# nothing\n", SOURCE_DIR))), "no section")
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "tests", "fuzz"))
        with open(os.path.join(root, "tests", "fuzz", "lonely.c"), "w") as f:
            f.write("int LLVMFuzzerTestOneInput(void) { return 0; }\n")
        text = "\n".join([SECTION, "", rows[0], rows[1]] + [f"| r{i} | a | `tests/fuzz/lonely.c` |" for i in range(20)])
        ok(all("no corpus" in p for p in problems_of(text, root)) and problems_of(text, root), "a target without a corpus")


def _raises(fn):
    try:
        fn()
    except AssertionError as e:
        return [e]
    return []


if __name__ == "__main__":
    run([test_table_matches_the_suite, test_every_issue_item_has_a_row, test_every_fuzz_target_is_named,
         test_drift_is_caught])
