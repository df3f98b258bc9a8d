"""Live probe tests (root): real commands, decoded events checked against what the test knows."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from lanner.run.syscalls import STATE_EVENTS
from lanner.sources.ebpf.filters import KernelFilter
from tests.conftest import require_root


@pytest.fixture(scope="module")
def live():
    require_root()
    from lanner.sources.ebpf.source import LiveSyscallSource
    src = LiveSyscallSource(KernelFilter(events=frozenset({"openat", "open", "execve", "connect", "unlinkat",
                                                           "unlink", "procexit", "clone", "clone3"}) | STATE_EVENTS),
                            scan_proc=True)
    src.open()
    src.history = []
    yield src
    src.close()


def collect(src, pred, timeout=30.0):
    """Events matching pred seen within timeout seconds."""
    end = time.monotonic() + timeout
    while True:
        src.history.extend(src.poll())
        found = [e for e in src.history if pred(e)]
        if found or time.monotonic() > end:
            return found
        time.sleep(0.01)


def test_snapshot_has_this_process(live):
    me = [e for e in live.snapshot if e.tid == os.getpid()]
    assert me and me[0].pid == os.getpid()
    assert me[0].ptid == os.getppid()
    assert me[0].cwd == os.getcwd()
    assert any(f.fd == 0 for f in me[0].fds)


def test_cat_shadow(live, tmp_path):
    p = subprocess.Popen(["cat", "/etc/shadow"], cwd=tmp_path, stdout=subprocess.DEVNULL)
    assert p.wait() == 0
    # this test's own cat (other processes on the machine may run one too)
    execs = collect(live, lambda e: e.type == 293 and e.tid == p.pid and e.params[1] == "cat"
                    and b"/etc/shadow" in e.raw[2])
    assert execs, "no execve event for cat"
    ev = execs[0]
    prm = ev.params
    assert prm[0] == 0
    assert ev.tid == prm[3] == prm[4]
    assert prm[5] == os.getpid()          # ptid: this test process forked it
    assert prm[6] == str(tmp_path)        # cwd
    assert prm[13] == "cat"               # comm
    assert prm[26] == 0                   # euid
    assert prm[27] == os.path.realpath(shutil.which("cat"))
    opens = collect(live, lambda e: e.type == 307 and e.tid == ev.tid and e.params[2] == "/etc/shadow")
    assert opens, "no openat of /etc/shadow"
    o = opens[0].params
    assert o[0] >= 0 and o[1] == -100 and o[3] & 3 == 1   # fd, AT_FDCWD sign-extended, PPM O_RDONLY
    assert o[6] == os.stat("/etc/shadow").st_ino


def test_shell_spawned_by_python(live):
    subprocess.run(["sh", "-c", "exit 0"])
    evs = collect(live, lambda e: e.type == 293 and e.params[1] == "sh" and e.raw[2] == b"-c\0exit 0\0")
    assert evs
    assert evs[0].params[5] == os.getpid()


def test_write_under_tmp(live, tmp_path):
    target = tmp_path / "created.txt"
    code = f"open({str(target)!r}, 'w').write('x'); import os; os.unlink({str(target)!r})"
    subprocess.run([sys.executable, "-c", code], check=True)
    opens = collect(live, lambda e: e.type == 307 and e.params[2] == str(target))
    assert opens
    fl = opens[0].params[3]
    assert fl & 2 and fl & 4 and fl & 0x4000          # O_WRONLY, O_CREAT, O_F_CREATED
    assert opens[0].params[4] & 0o777                  # mode captured with O_CREAT
    unl = collect(live, lambda e: e.type in (301, 303) and str(target) in [str(x) for x in e.params])
    assert unl and unl[0].params[0] == 0


def test_connect_loopback(live):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    code = f"import socket; s=socket.socket(); s.connect(('127.0.0.1', {port})); print(s.getsockname()[1])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    sport = int(out.stdout)
    srv.close()
    evs = collect(live, lambda e: e.type == 23 and e.params[0] == 0 and e.params[1] is not None
                  and getattr(e.params[1], "dport", None) == port)
    assert evs, "no connect event"
    tup = evs[0].params[1]
    assert str(tup.sip) == "127.0.0.1" and str(tup.dip) == "127.0.0.1"
    assert tup.sport == sport
    assert evs[0].params[3].port == port


def test_exec_from_dev_shm(live):
    dst = "/dev/shm/lanner_test_true"
    shutil.copy(shutil.which("true"), dst)
    os.chmod(dst, 0o755)
    try:
        subprocess.run([dst], check=True)
    finally:
        os.unlink(dst)
    evs = collect(live, lambda e: e.type == 293 and e.params[27] == dst)
    assert evs
    assert evs[0].params[30] == dst and evs[0].params[1] == dst


def test_procexit(live):
    p = subprocess.Popen(["sh", "-c", "exit 3"])
    p.wait()
    evs = collect(live, lambda e: e.type == 186 and e.tid == p.pid)
    assert evs and evs[0].params[1] == 3


def test_no_userspace_or_kernel_drops(live):
    c = live.counters()
    assert c["kernel_drops"] == 0 and c["userspace_drops"] == 0
    assert c["events"] > 0
