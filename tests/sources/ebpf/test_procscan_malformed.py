"""The /proc scan that seeds live state, over a /proc tree written by the test (``host_root``): good
entries parse to their values; malformed ones (truncated or non-numeric stat, odd status and cgroup
lines, undecodable cmdline, missing files, a comm with parentheses) never end the scan, and a process
whose stat cannot be read as one is left out with a warning naming it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lanner.sources.ebpf.procscan import ProcScanner


def stat(pid: int, comm: str, ppid: int = 1) -> str:
    # pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt ...
    return f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 11 0 2 0 0 0 0 0 20 0 1 0 100 0 0\n"


def status(uid: int = 1000, gid: int = 1000, extra: str = "") -> str:
    return (f"Name:\tx\nUid:\t{uid}\t{uid}\t{uid}\t{uid}\nGid:\t{gid}\t{gid}\t{gid}\t{gid}\n"
            f"CapEff:\t0000000000000000\nVmSize:\t  1000 kB\nNSpid:\t{{pid}}\nNStgid:\t{{pid}}\n{extra}")


def proc(root: Path, pid: int, files: dict[str, str | bytes]) -> None:
    d = root / "proc" / str(pid)
    d.mkdir(parents=True)
    for name, data in files.items():
        (d / name).write_bytes(data if isinstance(data, bytes) else data.replace("{pid}", str(pid)).encode())


@pytest.fixture
def root(tmp_path: Path) -> Path:
    proc(tmp_path, 100, {"stat": stat(100, "good"), "status": status(), "cmdline": b"/bin/good\0-v\0",
                         "cgroup": "0::/system.slice/good.service\n", "loginuid": "1000"})
    proc(tmp_path, 101, {"stat": "101 (trunc"})                                       # truncated stat
    proc(tmp_path, 102, {"stat": "102 (nonnum) S x y z 0 -1 0 a 0 b 0\n"})             # non-numeric fields
    proc(tmp_path, 103, {"stat": stat(103, "odd"), "status": "Uid:\nGid:\tx\nNSpid:\n",  # odd status lines
                         "cgroup": "garbage\n0::/user.slice\n", "cmdline": b"\xff\xfe\0arg\0",
                         "loginuid": "not-a-number", "limits": "Max open files  unlimited  unlimited  files\n"})
    proc(tmp_path, 104, {"stat": stat(104, "we) (ird"), "status": status(0, 0)})       # ')' inside comm
    proc(tmp_path, 105, {})                                                           # no files at all
    (tmp_path / "proc" / "self").mkdir()                                              # not a pid
    return tmp_path


def test_malformed_entries_never_end_the_scan(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="lanner")
    entries = {e.tid: e for e in ProcScanner(str(root)).scan()}
    assert sorted(entries) == [100, 103, 104]
    good = entries[100]
    assert (good.comm, good.exe, good.args, good.ptid, good.uid, good.gid, good.loginuid, good.vmsize_kb) == \
        ("good", "/bin/good", ["-v"], 1, 1000, 1000, 1000, 1000)
    assert good.cgroups == ["cpuset=/system.slice/good.service", "cpu=/system.slice/good.service",
                            "cpuacct=/system.slice/good.service", "memory=/system.slice/good.service",
                            "pids=/system.slice/good.service", "blkio=/system.slice/good.service"]
    odd = entries[103]
    assert odd.comm == "odd" and odd.exe == "\ufffd\ufffd" and odd.args == ["arg"]
    assert odd.loginuid == 0xFFFFFFFF and odd.fdlimit == -1
    assert [c for c in odd.cgroups if c.startswith("cpu=")] == ["cpu=/user.slice"]
    assert entries[104].comm == "we) (ird" and entries[104].uid == 0
    warned = sorted(r.getMessage() for r in caplog.records if "skipping process" in r.getMessage())
    assert len(warned) == 2
    assert warned[0].startswith(f"skipping process 101: malformed entry under {root}/proc/101")
    assert warned[1].startswith(f"skipping process 102: malformed entry under {root}/proc/102")
