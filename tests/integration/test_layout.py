"""The layout rules of the C sources (docs/ARCHITECTURE.md, CONVENTIONS.md), read from the files themselves:

- no include circle, among the folders of LAYERS (hub, idp, federation): a module (x.c with its x.h) includes only
  headers of modules below it. Between folders the order is declared (hub below idp and federation, which never
  include each other); within a folder the modules' includes must form a DAG. A cycle is reported with the #include
  lines that close it. idp/ and federation/ break the circle a top module's header would close the same way: a
  folder-private context header (idp/ctx.h, federation/fed_ctx.h) below every handler, and the public header (idp.h,
  fed.h) included by the top module alone.
- a header of DECLARATIONS_CHECKED (hub, idp, federation) declares only functions its own .c defines (a private header
  declaring another file's functions hides a circle from the include graph: the old federation/fed_ctx.h and
  idp/idp.h did);
- size limits, for every .c and .h directly in a folder of SIZE_FOLDERS (hub, idp, federation, tools, tools/hubctl,
  tools/bench, and the C tests: tests, tests/hub, tests/idp, tests/federation, tests/support, tests/fuzz, tests/bench,
  tests/man), with no exception: no file over MAX_FILE_LINES lines and no function of a .c over MAX_FUNCTION_LINES
  lines (from its header to its closing brace, as .clang-format lays it out). Every folder of SIZE_FOLDERS must hold a
  C source, and every folder of the tree holding one must be in SIZE_FOLDERS (build trees, node_modules and hidden
  folders aside), so the rule covers every C source of the project.

Each check also runs on small made-up trees (test_checker_*), which show it catches what it is for."""
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))

from hubtest import SOURCE_DIR, eq, ok, run  # noqa: E402

LAYERS = {"hub": 0, "idp": 1, "federation": 1}  # a folder may include its own headers and those of lower layers
SIZE_FOLDERS = ("hub", "idp", "federation", "tools", "tools/hubctl", "tools/bench",
                "tests", "tests/hub", "tests/idp", "tests/federation", "tests/support", "tests/fuzz", "tests/bench",
                "tests/man")
MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 80
DECLARATIONS_CHECKED = ("hub", "idp", "federation")  # folders whose headers must declare only their own .c's functions


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_sources(root, folders):
    """{relative path: text} of every .c and .h file directly in the folders."""
    out = {}
    for d in folders:
        full = os.path.join(root, d)
        for name in sorted(os.listdir(full)) if os.path.isdir(full) else []:
            if name.endswith((".c", ".h")):
                with open(os.path.join(full, name), encoding="utf-8") as f:
                    out[f"{d}/{name}"] = f.read()
    return out


def c_folders(root):
    """The folders under root (relative, '/'-separated) holding a .c or .h file directly; hidden folders, node_modules
    and build trees (a folder with CMakeCache.txt or named CMakeFiles, and the top-level build/, where the benchmarks
    also unpack older commits' sources: build/commit-COMMIT/src) are not walked."""
    out = set()
    for here, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in ("node_modules", "CMakeFiles")
                         and not (here == root and d == "build")
                         and not os.path.exists(os.path.join(here, d, "CMakeCache.txt")))
        if any(n.endswith((".c", ".h")) for n in names):
            out.add(os.path.relpath(here, root).replace(os.sep, "/"))
    return sorted(out)


def module_of(path):
    """hub/store.c and hub/store.h are the module hub/store."""
    return os.path.splitext(path)[0]


def include_edges(files):
    """{module: {included module: [(file, line number, text)]}} for the project's own headers among files."""
    edges = {}
    for path, text in files.items():
        src = module_of(path)
        edges.setdefault(src, {})
        for m in INCLUDE.finditer(text):
            target = m.group(1)
            if target not in files:
                continue  # a system header, tests/..., or a folder not checked
            dst = module_of(target)
            if dst != src:
                line = text.count("\n", 0, m.start()) + 1
                edges[src].setdefault(dst, []).append((path, line, m.group(0).strip()))
    return edges


def layer_violations(edges):
    """Includes that go up or sideways between folders: 'file:line: #include ... (hub may not include idp)'."""
    out = []
    for src, targets in sorted(edges.items()):
        a = src.split("/")[0]
        for dst, sites in sorted(targets.items()):
            b = dst.split("/")[0]
            if a != b and (a not in LAYERS or b not in LAYERS or LAYERS[b] >= LAYERS[a]):
                out += [f"{f}:{n}: {t} ({a}/ may not include {b}/)" for f, n, t in sites]
    return out


