"""Live end to end (root): the probe, /proc seeding, state engine and rules engine in-process via
``run_live``; real commands must raise alerts within 2 s with field values the test knows."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from tests.conftest import require_root
from tests.sources.ebpf.livehelp import LiveRunner

OUT = ("pid=%proc.pid ppid=%proc.ppid cmd=%proc.cmdline uid=%user.uid cwd=%proc.cwd file=%fd.name "
       "name=%proc.name pname=%proc.pname exe=%proc.exepath sport=%fd.sport cport=%fd.cport")
RULES = f"""
- list: trusted_readers
  items: [login, sshd, passwd]
- macro: open_read
  condition: (evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0)
- rule: shadow read by untrusted program
  desc: t
  condition: open_read and fd.name = /etc/shadow and not proc.name in (trusted_readers)
  output: "shadow read {OUT}"
  priority: WARNING
- rule: shell spawned by non-shell
  desc: t
  condition: evt.type in (execve, execveat) and evt.dir=< and proc.name in (sh, bash, dash) and not proc.pname in (sh, bash, dash)
  output: "shell {OUT}"
  priority: NOTICE
- rule: file created below test dir
  desc: t
  condition: evt.type in (open, openat, openat2, creat) and evt.is_open_create=true and fd.name startswith /tmp/lanner-live-
  output: "created {OUT}"
  priority: ERROR
- rule: file removed below test dir
  desc: t
  condition: evt.type in (unlink, unlinkat) and evt.dir=< and evt.res=SUCCESS and (evt.arg.path startswith /tmp/lanner-live- or evt.arg.name startswith /tmp/lanner-live-)
  output: "removed {OUT}"
  priority: ERROR
- rule: loopback connect
  desc: t
  condition: evt.type=connect and evt.dir=< and fd.sip=127.0.0.1 and fd.sport=PORT
  output: "connect {OUT}"
  priority: NOTICE
- rule: exec from dev shm
  desc: t
  condition: evt.type in (execve, execveat) and evt.dir=< and proc.exepath startswith /dev/shm/
  output: "shm exec {OUT}"
  priority: WARNING
