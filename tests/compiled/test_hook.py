"""The compiled-module hook: a tiny module compiled into a tmp directory is loaded while its source hash
matches, and the plain .py runs when the source changed, the build is absent or for another interpreter,
or LANNER_PURE=1. A module that does not compile costs only itself. The build names a missing compiler or
Cython in one line and writes nothing."""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lanner.compiled import build, hook

SOURCE = "def triple(x):\n    return 3 * x\n\nWORDS = [w.upper() for w in ('a', 'b')]\n"


def _tree(tmp: Path, pkg: str) -> tuple[Path, Path]:
    root = tmp / pkg
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "mod.py").write_text(SOURCE)
    return root, tmp / "lib"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    try:
        build._check_tools()
    except build.BuildError as e:
        pytest.skip(f"cannot compile here: {e}")
    root, lib = _tree(tmp_path_factory.mktemp("cy"), "lanner_tiny_cy")
    (root / "bad.py").write_text("def broken(:\n    pass\n")     # rejected: costs only itself
    built = build.build(("lanner_tiny_cy.mod", "lanner_tiny_cy.bad"), root=root, lib=lib, jobs=1)
    assert built == ["lanner_tiny_cy.mod"]
    manifest = hook.read_manifest(lib)
    assert manifest is not None and list(manifest["failed"]) == ["lanner_tiny_cy.bad"]
    assert "Cython rejected it" in manifest["failed"]["lanner_tiny_cy.bad"]
    return root, lib


@pytest.fixture
def clean_modules() -> Iterator[None]:
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("lanner_tiny"):
            del sys.modules[name]


def _import(finder: hook.CompiledFinder, name: str, root: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(root.parent))
    monkeypatch.setattr(sys, "meta_path", [finder, *sys.meta_path])
    return importlib.import_module(name)


def test_the_compiled_module_loads_while_its_source_hash_matches(
        compiled: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, clean_modules: None) -> None:
    root, lib = compiled
    monkeypatch.delenv(hook.PURE_ENV, raising=False)
    manifest = hook.read_manifest(lib)
    assert manifest is not None and list(manifest["modules"]) == ["lanner_tiny_cy.mod"]
    assert not list(root.rglob("*.so")) and not list(root.rglob("*.c"))   # nothing beside the sources
    finder = hook.install(lib, root)
    assert finder is not None
    hook.uninstall(finder)
    mod = _import(finder, "lanner_tiny_cy.mod", root, monkeypatch)
    assert isinstance(mod.__spec__.loader, importlib.machinery.ExtensionFileLoader)
    assert mod.__file__.startswith(str(lib)) and mod.__file__.endswith(".so")
    assert finder.decisions == {"lanner_tiny_cy.mod": "compiled"}
    assert (mod.triple(4), mod.triple("ab"), mod.WORDS) == (12, "ababab", ["A", "B"])


def test_an_edited_source_runs_as_python(compiled: tuple[Path, Path], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch, clean_modules: None) -> None:
    _, lib = compiled
    root, _ = _tree(tmp_path, "lanner_tiny_ed")
    (root / "mod.py").write_text(SOURCE.replace("3 * x", "4 * x"))
    manifest = hook.read_manifest(lib)
    assert manifest is not None
    manifest["modules"] = {"lanner_tiny_ed.mod": manifest["modules"]["lanner_tiny_cy.mod"]}
    finder = hook.CompiledFinder(lib, root, manifest)
    assert finder.check("lanner_tiny_ed.mod") == (None, "its source changed since it was compiled")
    mod = _import(finder, "lanner_tiny_ed.mod", root, monkeypatch)
    assert mod.__file__ == str(root / "mod.py") and mod.triple(4) == 16
    assert finder.decisions == {"lanner_tiny_ed.mod": "its source changed since it was compiled"}
    (root / "mod.py").write_text(SOURCE)           # the very source it was built from: compiled again
    assert finder.check("lanner_tiny_ed.mod")[1] == "compiled"
    (root / "mod.pxd").write_text("cdef int x\n")  # an augmenting .pxd changes the compiled types
    assert finder.check("lanner_tiny_ed.mod")[1] == "its source changed since it was compiled"


