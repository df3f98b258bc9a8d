"""The probe build: vmlinux.h from the running kernel's BTF (or the committed copy when BTF is absent),
rebuild when the inputs change, and a compile-and-load of probe.bpf.c."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lanner.sources.ebpf import build, loader
from lanner.sources.ebpf.filters import KernelFilter
from lanner.sources.ebpf.source import split_records
from tests.conftest import require_root


def test_committed_header_is_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "BTF", tmp_path / "no-btf")
    out = build.vmlinux_header(tmp_path, "x86")
    assert out.read_bytes() == (build.HERE / "vmlinux_x86.h").read_bytes()
    assert b"struct task_struct {" in out.read_bytes()
    with pytest.raises(build.BuildError, match="no committed vmlinux_mips.h exists"):
        build.vmlinux_header(tmp_path, "mips")


def _fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the probe sources with placeholder objects, as build.HERE."""
    src = tmp_path / "pkg"
    src.mkdir()
    for name in ("probe.bpf.c", "drain.c", "vmlinux_x86.h"):
        shutil.copyfile(build.HERE / name, src / name)
    monkeypatch.setattr(build, "HERE", src)
    for name in (build.OBJ_NAME, build.SO_NAME):
        (src / name).write_bytes(b"placeholder")
    return src


def test_stale_names_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = _fake_package(tmp_path, monkeypatch)
    assert "no recorded input hash" in build.stale(pkg)
    (pkg / build.HASH_NAME).write_text(build.input_hash() + "\n")
    assert build.stale(pkg) is None
    with open(pkg / "probe.bpf.c", "a") as f:
        f.write("\n/* edited */\n")
    assert "changed since it was built" in build.stale(pkg)
    (pkg / build.HASH_NAME).write_text(build.input_hash() + "\n")
    assert build.stale(pkg) is None
    with open(pkg / "vmlinux_x86.h", "a") as f:
        f.write("\n")
    assert "changed since it was built" in build.stale(pkg)
    (pkg / build.HASH_NAME).write_text(build.input_hash() + "\n")
    monkeypatch.setattr(build, "CLANG_FLAGS", build.CLANG_FLAGS + ("-DEXTRA",))
    assert "changed since it was built" in build.stale(pkg)
    (pkg / build.OBJ_NAME).unlink()
    assert build.stale(pkg) == "probe.bpf.o is missing"


def test_compiled_probe_is_built_on_open_and_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """probe.bpf.c compiled into a temp dir (the loader builds a missing or stale object itself), loaded
    by the kernel, attached, and delivering an event of a child process."""
    require_root()
    obj = tmp_path / build.OBJ_NAME
    monkeypatch.setattr(loader, "OBJ", obj)
    probe = loader.Probe(obj_path=obj, attach="tp_btf")
    probe.open(KernelFilter(events=frozenset({"openat"})))
    try:
        assert build.stale(tmp_path) is None
        target = tmp_path / "opened-by-child"
        target.write_text("x")
        subprocess.run([sys.executable, "-c", f"open({str(target)!r}).close()"], check=True)
        found = []
        end = time.monotonic() + 30
        while not found and time.monotonic() < end:
            found = [e for e in split_records(bytes(probe.ring.drain()))
                     if e.type == 307 and e.params[2] == str(target)]
            time.sleep(0.05)
        assert found, "no openat event from the freshly built probe"
    finally:
        probe.close()
