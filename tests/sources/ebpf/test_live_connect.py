"""A loopback connection storm through the real probe (root): every connection's socket, connect,
accept and close updates the state from the record bytes, closed connections leave the fd tables, and
the connections rules look at carry the right endpoints on both sides."""

from __future__ import annotations

import subprocess
import sys

from lanner.state import fds as F
from tests.conftest import require_root
from tests.sources.ebpf.livehelp import LiveRunner

RULES = """
- rule: marker connect
  desc: t
  condition: evt.type = connect and evt.rawres >= 0 and fd.sport = PORT
  output: "connect pid=%proc.pid name=%fd.name cport=%fd.cport"
  priority: WARNING
- rule: marker accept
  desc: t
  condition: evt.type in (accept, accept4) and fd.sport = PORT
  output: "accept pid=%proc.pid name=%fd.name"
  priority: WARNING
"""

# N connections to a listener of its own (accepted and closed by a thread), then the marker connection
# to PORT (accepted by a second listener), then it waits for the test before exiting
WORKLOAD = r"""
import socket, sys, threading
n, marker_port = int(sys.argv[1]), int(sys.argv[2])
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(4096)
marker = socket.socket(); marker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
marker.bind(("127.0.0.1", marker_port)); marker.listen(8)
def acceptor():
    for _ in range(n):
        c, _ = srv.accept(); c.close()
t = threading.Thread(target=acceptor); t.start()
for _ in range(n):
    s = socket.create_connection(srv.getsockname()); s.close()
t.join()
s = socket.create_connection(("127.0.0.1", marker_port))
c, _ = marker.accept()
print(s.getsockname()[1], flush=True)
s.close(); c.close()
sys.stdin.readline()
"""


def _free_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_connection_storm_state_and_alerts():
    require_root()
    port = _free_port()
    live = LiveRunner(RULES.replace("PORT", str(port))).start()
    p = subprocess.Popen([sys.executable, "-c", WORKLOAD, "2000", str(port)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdin is not None
        cport = int(p.stdout.readline())
        name = f"127.0.0.1:{cport}->127.0.0.1:{port}"
        con = live.wait_alert(lambda a: a.rule == "marker connect" and a.output_fields.get("proc.pid") == p.pid,
                              timeout=60)
        acc = live.wait_alert(lambda a: a.rule == "marker accept" and a.output_fields.get("proc.pid") == p.pid,
                              timeout=60)
        assert con is not None and acc is not None
        # the client's and the server's view of the connection: client -> server on both
        assert con.output_fields["fd.name"] == name and con.output_fields["fd.cport"] == cport
        assert acc.output_fields["fd.name"] == name
        c = live.live_source.counters()
        assert c["drops_rule"] == 0 and c["drops_state"] == 0, c   # a ring this size holds the whole storm
        # the 2001 closed connections and their accepted sockets left the process's fd table: only the
        # two listeners remain (the marker connection's closes come after the alerts; wait for them)
        g = live.state.threads.get(p.pid).group

        def ip_fds() -> list:
            return sorted(F.TYPENAME[f.type] for f in list(g.fds.values()) if f.type in F.IP_TYPES)

        left = live.wait_alert(lambda _a: len(ip_fds()) == 2, timeout=30)
        assert left is not None, ip_fds()
        listeners = [f for f in list(g.fds.values()) if f.type in F.IP_TYPES]
        assert ip_fds() == ["ipv4", "ipv4"] and not [f.name for f in listeners if "->" in f.name], listeners
    finally:
        if p.stdin is not None:
            p.stdin.close()
        p.wait(30)
        live.close()
