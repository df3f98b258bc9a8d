"""Compile the hot modules with Cython (pure-Python mode) into ``lanner/compiled/lib``.

Run as ``python -m lanner.compiled.build`` (``--if-changed``: only the modules whose source changed;
``--quiet``: one line). scripts/setup.sh runs it after the pip install. Each listed ``.py`` (and its
``.pxd``, if any) is copied into a private build directory and compiled from that copy, so the hash
recorded in the manifest is the hash of exactly what was compiled. Nothing is written beside the sources.
Without Cython or a C compiler the build says so in one line and lanner keeps running pure Python.

To add a module: list it in :data:`MODULES`, rebuild, and check bench/replay.py with and without
``--pure``. It must stay plain Python that runs identically when not compiled.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from lanner.compiled.hook import LIB, MANIFEST, PACKAGE_ROOT, read_manifest, source_digest
from lanner.core.errors import LannerError

# Chosen by measurement (bench/replay.py, --pure for the baseline): the per-event path of a replay and
# of the live probe's records; the rule conditions are generated at run time and stay interpreted.
MODULES = (
    "lanner.sources.scap.reader",
    "lanner.sources.ebpf.source",
    "lanner.events.syscall",
    "lanner.events.params",
    "lanner.events.paths",
    "lanner.state.engine",
    "lanner.state.threads",
    "lanner.state.fds",
    "lanner.fields.evt",
    "lanner.fields.fd",
    "lanner.fields.fspath",
    "lanner.fields.process",
    "lanner.fields.thread",
    "lanner.fields.user",
    "lanner.fields.container_id",
    "lanner.rules.values",
    "lanner.rules.output",
    "lanner.engine",
    "lanner.run.loop",
)
# Semantics as Python: annotation_typing=False (annotations are not turned into C types or argument
# checks, so a compiled module accepts exactly what its .py does); binding=True (functions are function
# objects that bind as methods and introspect like Python's; measured as fast as binding=False here).
DIRECTIVES = {"language_level": 3, "binding": True, "annotation_typing": False}
CFLAGS = ["-g0"]


class BuildError(LannerError):
    """The compiled modules could not be built; the message names the missing tool or failing step."""


def _options() -> str:
    return json.dumps({"directives": DIRECTIVES, "cflags": CFLAGS}, sort_keys=True)


def _check_tools() -> str:
    """Cython's version, or BuildError naming what is missing (a C compiler, Cython, Python.h)."""
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if not shutil.which(cc):
        raise BuildError(f"no C compiler ('{cc}' not found; Debian package gcc)")
    try:
        import Cython
        import setuptools  # noqa: F401 - builds the extensions (not bundled in venvs from Python 3.12)
    except ImportError as e:
        raise BuildError(f"{e.name or 'Cython'} is not installed (pip install 'lanner[fast]')") from None
    include = Path(sysconfig.get_paths()["include"])
    if not (include / "Python.h").exists():
        raise BuildError(f"{include / 'Python.h'} is missing (Debian package python3-dev)")
    return str(Cython.__version__)


def _source(name: str, root: Path) -> Path:
    parts = name.split(".")
    return root.joinpath(*parts[1:]).with_suffix(".py")


def _valid_entries(manifest: dict[str, Any], lib: Path) -> dict[str, dict[str, str]]:
    """The manifest's entries built with today's options for this interpreter whose file is still there."""
    if manifest.get("options") != _options() or manifest.get("suffix") != sysconfig.get_config_var("EXT_SUFFIX"):
        return {}
    return {n: e for n, e in manifest["modules"].items() if (lib / e["file"]).is_file()}


def stale(modules: tuple[str, ...] = MODULES, root: Path = PACKAGE_ROOT, lib: Path = LIB) -> list[str]:
    """The modules whose compiled copy is missing or was built from other sources or options."""
    valid = _valid_entries(read_manifest(lib) or {"modules": {}}, lib)
    return [name for name in modules
            if name not in valid or valid[name]["sha256"] != source_digest(_source(name, root))]


