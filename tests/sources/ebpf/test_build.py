"""The probe build: vmlinux.h from the running kernel's BTF, or the committed copy when BTF is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from lanner.sources.ebpf import build


def test_committed_header_is_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "BTF", tmp_path / "no-btf")
    out = build.vmlinux_header(tmp_path, "x86")
    assert out.read_bytes() == (build.HERE / "vmlinux_x86.h").read_bytes()
    assert b"struct task_struct {" in out.read_bytes()
    with pytest.raises(build.BuildError, match="no committed vmlinux_mips.h exists"):
        build.vmlinux_header(tmp_path, "mips")