def cycles(edges):
    """Every elementary cycle found by a depth-first walk, each as the list of modules around it (first one repeated at
    the end), without rotations of one another."""
    found, seen_keys = [], set()
    state = {}

    def walk(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, {})):
            if state.get(nxt) == "open":
                cyc = stack[stack.index(nxt):] + [nxt]
                key = frozenset(zip(cyc, cyc[1:]))
                if key not in seen_keys:
                    seen_keys.add(key)
                    found.append(cyc)
            elif nxt not in state:
                walk(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            walk(node, [])
    return found


def describe_cycle(edges, cyc):
    return " -> ".join(cyc) + "  [" + "; ".join(f"{f}:{n}" for a, b in zip(cyc, cyc[1:]) for f, n, _ in edges[a][b][:1]) + "]"


PROTOTYPE = re.compile(r"^(?!static\b|typedef\b|#|\s|/|\*)[^;{}()]*?\b([a-z][a-z0-9_]*)\s*\([^;{}]*\)\s*;", re.M)
# a definition starts at column 0 on a line that is no comment, directive or static function (a comment with a
# parenthesis right above a definition must not swallow it)
DEFINITION = re.compile(r"^(?!static\b|typedef\b|#|\s|/|\*)[^;{}()\n]*?\b([a-z][a-z0-9_]*)\s*\([^;{}]*\)\s*\n\{", re.M)


def foreign_declarations(files, folders):
    """Functions a header of folders declares that its own .c does not define: 'x.h declares f (defined in y.c)'."""
    defined = {}
    for path, text in files.items():
        if path.endswith(".c"):
            for m in DEFINITION.finditer(text):
                defined.setdefault(m.group(1), path)
    out = []
    for path, text in sorted(files.items()):
        if not path.endswith(".h") or path.split("/")[0] not in folders:
            continue
        own = module_of(path) + ".c"
        for m in PROTOTYPE.finditer(text):
            name = m.group(1)
            if defined.get(name) != own:
                out.append(f"{path} declares {name} (defined in {defined.get(name, 'no file checked')})")
    return out


def functions(text):
    """(name, first line, number of lines) of each function defined in C text formatted as .clang-format says: the
    header at column 0, the body from a '{' line to a '}' line at column 0."""
    lines = text.split("\n")
    out, i = [], 0
    while i < len(lines):
        if lines[i] == "{" and i > 0:
            start = i - 1
            while start > 0 and lines[start - 1] and not lines[start - 1].startswith(("}", "#", "/", " *")) \
                    and not lines[start - 1].endswith((";", "*/")):
                start -= 1  # a header wrapped over several lines
            m = re.search(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(", " ".join(lines[start:i]))
            end = i + 1
            while end < len(lines) and lines[end] != "}" and not lines[end].startswith("};"):
                end += 1
            if m and "=" not in lines[start].split("(")[0]:
                out.append((m.group(1), start + 1, end - start + 1))
            i = end
        i += 1
    return out


def size_problems(files):
    """(path, message) for every file over MAX_FILE_LINES lines and every function over MAX_FUNCTION_LINES."""
    out = []
    for path, text in sorted(files.items()):
        n = text.count("\n")
        if n > MAX_FILE_LINES:
            out.append((path, f"{path}: {n} lines (at most {MAX_FILE_LINES})"))
        if path.endswith(".c"):
            for name, first, count in functions(text):
                if count > MAX_FUNCTION_LINES:
                    out.append((path, f"{path}:{first}: {name} has {count} lines (at most {MAX_FUNCTION_LINES})"))
    return out


# ---- the checks on this tree ----

def test_no_include_circle():
    files = read_sources(SOURCE_DIR, LAYERS)
    edges = include_edges(files)
    eq(layer_violations(edges), [], "includes across the declared layers")
    eq([describe_cycle(edges, c) for c in cycles(edges)], [], "include circles between modules")


def test_headers_declare_their_own_functions():
    files = read_sources(SOURCE_DIR, LAYERS)
    eq(foreign_declarations(files, DECLARATIONS_CHECKED), [], "functions declared in another module's header")


def test_sizes():
    files = read_sources(SOURCE_DIR, SIZE_FOLDERS)
    eq([d for d in SIZE_FOLDERS if not any(os.path.dirname(p) == d for p in files)], [],
       "folders of SIZE_FOLDERS without C sources (moved or renamed?)")
    eq([d for d in c_folders(SOURCE_DIR) if d not in SIZE_FOLDERS], [],
       "folders with C sources missing from SIZE_FOLDERS")
    eq([msg for _, msg in size_problems(files)], [], "files or functions over the size limits")


# ---- the checks themselves, on small made-up trees: each must catch what it is for ----

def test_checker_finds_circles():
    two = {"federation/a.c": '#include "federation/b.h"\n', "federation/a.h": "",
           "federation/b.c": '#include "federation/b.h"\n', "federation/b.h": '#include "federation/a.h"\n'}
    ok(cycles(include_edges(two)), "a.c -> b.h -> a.h is a circle between a and b")
    three = {"idp/x.c": '#include "idp/y.h"\n', "idp/y.h": "", "idp/y.c": '#include "idp/z.h"\n', "idp/z.h": "",
             "idp/z.c": '#  include "idp/x.h"\n', "idp/x.h": ""}
    eq([len(c) for c in cycles(include_edges(three))], [4], "x -> y -> z -> x, found once")
    private = {"federation/fed.c": '#include "federation/fed_ctx.h"\n', "federation/fed.h": "",
               "federation/fed_ctx.h": '#include "federation/fed.h"\n'}  # the old shape of the secondary
    ok(cycles(include_edges(private)), "a private header including the top module's header closes a circle")
    dag = {"hub/a.c": '#include "hub/a.h"\n#include "hub/b.h"\n', "hub/a.h": '#include "hub/b.h"\n',
           "hub/b.c": '#include "hub/b.h"\n#include <h2o.h>\n', "hub/b.h": "#include <stddef.h>\n"}
    eq(cycles(include_edges(dag)), [], "own header, lower module, system headers: no circle")


def test_checker_finds_layer_violations():
    files = {"hub/a.c": '#include "idp/b.h"\n', "idp/b.h": "", "idp/c.c": '#include "federation/d.h"\n',
             "federation/d.h": "", "federation/e.c": '#include "hub/a.h"\n#include "idp/b.h"\n', "hub/a.h": ""}
    got = layer_violations(include_edges(files))
    eq(len(got), 3, f"hub -> idp, idp -> federation, federation -> idp are refused: {got}")
    ok(all("may not include" in g for g in got) and not any("hub/a.h" in g for g in got), "federation -> hub is fine")


def test_checker_finds_foreign_declarations():
    files = {"federation/ctx.h": "/* x */\nint fed_wait(int a);\nvoid fed_ok(void);\nstatic inline int f(void)\n{\n}\n",
             "federation/ctx.c": "void fed_ok(void)\n{\n}\n",
             "federation/top.c": "int fed_wait(int a)\n{\n    return a;\n}\n",
             "federation/top.h": "int fed_wait(int a);\n"}
    eq(foreign_declarations(files, ("federation",)), ["federation/ctx.h declares fed_wait (defined in federation/top.c)"],
       "a prototype whose definition lives in another module")
    commented = {"idp/a.h": "int idp_a(int x);\n",
                 "idp/a.c": "#define MAX 4 /* the largest (in bytes) */\n/* one (1) */\nint idp_a(int x)\n{\n    return x;\n}\n"}
    eq(foreign_declarations(commented, ("idp",)), [], "a definition under comments holding parentheses is found")


def test_checker_measures_functions():
    body = "\n".join(f"    x += {i};" for i in range(MAX_FUNCTION_LINES))
    text = (f"static int long_one(int x,\n                    int y)\n{{\n{body}\n    return x;\n}}\n\n"
            "int short_one(void)\n{\n    return 0;\n}\n\nstatic const int table[] = {\n    1,\n};\n")
    got = functions(text)
    eq([(n, first) for n, first, _ in got], [("long_one", 1), ("short_one", MAX_FUNCTION_LINES + 7)],
       "the functions and where they start")
    eq(got[0][2], MAX_FUNCTION_LINES + 5, "a function's lines run from its header to its closing brace")
    eq([m for _, m in size_problems({"federation/x.c": text})],
       [f"federation/x.c:1: long_one has {MAX_FUNCTION_LINES + 5} lines (at most {MAX_FUNCTION_LINES})"], "the long one")
    eq(len(size_problems({"federation/big.h": "x\n" * (MAX_FILE_LINES + 1)})), 1, "a file over the limit")


def test_checker_finds_c_folders():
    with tempfile.TemporaryDirectory(prefix="hub-layout-") as root:
        def put(path, text=""):
            os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
            with open(os.path.join(root, path), "w", encoding="utf-8") as f:
                f.write(text)
        for path in ("hub/a.c", "tests/x/t.c", "tests/y/only.h", "tests/check.h", "docs/a.md", "tests/e2e/t.py",
                     "build/release/CMakeCache.txt", "build/release/CMakeFiles/3.25/CompilerIdC/id.c",
                     "out/CMakeCache.txt", "out/gen.c", "tests/browser/node_modules/pkg/x.c", ".git/hooks/h.c"):
            put(path)
        eq(c_folders(root), ["hub", "tests", "tests/x", "tests/y"], "C folders, build trees and node_modules left out")
        put("tests/x/t.c", "static void long_test(void)\n{\n" + "    CHECK(1);\n" * MAX_FUNCTION_LINES + "}\n")
        files = read_sources(root, c_folders(root))
        eq([m for _, m in size_problems(files)],
           [f"tests/x/t.c:1: long_test has {MAX_FUNCTION_LINES + 3} lines (at most {MAX_FUNCTION_LINES})"],
           "a long test function in a found folder is measured")


if __name__ == "__main__":
    run([test_checker_finds_circles, test_checker_finds_layer_violations, test_checker_finds_foreign_declarations,
         test_checker_measures_functions, test_checker_finds_c_folders, test_no_include_circle,
         test_headers_declare_their_own_functions, test_sizes])
