"""Probe lifecycle (root): nothing of lanner stays in the kernel after exit or SIGKILL; filters drop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from lanner.sources.ebpf.filters import KernelFilter, OpenFilter, open_prefix_words
from tests.conftest import require_root, require_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def lanner_objects(bpftool: str) -> set[tuple[str, int]]:
    """(kind, id) of every BPF program, map and link named lanner_* (any lanner on the host)."""
    ids = set()
    for kind in ("prog", "map", "link"):
        out = subprocess.run([bpftool, "-j", kind, "show"], capture_output=True, text=True).stdout or "[]"
        for o in json.loads(out):
            name = o.get("name", "") or ""
            if kind == "link":
                name = name or str(o.get("prog_name", "") or "")
            if name.startswith("lanner_") or (kind == "link" and o.get("prog_id") in _prog_ids(bpftool)):
                ids.add((kind, o["id"]))
    return ids


def held_by(pid: int) -> set[tuple[str, int]]:
    """(kind, id) of the BPF programs, maps and links process ``pid`` holds open (its fdinfo), so other
    lanner agents on the host do not count."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                text = f.read()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, val = line.partition(":")
            if key in ("prog_id", "map_id", "link_id") and "link_id" in text and key != "link_id":
                continue  # a link's fdinfo also names its program
            if key in ("prog_id", "map_id", "link_id"):
                ids.add((key[:-3], int(val)))
    return ids


def _prog_ids(bpftool: str) -> set[int]:
    out = subprocess.run([bpftool, "-j", "prog", "show"], capture_output=True, text=True).stdout or "[]"
    return {o["id"] for o in json.loads(out) if (o.get("name", "") or "").startswith("lanner_")}


def wait_gone(bpftool: str, mine: set, timeout: float = 30.0) -> set:
    """The objects of ``mine`` still present after up to ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while True:
        left = lanner_objects(bpftool) & mine
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.1)


CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from lanner.run.syscalls import STATE_EVENTS
from lanner.sources.ebpf.filters import KernelFilter
from lanner.sources.ebpf.source import LiveSyscallSource
kf = KernelFilter(events=frozenset({{"openat", "getppid"}}) | STATE_EVENTS) if {attach!r} == "tracepoint" else None
s = LiveSyscallSource(kf, scan_proc=False, attach={attach!r}).open()
print("ready", s.probe.mode, len(s.probe.attached_tracepoints()), flush=True)
time.sleep(30)
"""


def bpftool_path() -> str:
    return "/usr/sbin/bpftool" if os.path.exists("/usr/sbin/bpftool") else require_tool("bpftool")