"""


def fields_of(a) -> dict:
    return a.output_fields


@pytest.fixture(scope="module")
def port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


@pytest.fixture(scope="module", params=["tracepoint", "tp_btf"])
def live(port, request):
    """The whole module runs once per syscall hook (engine.modern_ebpf.attach)."""
    require_root()
    r = LiveRunner(RULES.replace("PORT", str(port)),
                   {"engine": {"modern_ebpf": {"attach": request.param}}}).start()
    assert r.live_source.probe.mode == request.param, r.live_source.probe.mode_reason
    yield r
    r.close()
    assert r.error is None, r.error


def test_cat_shadow(live, tmp_path):
    p = subprocess.Popen(["cat", "/etc/shadow"], cwd=tmp_path, stdout=subprocess.DEVNULL)
    p.wait()
    a = live.wait_alert(lambda a: a.rule == "shadow read by untrusted program" and a.output_fields["proc.pid"] == p.pid)
    assert a is not None, [x.rule for x in live.alerts]
    f = fields_of(a)
    assert f["proc.ppid"] == os.getpid()
    assert f["proc.cmdline"] == "cat /etc/shadow"
    assert f["user.uid"] == 0
    assert f["proc.cwd"] == str(tmp_path) + "/"
    assert f["fd.name"] == "/etc/shadow"
    assert f["proc.exepath"] == os.path.realpath(shutil.which("cat"))


def test_shell_spawned_by_python(live, tmp_path):
    p = subprocess.Popen(["sh", "-c", "exit 0"], cwd=tmp_path)
    p.wait()
    a = live.wait_alert(lambda a: a.rule == "shell spawned by non-shell" and a.output_fields["proc.pid"] == p.pid)
    assert a is not None
    f = fields_of(a)
    assert f["proc.ppid"] == os.getpid()
    assert f["proc.name"] == "sh"
    assert f["proc.cmdline"] == "sh -c exit 0"
    assert f["proc.cwd"] == str(tmp_path) + "/"
    with open(f"/proc/{os.getpid()}/comm") as fh:
        assert f["proc.pname"] == fh.read().strip()


def test_file_created_then_removed(live):
    d = tempfile.mkdtemp(prefix="lanner-live-")
    target = os.path.join(d, "dropped.bin")
    code = f"import os; open({target!r}, 'w').write('x'); os.unlink({target!r})"
    p = subprocess.Popen([sys.executable, "-c", code], cwd=d)
    p.wait()
    os.rmdir(d)
    a = live.wait_alert(lambda a: a.rule == "file created below test dir" and a.output_fields["proc.pid"] == p.pid)
    assert a is not None
    f = fields_of(a)
    assert f["fd.name"] == target
    assert f["proc.ppid"] == os.getpid() and f["proc.cwd"] == d + "/"
    r = live.wait_alert(lambda a: a.rule == "file removed below test dir" and a.output_fields["proc.pid"] == p.pid)
    assert r is not None


def test_connect_loopback(live, port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(1)
    code = f"import socket; s=socket.socket(); s.connect(('127.0.0.1', {port})); print(s.getsockname()[1])"
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    cport = int(p.communicate()[0])
    srv.close()
    a = live.wait_alert(lambda a: a.rule == "loopback connect" and a.output_fields["proc.pid"] == p.pid)
    assert a is not None
    f = fields_of(a)
    assert f["fd.sport"] == port and f["fd.cport"] == cport
    assert f["fd.name"] == f"127.0.0.1:{cport}->127.0.0.1:{port}"
    assert f["proc.ppid"] == os.getpid()


def test_exec_from_dev_shm(live):
    dst = f"/dev/shm/lshm{os.getpid() % 100000}"  # < 16 chars: proc.name is the comm
    shutil.copy(shutil.which("true"), dst)
    os.chmod(dst, 0o755)
    try:
        p = subprocess.Popen([dst, "--lanner-arg"])
        p.wait()
    finally:
        os.unlink(dst)
    a = live.wait_alert(lambda a: a.rule == "exec from dev shm" and a.output_fields["proc.pid"] == p.pid)
    assert a is not None
    f = fields_of(a)
    assert f["proc.exepath"] == dst
    assert f["proc.cmdline"] == f"{os.path.basename(dst)} --lanner-arg"
    assert f["proc.ppid"] == os.getpid()


def test_pushdown_drops_uninteresting_opens(live):
    src = live.live_source
    before = src.counters()
    code = "for _ in range(2000): open('/etc/hostname').close()"
    subprocess.run([sys.executable, "-c", code], check=True)
    # 2000 opens + 2000 closes of a file no rule matches never reach userspace (drop counts depend on the
    # machine's load: bench/live_overhead.py reports them)
    deadline = time.monotonic() + 30
    while src.counters()["kernel_filtered"] - before["kernel_filtered"] < 4000 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert src.counters()["kernel_filtered"] - before["kernel_filtered"] >= 4000


def test_stats_count_events(live):
    subprocess.run(["cat", "/etc/hostname"], check=True, capture_output=True)
    deadline = time.monotonic() + 30
    while live.stats.events == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert live.stats.events > 0
    c = live.live_source.counters()
    assert {"kernel_drops", "userspace_drops", "kernel_filtered"} <= set(c)
    assert live.engine.stats.events >= live.stats.events


PD_RULES = """
- rule: shadow read
  desc: t
  condition: evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.num>=0 and fd.name = /etc/shadow
  output: "shadow file=%fd.name pid=%proc.pid"
  priority: WARNING
- rule: pam read
  desc: t
  condition: evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.directory = /etc/pam.d
  output: "pam file=%fd.name pid=%proc.pid"
  priority: WARNING