def build(modules: tuple[str, ...] = MODULES, root: Path = PACKAGE_ROOT, lib: Path = LIB,
          only: list[str] | None = None, jobs: int | None = None) -> list[str]:
    """Compile ``only`` (default: all of ``modules``) into ``lib`` and rewrite the manifest; returns the
    names compiled. Entries of ``modules`` not rebuilt are kept when still valid; others are dropped. A
    module Cython or the compiler rejects is left out (its ``.py`` runs; the manifest's ``failed`` says
    why) rather than failing the others; BuildError only when none of ``only`` could be built."""
    version = _check_tools()
    todo = list(modules if only is None else only)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    package = modules[0].split(".")[0] if modules else root.name
    old = read_manifest(lib) or {"modules": {}}
    keep = {n: e for n, e in _valid_entries(old, lib).items() if n in modules and n not in todo}
    lib.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="_build", dir=lib))
    try:
        built, failed = _compile_each(todo, root, package, work, jobs) if todo else ({}, {})
        if todo and not built:
            raise BuildError("; ".join(f"{n}: {why}" for n, why in failed.items()))
        entries = dict(keep)
        for name, (so, digest, rel) in built.items():
            dest = lib / f"{name}{suffix}"
            os.replace(so, dest)
            entries[name] = {"file": dest.name, "sha256": digest, "source": rel}
        manifest = {"tool": f"Cython {version}", "suffix": suffix, "options": _options(),
                    "modules": dict(sorted(entries.items())), "failed": failed}
        tmp = work / MANIFEST
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, lib / MANIFEST)
        wanted = {e["file"] for e in entries.values()}
        for f in lib.iterdir():
            if f.suffix == ".so" and f.name not in wanted:
                f.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return sorted(built)


def _compile_each(names: list[str], root: Path, package: str, work: Path,
                  jobs: int | None) -> tuple[dict[str, tuple[Path, str, str]], dict[str, str]]:
    """All at once (parallel); when that fails, one by one, so one bad module costs only itself."""
    try:
        return _compile(names, root, package, work / "all", jobs), {}
    except BuildError as e:
        if len(names) == 1:
            return {}, {names[0]: str(e)}
    built, failed = {}, {}
    for i, name in enumerate(names):
        try:
            built.update(_compile([name], root, package, work / f"one{i}", jobs))
        except BuildError as e:
            failed[name] = str(e)
    return built, failed


def _compile(names: list[str], root: Path, package: str, work: Path,
             jobs: int | None) -> dict[str, tuple[Path, str, str]]:
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    src = work / "src"
    copies: dict[str, tuple[Path, str, str]] = {}
    for name in names:
        py = _source(name, root)
        rel = py.relative_to(root).as_posix()
        dest = src / package / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(py, dest)
        if py.with_suffix(".pxd").exists():
            shutil.copyfile(py.with_suffix(".pxd"), dest.with_suffix(".pxd"))
        copies[name] = (dest, source_digest(dest), rel)
        d = dest.parent
        while d != src:                       # package markers, so Cython names the module fully
            (d / "__init__.py").touch()
            d = d.parent
    jobs = jobs or os.cpu_count() or 1
    exts = [Extension(name, [str(copies[name][0])], extra_compile_args=CFLAGS) for name in names]
    try:
        exts = cythonize(exts, compiler_directives=DIRECTIVES, build_dir=str(work / "c"), quiet=True,
                         nthreads=jobs if len(exts) > 1 else 0, force=True)
    except Exception as e:  # noqa: BLE001 - Cython's CompileError and friends; the details went to stderr
        raise BuildError(f"Cython rejected it ({type(e).__name__}: {e})") from None
    dist = Distribution({"ext_modules": exts, "script_name": "lanner.compiled.build"})
    dist.verbose = 0
    cmd = dist.get_command_obj("build_ext")
    cmd.build_lib = str(work / "out")         # type: ignore[attr-defined]
    cmd.build_temp = str(work / "tmp")        # type: ignore[attr-defined]
    cmd.parallel = jobs                       # type: ignore[attr-defined]
    try:
        cmd.ensure_finalized()
        cmd.run()
    except Exception as e:  # noqa: BLE001 - setuptools raises its own errors for a failed compile
        raise BuildError(f"compiling failed: {e}") from None
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    out = {}
    for name, (_dest, digest, rel) in copies.items():
        so = work / "out" / Path(*name.split(".")).with_name(name.split(".")[-1] + suffix)
        if not so.is_file():
            raise BuildError(f"compiling {name} produced no {so.name}")
        out[name] = (so, digest, rel)
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    quiet = "--quiet" in args
    t0 = time.monotonic()
    try:
        todo = stale() if "--if-changed" in args else list(MODULES)
        if not todo:
            print(f"lanner compiled hot path: up to date ({len(MODULES)} modules in {LIB})")
            return 0
        done = build(only=todo)
    except Exception as e:  # noqa: BLE001 - whatever went wrong, set-up goes on and lanner runs pure Python
        why = str(e) if isinstance(e, BuildError | OSError) else f"{type(e).__name__}: {e}"
        print(f"lanner compiled hot path: not built, lanner runs pure Python: {why}")
        return 0 if quiet else 1
    failed = (read_manifest(LIB) or {}).get("failed") or {}
    print(f"lanner compiled hot path: built {len(done)} of {len(MODULES)} modules in "
          f"{time.monotonic() - t0:.0f} s ({LIB})"
          + "".join(f"; {n} stays Python: {why.splitlines()[0]}" for n, why in failed.items()))
    if not quiet:
        for name in done:
            print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
