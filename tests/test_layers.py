"""The layering of ``srcore/``, enforced: no import cycle inside it, and no import of the front ends.

Why: a circle hides behind imports placed inside functions (issue 23 found one of 11 files), and
``app/``, ``train/``, ``benchmarks/`` must stay clients of ``srcore`` - never the reverse. Every
import counts, also those inside functions, since a delayed import still ties the modules together.
The checker is our own (a few lines of ``ast``), so the test needs nothing outside the repo.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FRONT_ENDS = ("app", "train", "benchmarks", "tests")


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under the package folder ``root``."""
    out = {}
    for p in root.rglob("*.py"):
        name = ".".join(p.relative_to(root.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = p
    return out


def imported_names(name: str, path: Path) -> set[str]:
    """Every dotted name ``path`` imports (anywhere in the file), relative imports made absolute."""
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names)  # `from pkg import module`
    return names


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (a submodule import counts as its module)."""
    mods = modules(root)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for x in imported_names(m, p):
            while x and x not in mods:
                x = x.rpartition(".")[0]
            if x and x != m and not m.startswith(x + "."):  # a package's own __init__ is not a cycle
                graph[m].add(x)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def test_srcore_has_no_import_cycle() -> None:
    found = cycles(import_graph(REPO / "srcore"))
    assert not found, "import cycles in srcore/: " + "; ".join(f"{len(c)} modules: {', '.join(c)}" for c in found)


def test_srcore_never_imports_the_front_ends() -> None:
    bad = []
    for m, p in modules(REPO / "srcore").items():
        for x in imported_names(m, p):
            if x.split(".")[0] in FRONT_ENDS:
                bad.append(f"{m} imports {x}")
    assert not bad, "srcore/ must not import app/train/benchmarks/tests: " + "; ".join(sorted(bad))


def test_paths_and_runtime_sit_below_the_registry() -> None:
    """The two causes of the old circle stay cut: the models folder and the runtimes know nothing of methods."""
    graph = import_graph(REPO / "srcore")

    def reach(m: str) -> set[str]:
        seen, todo = set(), [m]
        while todo:
            for w in graph[todo.pop()] - seen:
                seen.add(w)
                todo.append(w)
        return seen

    for low_layer in ("srcore.paths", "srcore.backends", "srcore.torch2onnx"):
        assert "srcore.registry" not in reach(low_layer), f"{low_layer} reaches srcore.registry"


def test_the_checker_sees_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    """The checker itself can fail: a -> b at the top, b -> a inside a function, c -> a relative."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from pkg.a import thing\n    return thing\n")
    (pkg / "c.py").write_text("from . import a\n")
    (pkg / "d.py").write_text("import pkg.c\n")
    graph = import_graph(pkg)
    assert graph["pkg.c"] == {"pkg.a"} and graph["pkg.d"] == {"pkg.c"}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]
    (pkg / "b.py").write_text("import os\n")
    assert cycles(import_graph(pkg)) == []
