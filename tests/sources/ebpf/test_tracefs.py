"""tracefs discovery and the syscall -> exit tracepoint mapping (no kernel needed except where noted)."""

from __future__ import annotations

import platform

import pytest

from lanner.sources.ebpf import tracefs as T
from lanner.sources.ebpf.loader import Probe, ProbeError
from tests.conftest import require_root


def fake_tracefs(tmp_path, names):
    d = tmp_path / "tracing"
    for i, n in enumerate(names):
        ev = d / "events" / "syscalls" / f"sys_exit_{n}"
        ev.mkdir(parents=True)
        (ev / "id").write_text(f"{700 + i}\n")
        (d / "events" / "syscalls" / f"sys_enter_{n}").mkdir()
    return d


def test_existing_tracefs_is_used_without_mounting(tmp_path):
    d = fake_tracefs(tmp_path, ["openat", "umount", "newstat"])
    t = T.Tracefs.find_or_mount(str(d))
    assert t.root == d
    assert t.exit_names() == {"openat", "umount", "newstat"}
    assert t.exit_tracepoint("openat") == "openat"
    assert t.exit_tracepoint("umount2") == "umount"       # kernel name differs from the table name
    assert t.exit_tracepoint("stat") == "newstat"
    assert t.exit_tracepoint("getppid") is None
    assert t.exit_id("umount") == 701


def test_unmountable_tracefs_is_a_clear_error(tmp_path):
    with pytest.raises(T.TracefsError, match="is not a directory"):
        T.Tracefs.find_or_mount(str(tmp_path / "missing"))


def test_bad_id_file_names_the_file(tmp_path):
    d = fake_tracefs(tmp_path, ["openat"])
    (d / "events" / "syscalls" / "sys_exit_openat" / "id").write_text("garbage")
    with pytest.raises(T.TracefsError, match="sys_exit_openat/id"):
        T.Tracefs(d).exit_id("openat")


@pytest.mark.skipif(platform.machine() != "x86_64", reason="x86_64 symbol names")
def test_unimplemented_from_kallsyms(tmp_path):
    ks = tmp_path / "kallsyms"
    ks.write_text("ffffffff81000000 T __x64_sys_openat\n"
                  "ffffffff81000010 W __x64_sys_init_module\n"
                  "ffffffff81000020 T __x64_sys_umount\n"
                  "ffffffff81000030 t __do_sys_kexec_load\n")
    got = T.unimplemented({"openat", "init_module", "umount2", "kexec_load", "get_thread_area"}, str(ks))
    # weak stub, no __x64_sys_ entry at all, and the x86_64 table's 64-bit gaps
    assert got == {"init_module", "kexec_load", "get_thread_area"}
    # an unreadable kallsyms: nothing is assumed missing (the caller then keeps the global hook)
    assert T.unimplemented({"init_module"}, str(tmp_path / "none")) == set()


def test_unknown_attach_mode():
    with pytest.raises(ProbeError, match="unknown mode 'kprobe'"):
        Probe(attach="kprobe")


def test_this_kernel_has_an_exit_tracepoint_for_every_handled_syscall():
    """Every syscall the probe decodes has an exit tracepoint here, or is not built into this kernel."""
    require_root()
    from lanner.sources.ebpf.filters import HANDLED
    try:
        t = T.Tracefs.find_or_mount()
    except T.TracefsError as e:
        pytest.fail(f"no tracefs as root on a kernel with tracepoints: {e}")
    no_tp = {n for n in HANDLED if t.exit_tracepoint(n) is None}
    assert no_tp - T.unimplemented(no_tp) == set()


def test_mounts_tracefs_where_absent(tmp_path, caplog):
    """An empty directory gets tracefs mounted on it (logged), then serves the tracepoint ids."""
    require_root()
    import ctypes
    import ctypes.util
    d = tmp_path / "tracing"
    d.mkdir()
    caplog.set_level("INFO", logger="lanner")
    try:
        t = T.Tracefs.find_or_mount(str(d))
    except T.TracefsError as e:
        pytest.fail(f"tracefs cannot be mounted as root: {e}")
    try:
        assert any("Mounted tracefs on " + str(d) in r.getMessage() for r in caplog.records)
        assert "openat" in t.exit_names() and t.exit_id("openat") > 0
        caplog.clear()
        assert T.Tracefs.find_or_mount(str(d)).root == d        # mounted now: no second mount
        assert not caplog.records
    finally:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        assert libc.umount2(str(d).encode(), 0) == 0
