"""The import hook that swaps in a compiled hot module only when it was built from the current source.

An editable install must never run a stale binary after someone edits a ``.py``: the finder hashes the
module's source (and its augmenting ``.pxd``, when there is one) at import time and compares it with the
hash ``build`` recorded in ``lib/manifest.json``. Any mismatch, a missing file, an extension built for
another interpreter or one the dynamic loader refuses (a wheel built on a newer system), or ``LANNER_PURE=1`` in the environment leaves the import to the normal machinery,
so the plain ``.py`` runs; the reason is logged at debug level and kept for :func:`summary`.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
LIB = HERE / "lib"
PACKAGE_ROOT = HERE.parent          # the ``lanner`` directory; manifest sources are relative to it
MANIFEST = "manifest.json"
PURE_ENV = "LANNER_PURE"

log = logging.getLogger("lanner.compiled")


def source_digest(py: Path) -> str:
    """sha256 of a module's source and of the ``.pxd`` beside it (it changes the compiled types)."""
    h = hashlib.sha256(py.read_bytes())
    pxd = py.with_suffix(".pxd")
    if pxd.exists():
        h.update(b"\0pxd\0")
        h.update(pxd.read_bytes())
    return h.hexdigest()


def pure_forced() -> bool:
    return os.environ.get(PURE_ENV, "") not in ("", "0")


def read_manifest(lib: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((lib / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("modules"), dict) else None


class CompiledFinder:
    """Meta-path finder for the modules listed in a build manifest (first on ``sys.meta_path``)."""

    def __init__(self, lib: Path, root: Path, manifest: dict[str, Any]) -> None:
        self.lib = lib
        self.root = root
        self.manifest = manifest
        self.modules: dict[str, dict[str, str]] = manifest["modules"]
        self.decisions: dict[str, str] = {}     # module -> "compiled" or why its .py runs

    def check(self, fullname: str) -> tuple[Path | None, str]:
        """The compiled file to load for ``fullname`` and "compiled", or None and the reason not to."""
        entry = self.modules[fullname]
        suffix = self.manifest.get("suffix", "")
        if suffix not in importlib.machinery.EXTENSION_SUFFIXES:
            return None, f"built for another interpreter ({suffix or 'unknown'})"
        try:
            so, source, sha = self.lib / entry["file"], self.root / entry["source"], entry["sha256"]
        except (KeyError, TypeError):
            return None, "its manifest entry is malformed"
        if not so.is_file():
            return None, f"{so.name} is missing"
        try:
            digest = source_digest(source)
        except OSError as e:
            return None, f"its source cannot be read ({e})"
        if digest != sha:
            return None, "its source changed since it was compiled"
        try:
            ctypes.CDLL(str(so))       # e.g. built against a newer C library than this machine's
        except OSError as e:
            return None, f"it cannot be loaded here ({e})"
        return so, "compiled"

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname not in self.modules:
            return None
        so, why = self.check(fullname)
        self.decisions[fullname] = why
        if so is None:
            log.debug("compiled hot path: %s runs as Python: %s", fullname, why)
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(so))
        return importlib.util.spec_from_file_location(fullname, str(so), loader=loader)


_finder: CompiledFinder | None = None


def install(lib: Path = LIB, root: Path = PACKAGE_ROOT) -> CompiledFinder | None:
    """Put the finder first on ``sys.meta_path`` (once); nothing when pure Python is forced or no build."""
    global _finder
    if pure_forced():
        return None
    manifest = read_manifest(lib)
    if manifest is None:
        return None
    finder = CompiledFinder(lib, root, manifest)
    if lib == LIB and root == PACKAGE_ROOT:
        if _finder is not None:
            return _finder
        _finder = finder
    sys.meta_path.insert(0, finder)
    return finder


def uninstall(finder: CompiledFinder) -> None:
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)


def loaded_compiled(name: str) -> bool:
    """Whether module ``name`` (imported) is the compiled extension rather than its ``.py``."""
    mod = sys.modules.get(name)
    spec = getattr(mod, "__spec__", None)
    return isinstance(getattr(spec, "loader", None), importlib.machinery.ExtensionFileLoader)


def status() -> dict[str, str]:
    """Per listed module: "compiled" when it is (or will be) the compiled one, else why not."""
    manifest = read_manifest(LIB)
    if manifest is None:
        return {}
    finder = _finder or CompiledFinder(LIB, PACKAGE_ROOT, manifest)
    out: dict[str, str] = {}
    for name in sorted(finder.modules):
        if name in sys.modules:
            out[name] = "compiled" if loaded_compiled(name) else finder.decisions.get(name, "imported as Python")
        else:
            out[name] = finder.check(name)[1]
    if pure_forced():
        out = {name: f"{PURE_ENV}=1" for name in out}
    return out


def summary() -> str:
    """One line for ``--version`` and the start-up log: is the compiled hot path in use."""
    if pure_forced():
        return f"pure Python ({PURE_ENV}=1)"
    st = status()
    if not st:
        return "pure Python (no compiled modules built: python -m lanner.compiled.build)"
    manifest = read_manifest(LIB) or {}
    done = [n for n, why in st.items() if why == "compiled"]
    tool = manifest.get("tool", "compiled")
    if len(done) == len(st):
        return f"compiled ({tool}, {len(done)} modules)"
    missed = "; ".join(f"{n}: {why}" for n, why in st.items() if why != "compiled")
    return f"{'partly compiled' if done else 'pure Python'} ({len(done)} of {len(st)}; {missed})"