@pytest.mark.parametrize("attach", ["tp_btf", "tracepoint"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_nothing_left_after_kill(sig, attach):
    require_root()
    bpftool = bpftool_path()
    base = lanner_objects(bpftool)
    p = subprocess.Popen([sys.executable, "-c", CHILD.format(root=ROOT, attach=attach)], stdout=subprocess.PIPE,
                         text=True)
    try:
        ready, mode, n_tp = p.stdout.readline().split()
        assert (ready, mode) == ("ready", attach)
        if attach == "tracepoint":      # the filter's syscalls plus the state set, each its own perf link
            assert int(n_tp) > 30
        mine = held_by(p.pid) & (lanner_objects(bpftool) - base)
        kinds = {k for k, _ in mine}
        assert kinds == {"prog", "map", "link"}, mine
        if attach == "tracepoint":
            # + exec, exit and the ia32 sys_exit tp_btf programs
            assert len([k for k, _ in mine if k == "link"]) == int(n_tp) + 3
        p.send_signal(sig)
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
    assert wait_gone(bpftool, mine) == set()


def test_not_root_is_a_clear_error():
    require_root()
    code = (f"import sys; sys.path.insert(0, {ROOT!r}); import os; os.setuid(65534)\n"
            "from lanner.sources.ebpf.source import LiveSyscallSource\n"
            "from lanner.sources.api import SourceError\n"
            "try:\n    LiveSyscallSource().open()\nexcept SourceError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert "live capture needs root" in r.stdout and "CAP_BPF" in r.stdout and "Traceback" not in r.stderr


def test_syscall_filter_drops_in_kernel():
    """The global tp_btf hook runs for every syscall; the syscall table drops the unwanted ones."""
    require_root()
    from lanner.sources.ebpf.source import LiveSyscallSource
    loop = "import os\nfor _ in range(20000): os.getppid()"
    with LiveSyscallSource(KernelFilter(events=frozenset({"openat"})), scan_proc=False,
                           attach="tp_btf") as s:
        assert s.probe.mode == "tp_btf"
        s.poll()
        before = s.probe.counters()
        p = subprocess.run([sys.executable, "-c", loop])
        assert p.returncode == 0
        evs = s.poll()
        after = s.probe.counters()
        assert after["skipped"] - before["skipped"] >= 20000
        assert not any(e.type == 1 for e in evs)       # no generic getppid event reached userspace
        # getppid wanted now (not every syscall: on a busy machine that would overflow the ring)
        s.set_filter(KernelFilter(events=frozenset({"openat", "getppid"})))
        subprocess.run([sys.executable, "-c", loop])
        n = 0
        while evs := s.poll():
            n += sum(1 for e in evs if e.type == 1 and e.params[1] == 110)  # getppid = 110
        assert n >= 20000


def _prog_runs(bpftool: str, ids: set[int]) -> int:
    out = subprocess.run([bpftool, "-j", "prog", "show"], capture_output=True, text=True).stdout or "[]"
    return sum(o.get("run_cnt", 0) for o in json.loads(out) if o["id"] in ids)


def _lanner_progs(bpftool: str) -> dict[int, str]:
    out = subprocess.run([bpftool, "-j", "prog", "show"], capture_output=True, text=True).stdout or "[]"
    return {o["id"]: o.get("name", "") for o in json.loads(out) if (o.get("name", "") or "").startswith("lanner_")}


@pytest.fixture
def bpf_stats():
    """kernel.bpf_stats_enabled=1 for the test (per-program run counts), restored afterwards."""
    require_root()
    path = "/proc/sys/kernel/bpf_stats_enabled"
    with open(path) as f:
        old = f.read().strip()
    with open(path, "w") as f:
        f.write("1")
    yield
    with open(path, "w") as f:
        f.write(old)


def test_tracepoint_mode_runs_no_program_for_untraced_syscalls(bpf_stats):
    """Per-syscall tracepoints: with only openat wanted, getppid runs no syscall handler (the global
    tp_btf handler is not even loaded; only the ia32 hook runs, and returns at once for a native
    syscall: the kernel's per-syscall tracepoints never fire for 32-bit syscalls); changing the
    filter at runtime re-attaches."""
    from lanner.sources.ebpf.source import LiveSyscallSource
    bpftool = bpftool_path()
    base = _lanner_progs(bpftool)
    loop = "import os\nfor _ in range(20000): os.getppid()"
    opens = "for _ in range(3000): open('/etc/hostname').close()"
    with LiveSyscallSource(KernelFilter(events=frozenset({"openat"})), scan_proc=False,
                           attach="tracepoint") as s:
        assert s.probe.mode == "tracepoint" and s.probe.attached_tracepoints() == {"openat"}
        held = {i for k, i in held_by(os.getpid()) if k == "prog"}  # not other agents' programs
        mine = {i: n for i, n in _lanner_progs(bpftool).items() if i not in base and i in held}
        assert sorted(mine.values()) == ["lanner_exec", "lanner_exit", "lanner_ia32_exit", "lanner_tp_exit"]
        tp = {i for i, n in mine.items() if n == "lanner_tp_exit"}
        r0 = _prog_runs(bpftool, tp)
        subprocess.run([sys.executable, "-c", loop], check=True)
        r1 = _prog_runs(bpftool, tp)
        # only openat exits (interpreter start-up, other processes of a busy machine), not one per getppid
        assert r1 - r0 < 20000
        subprocess.run([sys.executable, "-c", opens], check=True)
        r2 = _prog_runs(bpftool, tp)
        assert r2 - r1 >= 3000
        evs = s.poll()
        assert sum(1 for e in evs if e.type == 307 and e.params[2] == "/etc/hostname") >= 3000
        assert not any(e.type == 1 for e in evs)
        # every syscall now: the program is attached to every exit tracepoint, getppid included
        s.set_filter(KernelFilter(events=None))
        assert {"getppid", "openat", "umount"} <= s.probe.attached_tracepoints()
        # counted with getppid and openat only: every syscall of a busy machine would overflow the ring
        s.set_filter(KernelFilter(events=frozenset({"openat", "getppid"})))
        while s.poll():
            pass
        subprocess.run([sys.executable, "-c", loop], check=True)
        n = 0
        while evs := s.poll():
            n += sum(1 for e in evs if e.type == 1 and e.params[1] == 110)  # getppid = 110
        assert n >= 20000
        assert _prog_runs(bpftool, tp) - r2 >= 20000
        s.set_filter(KernelFilter(events=frozenset({"openat"})))
        assert s.probe.attached_tracepoints() == {"openat"}


def test_auto_mode_keeps_syscalls_without_tracepoint_visible(caplog):
    """``auto`` takes the per-syscall tracepoints when every wanted syscall has one; a wanted syscall not
    built into this kernel (no tracepoint, but its failing attempts matter to rules) keeps the global
    hook; ``tracepoint`` then warns instead."""
    require_root()
    from lanner.sources.ebpf.loader import Probe
    from lanner.sources.ebpf.tracefs import Tracefs
    caplog.set_level("INFO", logger="lanner")
    kf = KernelFilter(events=frozenset({"openat"}))
    with Probe(attach="auto").open(kf) as p:
        assert p.mode == "tracepoint" and p.attached_tracepoints() == {"openat"}
    has_tp = Tracefs.find_or_mount().exit_tracepoint("finit_module") is not None
    kf = KernelFilter(events=frozenset({"openat", "finit_module"}))
    with Probe(attach="auto").open(kf) as p:
        assert p.mode == ("tracepoint" if has_tp else "tp_btf"), p.mode_reason
    with Probe(attach="tracepoint").open(kf) as p:
        assert p.mode == "tracepoint"
        if not has_tp:
            assert p.attached_tracepoints() == {"openat"}
            assert any(r.levelname == "WARNING" and "finit_module" in r.getMessage() for r in caplog.records)


def test_tracefs_unavailable_falls_back_to_tp_btf(monkeypatch, caplog):
    """No usable tracefs (simulated with LANNER_TRACEFS naming a missing directory): a warning, then
    the global tp_btf hook, which still captures."""
    require_root()
    from lanner.sources.ebpf.source import LiveSyscallSource
    monkeypatch.setenv("LANNER_TRACEFS", "/nonexistent/lanner-no-tracefs")
    caplog.set_level("WARNING", logger="lanner")
    with LiveSyscallSource(KernelFilter(events=frozenset({"openat"})), scan_proc=False,
                           attach="auto") as s:
        assert s.probe.mode == "tp_btf"
        assert "fallback" in s.probe.mode_reason
        assert any("falling back to the global tp_btf" in r.getMessage() and "lanner-no-tracefs" in r.getMessage()
                   for r in caplog.records)
        s.poll()
        subprocess.run(["cat", "/etc/hostname"], check=True, stdout=subprocess.DEVNULL)
        time.sleep(0.05)
        assert any(e.type == 307 and e.params[2] == "/etc/hostname" for e in s.poll())


def test_open_pushdown(tmp_path):
    require_root()
    from lanner.sources.ebpf.source import LiveSyscallSource
    pref = str(tmp_path) + "/keep"
    kf = KernelFilter(events=frozenset({"openat"}),
                      open_filter=OpenFilter.simple(("write", "create"), (pref,)))
    code = (f"open({pref + '_a'!r}, 'w').close(); open({str(tmp_path) + '/other'!r}, 'w').close(); "
            f"open({pref + '_a'!r}).close(); open('/etc/hostname').close()")
    with LiveSyscallSource(kf, scan_proc=False) as s:
        s.poll()
        before = s.probe.counters()["filtered"]
        subprocess.run([sys.executable, "-c", code], check=True)
        time.sleep(0.05)
        names = [(e.params[2], e.params[3]) for e in s.poll() if e.type == 307]
        filtered = s.probe.counters()["filtered"] - before
    kept = [n for n, _ in names if n.startswith(str(tmp_path))]
    assert kept == [pref + "_a"]                      # write under prefix only; read + other path dropped
    assert not any(n == "/etc/hostname" for n, _ in names)
    assert filtered >= 3


def test_prefix_words():
    w, m = open_prefix_words("/etc/")
    assert w[0] == int.from_bytes(b"/etc/\0\0\0", "little") and m[0] == 0xFFFFFFFFFF and m[1] == 0