def test_a_build_for_another_interpreter_or_a_missing_or_unloadable_file_is_not_used(
        compiled: tuple[Path, Path], tmp_path: Path) -> None:
    root, lib = compiled
    manifest = hook.read_manifest(lib)
    assert manifest is not None
    other = dict(manifest, suffix=".cpython-39-x86_64-linux-gnu.so")
    assert hook.CompiledFinder(lib, root, other).check("lanner_tiny_cy.mod")[0] is None
    root2, lib2 = _fake_build(tmp_path, "lanner_tiny_dl")    # right hash, but not a loadable library
    fake = hook.read_manifest(lib2)
    assert fake is not None
    fake["modules"]["lanner_tiny_dl.mod"]["sha256"] = hook.source_digest(root2 / "mod.py")
    why = hook.CompiledFinder(lib2, root2, fake).check("lanner_tiny_dl.mod")
    assert why[0] is None and why[1].startswith("it cannot be loaded here")
    bad = dict(manifest, modules={"lanner_tiny_cy.mod": {"file": 1}})
    assert hook.CompiledFinder(lib, root, bad).check("lanner_tiny_cy.mod") == (None, "its manifest entry is malformed")
    gone = dict(manifest, modules={"lanner_tiny_cy.mod": dict(manifest["modules"]["lanner_tiny_cy.mod"],
                                                              file="nope.so")})
    assert hook.CompiledFinder(lib, root, gone).check("lanner_tiny_cy.mod") == (None, "nope.so is missing")


def _fake_build(tmp: Path, pkg: str) -> tuple[Path, Path]:
    """A manifest naming an (empty) extension file, with a hash no source has."""
    root, lib = _tree(tmp, pkg)
    lib.mkdir()
    so = lib / f"{pkg}.mod{importlib.machinery.EXTENSION_SUFFIXES[0]}"
    so.write_bytes(b"")
    (lib / hook.MANIFEST).write_text(json.dumps({"tool": "Cython x", "suffix": so.name[len(f"{pkg}.mod"):],
                                                 "modules": {f"{pkg}.mod": {
                                                     "file": so.name, "sha256": "0" * 64, "source": "mod.py"}}}))
    return root, lib


def test_lanner_pure_or_no_build_means_no_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, lib = _fake_build(tmp_path, "lanner_tiny_pu")
    monkeypatch.setenv(hook.PURE_ENV, "0")
    finder = hook.install(lib, root)
    assert finder is not None
    hook.uninstall(finder)
    monkeypatch.setenv(hook.PURE_ENV, "1")
    assert hook.install(lib, root) is None
    assert hook.summary() == "pure Python (LANNER_PURE=1)"
    monkeypatch.setenv(hook.PURE_ENV, "0")
    assert hook.install(tmp_path / "none", root) is None
    monkeypatch.setattr(hook, "LIB", tmp_path / "none")
    assert hook.summary().startswith("pure Python (no compiled modules built")


def test_summary_names_a_stale_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, lib = _fake_build(tmp_path, "lanner_tiny_st")
    monkeypatch.delenv(hook.PURE_ENV, raising=False)
    monkeypatch.setattr(hook, "LIB", lib)
    monkeypatch.setattr(hook, "PACKAGE_ROOT", root)
    monkeypatch.setattr(hook, "_finder", None)
    assert hook.summary() == ("pure Python (0 of 1; lanner_tiny_st.mod: its source changed since it was "
                              "compiled)")


def test_no_compiler_or_no_cython_is_one_line_and_nothing_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    root, lib = _tree(tmp_path, "lanner_tiny_nc")
    monkeypatch.setenv("CC", "/nonexistent/cc")
    with pytest.raises(build.BuildError, match="no C compiler"):
        build.build(("lanner_tiny_nc.mod",), root=root, lib=lib)
    assert build.main(["--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "not built, lanner runs pure Python: no C compiler" in out
    monkeypatch.setenv("CC", sys.executable)       # any program passes the compiler check, installed or not
    monkeypatch.setitem(sys.modules, "Cython", None)
    with pytest.raises(build.BuildError, match="Cython is not installed"):
        build.build(("lanner_tiny_nc.mod",), root=root, lib=lib)
    assert not lib.exists() and hook.install(lib, root) is None
