"""The userspace source on a real traced command: the stopped syscalls come out as the probe's events,
the traced processes are seeded, the exit status is kept; nothing of state, rules or the run layer."""

from __future__ import annotations

import os

from lanner.sources.ebpf.filters import KernelFilter
from lanner.sources.userspace.source import UserspaceSource, ancestors, traced_syscalls


def collect(src: UserspaceSource) -> list:
    out = []
    for b in src.batches():
        if b:
            out.extend(b)
    return out


def test_traced_set_follows_the_filter():
    nrs, procexit = traced_syscalls(KernelFilter(events=frozenset({"openat", "execve", "procexit"})))
    assert nrs == {257, 59} and procexit
    nrs, procexit = traced_syscalls(KernelFilter(events=frozenset({"openat"})))
    assert nrs == {257} and not procexit


def test_command_events_seed_and_exit_code(tmp_path):
    seeded: list = []
    f = tmp_path / "data"
    f.write_text("x")
    kf = KernelFilter(events=frozenset({"execve", "clone", "clone3", "fork", "vfork", "openat", "procexit"}))
    src = UserspaceSource(kf, argv=["sh", "-c", f"cat {f} > /dev/null; exit 4"], seed=seeded.extend)
    evs = collect(src)
    assert src.exit_code == 4
    assert [e.num for e in evs] == list(range(1, len(evs) + 1))
    execs = [e for e in evs if e.type == 293 and e.res == 0]
    assert [e.param("exe") for e in execs] == ["sh", "cat"]
    cat = execs[1]
    assert cat.param("args") == f"{f}\0".encode() and cat.param("trusted_exepath") == "/usr/bin/cat"
    sh_pid = execs[0].tid
    assert cat.param("ptid") == sh_pid and cat.param("filename") == "/usr/bin/cat"
    opens = [e for e in evs if e.type == 307 and e.tid == cat.tid and e.param("name") == str(f)]
    assert len(opens) == 1 and opens[0].res >= 0 and opens[0].param("ino") == os.stat(f).st_ino
    clones = [e for e in evs if e.type in (223, 225, 227, 335)]
    assert {(e.tid, e.res) for e in clones} >= {(sh_pid, cat.tid), (cat.tid, 0)}
    exits = [e for e in evs if e.type == 186]
    assert {e.tid for e in exits} == {sh_pid, cat.tid}
    assert next(e for e in exits if e.tid == sh_pid).param("ret") == 4
    # seeded: the command before its exec, and its ancestors (this test process among them)
    tids = {e.tid for e in seeded}
    assert sh_pid in tids and os.getpid() in tids
    assert ancestors(os.getpid())[0] == os.getppid()


def test_unwanted_syscalls_are_not_stopped():
    kf = KernelFilter(events=frozenset({"openat"}))
    src = UserspaceSource(kf, argv=["sh", "-c", "exec cat /dev/null"])
    evs = collect(src)
    assert src.exit_code == 0
    assert evs and {e.type for e in evs} == {307}
    assert src.n_stops == len(evs)
