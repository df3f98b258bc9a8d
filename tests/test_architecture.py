"""The import structure docs/ARCHITECTURE.md describes is the one the code has: no import cycle among
lanner's modules, and no import up a floor except the exceptions the document lists. Every import is
counted, at module level and inside functions (a cycle hidden in a function is still a cycle)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "lanner"
DOC = ROOT / "docs" / "ARCHITECTURE.md"


def modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        if p.name.endswith(("_pb2.py", "_pb2_grpc.py")):
            continue
        parts = list(p.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = p
    return out


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> lanner modules it imports (``from pkg import name`` counts ``pkg.name`` when that is a
    module, else ``pkg``)."""
    def known(name: str) -> str:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                deps.update(known(a.name) for a in node.names if a.name.split(".")[0] == "lanner")
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                if base.split(".")[0] != "lanner":
                    continue
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    deps.add(sub if sub in mods else known(base))
        deps.discard(mod)
        deps.discard("")
        graph[mod] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def documented() -> tuple[list[list[str]], list[tuple[str, str]]]:
    """The floors table and the allowed exceptions of docs/ARCHITECTURE.md."""
    text = DOC.read_text()
    floors_part = text.split("## Import floors", 1)[1].split("\n## ", 1)[0]
    floors = []
    for line in floors_part.splitlines():
        m = re.match(r"\|\s*\d+[^|]*\|(.*)\|\s*$", line)
        if m:
            floors.append(re.findall(r"`([\w.]+)`", m.group(1)))
    allowed = re.findall(r"^- `([\w.]+)` -> `([\w.]+)`", floors_part, re.M)
    return floors, allowed


def within(mod: str, prefix: str) -> bool:
    return mod == prefix or mod.startswith(prefix + ".")


def floor_of(mod: str, floors: list[list[str]]) -> int:
    best = (-1, -1)
    for i, names in enumerate(floors):
        for n in names:
            if within(mod, n) and len(n) > best[1]:
                best = (i, len(n))
    return best[0]


def test_the_document_has_floors_and_every_module_sits_on_one():
    floors, _ = documented()
    assert len(floors) >= 10, floors
    homeless = [m for m in modules() if floor_of(m, floors) < 0]
    assert not homeless, f"modules on no floor of docs/ARCHITECTURE.md: {homeless}"


def test_no_import_cycle():
    found = cycles(import_graph(modules()))
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_import_up_a_floor_except_the_documented_ones():
    floors, allowed = documented()
    bad = []
    for mod, deps in import_graph(modules()).items():
        for dep in deps:
            if floor_of(dep, floors) <= floor_of(mod, floors):
                continue
            if any(within(mod, a) and within(dep, b) for a, b in allowed):
                continue
            bad.append(f"{mod} -> {dep}")
    assert not bad, "imports from a lower floor into a higher one, not listed in docs/ARCHITECTURE.md: " + \
        ", ".join(sorted(bad))


def test_sources_import_nothing_from_state_rules_engine_or_run():
    graph = import_graph(modules())
    bad = [f"{m} -> {d}" for m, deps in graph.items() if within(m, "lanner.sources") for d in deps
           if any(within(d, p) for p in ("lanner.state", "lanner.rules", "lanner.engine", "lanner.run"))]
    assert not bad, bad


@pytest.mark.parametrize("text,expected", [
    ("import lanner.a.b\n", {"lanner.a.b"}),
    ("from lanner.a import b\n", {"lanner.a.b"}),
    ("from lanner.a import c\n", {"lanner.a"}),
    ("def f():\n    from . import b\n", {"lanner.a.b"}),
    ("import os\nfrom lanner import x\n", {"lanner"}),
])
def test_the_walker_sees_every_kind_of_import(tmp_path, text, expected):
    a = tmp_path / "lanner" / "a"
    a.mkdir(parents=True)
    (tmp_path / "lanner" / "__init__.py").write_text("")
    (a / "__init__.py").write_text("")
    (a / "b.py").write_text("")
    (a / "m.py").write_text(text)
    mods = {"lanner": tmp_path / "lanner" / "__init__.py", "lanner.a": a / "__init__.py",
            "lanner.a.b": a / "b.py", "lanner.a.m": a / "m.py"}
    assert import_graph(mods)["lanner.a.m"] == expected


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_every_lanner_exception_derives_from_lanner_error():
    """One root for user-facing errors: every exception class defined in lanner/ derives from
    LannerError (directly, or through another lanner exception)."""
    import importlib

    from lanner.core.errors import LannerError
    bad = []
    for mod, path in modules().items():
        tree = ast.parse(path.read_text())
        names = [n.name for n in tree.body if isinstance(n, ast.ClassDef)
                 and any(isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception")) or b.id == "Exception")
                         for b in n.bases)]
        if not names:
            continue
        try:
            m = importlib.import_module(mod)
        except ImportError:  # an optional dependency missing here: judged where it is installed
            continue
        for n in names:
            cls = getattr(m, n)
            if isinstance(cls, type) and issubclass(cls, BaseException) and not issubclass(cls, LannerError):
                bad.append(f"{mod}.{n}")
    assert not bad, f"exceptions outside the LannerError root: {bad}"
