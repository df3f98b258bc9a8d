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


def _prog_ids(bpftool: str) -> set[int]:
    out = subprocess.run([bpftool, "-j", "prog", "show"], capture_output=True, text=True).stdout or "[]"
    return {o["id"] for o in json.loads(out) if (o.get("name", "") or "").startswith("lanner_")}


def wait_gone(bpftool: str, mine: set, timeout: float = 3.0) -> set:
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
from lanner.sources.ebpf.source import LiveSyscallSource
s = LiveSyscallSource(scan_proc=False).open()
print("ready", flush=True)
time.sleep(30)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_nothing_left_after_kill(sig):
    require_root()
    bpftool = "/usr/sbin/bpftool" if os.path.exists("/usr/sbin/bpftool") else require_tool("bpftool")
    base = lanner_objects(bpftool)
    p = subprocess.Popen([sys.executable, "-c", CHILD.format(root=ROOT)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        mine = lanner_objects(bpftool) - base
        kinds = {k for k, _ in mine}
        assert kinds == {"prog", "map", "link"}, mine
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
    assert "needs root" in r.stdout and "Traceback" not in r.stderr


def test_syscall_filter_drops_in_kernel():
    require_root()
    from lanner.sources.ebpf.source import LiveSyscallSource
    loop = "import os\nfor _ in range(20000): os.getppid()"
    with LiveSyscallSource(KernelFilter(events=frozenset({"openat"}), extra_state=False), scan_proc=False) as s:
        s.poll()
        before = s.probe.counters()
        p = subprocess.run([sys.executable, "-c", loop])
        assert p.returncode == 0
        evs = s.poll()
        after = s.probe.counters()
        assert after["skipped"] - before["skipped"] >= 20000
        assert not any(e.type == 1 for e in evs)       # no generic getppid event reached userspace
        s.set_filter(KernelFilter(events=None))
        subprocess.run([sys.executable, "-c", loop])
        evs = s.poll()
        assert sum(1 for e in evs if e.type == 1 and e.params[1] == 110) >= 20000  # getppid = 110


def test_open_pushdown(tmp_path):
    require_root()
    from lanner.sources.ebpf.source import LiveSyscallSource
    pref = str(tmp_path) + "/keep"
    kf = KernelFilter(events=frozenset({"openat"}), extra_state=False,
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