- rule: created in test dir
  desc: t
  condition: evt.type in (open,openat,openat2,creat) and evt.is_open_create=true and fd.name startswith /tmp/lanner-pd-
  output: "created file=%fd.name pid=%proc.pid"
  priority: WARNING
- rule: failed open in etc
  desc: t
  condition: evt.type in (open,openat,openat2) and evt.res != SUCCESS and fd.name startswith /etc/lanner-missing
  output: "failed file=%fd.name pid=%proc.pid"
  priority: WARNING
"""

PD_WORKLOAD = r"""
import os, sys
d = sys.argv[1]
os.chdir(d)
def op(p, fl=os.O_RDONLY):
    try:
        os.close(os.open(p, fl, 0o644))
    except OSError:
        pass
op("/etc/shadow"); op("/etc/hostname"); op("/etc/pam.d/other"); op("/etc/pam.d/../hostname")
op("../../../../etc/shadow"); op("/etc//shadow"); op("/etc/./shadow"); op("/etc/shadow", os.O_RDWR)
op("/etc/lanner-missing-file"); op("/etc/shadow-missing")
op(d + "/new.txt", os.O_WRONLY | os.O_CREAT); op(d + "/new.txt", os.O_WRONLY | os.O_CREAT)
op("/tmp/lanner-other-" + str(os.getpid()), os.O_WRONLY | os.O_CREAT); os.unlink("/tmp/lanner-other-" + str(os.getpid()))
os.unlink(d + "/new.txt")
for _ in range(500):
    op("/etc/hostname")
"""


def test_pushdown_never_drops_a_needed_event(tmp_path):
    """Two live loops with the same rules, one with the open push-down and one without: the same alerts
    for the workload's process, while the push-down drops the other opens in the kernel."""
    require_root()
    with_pd = LiveRunner(PD_RULES).start()
    without = LiveRunner(PD_RULES, {"engine": {"modern_ebpf": {"open_pushdown": False}}}).start()
    try:
        d = tempfile.mkdtemp(prefix="lanner-pd-")
        sub = os.path.join(d, "a", "b")
        os.makedirs(sub)
        before = with_pd.live_source.counters()["kernel_filtered_open"]
        p = subprocess.Popen([sys.executable, "-c", PD_WORKLOAD, sub])
        p.wait()
        assert p.returncode == 0

        def mine(r):
            return sorted((a.rule, a.output_fields["fd.name"]) for a in r.alerts
                          if a.output_fields.get("proc.pid") == p.pid)

        # both loops have seen the workload's late alert (its file's creation), then agree
        for r in (with_pd, without):
            assert r.wait_alert(lambda a: a.output_fields.get("proc.pid") == p.pid
                                and a.output_fields.get("fd.name") == sub + "/new.txt") is not None
        deadline = time.monotonic() + 30
        while mine(with_pd) != mine(without) and time.monotonic() < deadline:
            time.sleep(0.05)
        expected = mine(without)
        assert mine(with_pd) == expected
        assert ("shadow read", "/etc/shadow") in expected and len([e for e in expected if e[0] == "shadow read"]) == 5
        assert ("pam read", "/etc/pam.d/other") in expected
        assert ("created in test dir", sub + "/new.txt") in expected
        assert ("failed open in etc", "/etc/lanner-missing-file") in expected
        # 500+ opens (and their closes) of /etc/hostname and the /tmp/lanner-other file never left the kernel
        c = with_pd.live_source.counters()
        assert c["kernel_filtered_open"] - before >= 500 and c["kernel_filtered_close"] >= 500
        # without the open push-down no open or close is filtered (the failed closes of every process on a
        # busy machine are dropped by the failed-close filter and counted apart: kernel_failed_dropped)
        c = without.live_source.counters()
        assert c["kernel_filtered_open"] == 0 and c["kernel_filtered_close"] == 0
        shutil.rmtree(d, ignore_errors=True)
    finally:
        with_pd.close()
        without.close()
