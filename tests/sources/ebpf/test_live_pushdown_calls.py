"""Live push-down beyond the open family (root, real probe): a workload of events no rule can match
(failed execs of a PATH search, failed setuids, refused connects, ptrace requests no rule names) is
filtered in the kernel, counted per family, while the events rules match still alert and the state
stays right (a process-tree alert after the filtered execs, a connection tuple after refused connects)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from tests.conftest import require_root
from tests.sources.ebpf.livehelp import LiveRunner

RULES = """
- rule: true under sh under workload
  desc: t
  condition: evt.type = execve and evt.res = SUCCESS and proc.name = true and proc.pname = sh
  output: "tree pid=%proc.pid ppid=%proc.ppid gp=%proc.apid[2] exe=%proc.exepath"
  priority: WARNING
- rule: setuid to nobody
  desc: t
  condition: evt.type = setuid and evt.res = SUCCESS and user.uid = 65534
  output: "setuid pid=%proc.pid uid=%user.uid"
  priority: WARNING
- rule: connect to port
  desc: t
  condition: evt.type = connect and evt.rawres >= 0 and fd.sport = PORT
  output: "connect pid=%proc.pid sport=%fd.sport sip=%fd.sip"
  priority: WARNING
- rule: traceme
  desc: t
  condition: evt.type = ptrace and evt.arg.request contains PTRACE_TRACEME
  output: "traceme pid=%proc.pid"
  priority: WARNING
"""

WORKLOAD = r"""
import ctypes, os, socket, subprocess, sys
port, dead = int(sys.argv[1]), int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
for _ in range(200):                      # failed execs: no rule, no state needs them
    try:
        os.execv("/nonexistent-lanner/x", ["x"])
    except OSError:
        pass
for _ in range(200):                      # failed setuids (uid -1 is EINVAL)
    libc.setuid(ctypes.c_uint32(0xFFFFFFFF))
for _ in range(200):                      # refused connects
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", dead))
    except OSError:
        pass
    s.close()
for _ in range(200):                      # PTRACE_PEEKDATA of a process not traced: no rule names it
    libc.ptrace(2, 1, 0, 0)
s = socket.create_connection(("127.0.0.1", port))
s.close()
pid = os.fork()
if pid == 0:
    libc.ptrace(0, 0, 0, 0)               # PTRACE_TRACEME
    os.setuid(65534)
    os._exit(0)
os.waitpid(pid, 0)
# sh searches PATH for a name that is nowhere (failed execs), then runs true as a child
subprocess.run(["sh", "-c", "lanner-no-such-cmd 2>/dev/null; true_=/bin/true; $true_; exit 0"], check=True)
"""


def test_call_pushdown_filters_in_kernel_and_keeps_alerts_and_state():
    require_root()
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    dead_sock = socket.socket()
    dead_sock.bind(("127.0.0.1", 0))
    dead = dead_sock.getsockname()[1]          # bound, never listening: connects are refused
    live = LiveRunner(RULES.replace("PORT", str(port))).start()
    try:
        before = live.live_source.counters()
        p = subprocess.Popen([sys.executable, "-c", WORKLOAD, str(port), str(dead)])
        assert p.wait(60) == 0
        conn, _ = srv.accept()
        conn.close()

        def mine(text: str, pid: int | None = None):
            return live.wait_alert(lambda a: a.rule == text and (pid is None or a.output_fields.get("proc.pid") == pid))

        a = mine("connect to port", p.pid)
        assert a is not None and a.output_fields["fd.sport"] == port and str(a.output_fields["fd.sip"]) == "127.0.0.1"
        tree = live.wait_alert(lambda a: a.rule == "true under sh under workload"
                               and a.output_fields.get("proc.apid[2]") == p.pid)
        assert tree is not None and tree.output_fields["proc.exepath"] == os.path.realpath("/bin/true")
        child = mine("traceme")
        assert child is not None
        su = mine("setuid to nobody", child.output_fields["proc.pid"])
        assert su is not None and su.output_fields["user.uid"] == 65534
        c = live.live_source.counters()
        d = {k: c[k] - before[k] for k in c if k.startswith("kernel_filtered_")}
        # the workload's own share; the rest of the machine can only add to it
        assert d["kernel_filtered_exec"] >= 200, d
        assert d["kernel_filtered_cred"] >= 200, d
        assert d["kernel_filtered_net"] >= 200, d
        assert d["kernel_filtered_ptrace"] >= 200, d
        assert not [a for a in live.alerts if a.rule == "traceme" and a.output_fields.get("proc.pid") == p.pid]
    finally:
        live.close()
        srv.close()
        dead_sock.close()
