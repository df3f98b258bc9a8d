"""A hung HTTP receiver silences nobody (issue 19 item 2): replaying 939 alerts with http_output pointed at a
server that accepts and never answers, stdout and the file output still get all 939; the http channel's
losses are counted and reported at exit, and sent + failed + dropped == produced on every channel."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

from lanner.events.syscall import SyscallEvent
from lanner.sources.scap import MachineInfo, ScapWriter, ThreadRecord

N_ALERTS = 939
OPENAT_X = 307
O_RDONLY_PPM = 1


def write_capture(path: Path, n: int) -> None:
    """One ``cat`` opening /etc/shadow ``n`` times (fd 3, 4, ...)."""
    with ScapWriter(str(path)) as w:
        w.write_metadata(MachineInfo(hostname="testhost"),
                         threads=[ThreadRecord(tid=100, pid=100, ptid=1, comm="cat", exe="cat",
                                               exepath="/usr/bin/cat", args=[], cwd="/tmp")])
        for i in range(n):
            w.write(SyscallEvent.from_values(i + 1, 1_700_000_000_000_000_000 + i, 100, OPENAT_X,
                                             [3 + i, -100, "/etc/shadow", O_RDONLY_PPM, 0, 0, 1000 + i]))


class HangingReceiver:
    """Accepts connections and reads forever, never answering (a wedged webhook)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            self.accepted.set()

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


def test_hung_http_receiver_leaves_stdout_and_file_complete(tmp_path: Path) -> None:
    cap = tmp_path / "shadow.scap"
    write_capture(cap, N_ALERTS)
    rules = tmp_path / "rules.yaml"
    rules.write_text("- rule: shadow read\n  desc: d\n  condition: evt.type = openat and fd.name = /etc/shadow\n"
                     "  output: read %fd.name fd=%fd.num\n  priority: WARNING\n")
    out_file = tmp_path / "alerts.txt"
    rx = HangingReceiver()
    try:
        cmd = [sys.executable, "-m", "lanner", "-r", str(rules), "-o", "webserver.enabled=false",
               "-o", "engine.kind=replay", "-o", f"engine.replay.capture_file={cap}",
               "-o", "stdout_output.enabled=true", "-o", "file_output.enabled=true",
               "-o", f"file_output.filename={out_file}", "-o", "http_output.enabled=true",
               "-o", f"http_output.url=http://127.0.0.1:{rx.port}/", "-o", "output_timeout=500"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        rx.close()
    assert rx.accepted.is_set(), "lanner never reached the receiver"
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Traceback" not in p.stderr
    stdout_alerts = [ln for ln in p.stdout.splitlines() if "Warning read /etc/shadow" in ln]
    assert len(stdout_alerts) == N_ALERTS
    assert len(set(stdout_alerts)) == N_ALERTS
    file_alerts = [ln for ln in out_file.read_text().splitlines() if "Warning read /etc/shadow" in ln]
    assert file_alerts == stdout_alerts
    assert f"Events detected: {N_ALERTS}" in p.stdout
    m = re.search(r"http output: (\d+) alerts, (\d+) sent, (\d+) failed, (\d+) dropped", p.stderr)
    assert m, p.stderr[-3000:]
    produced, sent, failed, dropped = map(int, m.groups())
    assert produced == N_ALERTS and sent == 0 and sent + failed + dropped == produced and dropped > 0
    assert re.search(r"http output blocked at shutdown: \d+ alerts could not be delivered", p.stderr)


def test_per_channel_counters_reach_metrics() -> None:

    from lanner.outputs.channels.base import Channel
    from lanner.outputs.pipeline import OutputPipeline
    from lanner.server.metrics import EngineStats, engine_metrics
    from tests.outputs.helpers import make_alert

    class Stuck(Channel):
        name = "http"
        gate = threading.Event()

        def deliver(self, alert, msg) -> None:
            self.gate.wait(30)

    class Broken(Channel):
        name = "file"

        def deliver(self, alert, msg) -> None:
            raise OSError("read-only file system")

    p = OutputPipeline([Broken(), Stuck()], output_timeout_ms=100)
    for i in range(4):
        p.submit(make_alert(i))
    p.close(timeout=10)
    Stuck.gate.set()

    def counts(key: str) -> dict[str, int]:
        return {n: c[key] for n, c in p.stats()["channels"].items()}

    stats = EngineStats(outputs_by_channel=lambda: counts("sent"), output_errors_by_channel=lambda: counts("failed"),
                        output_drops_by_channel=lambda: counts("dropped"))
    got = {(m.name, dict(m.labels)["channel"]): m.value for m in engine_metrics(stats) if m.labels
           and m.name.startswith("outputs_")}
    assert got[("outputs_errors", "file")] == 4 and got[("outputs_dropped", "http")] == 4
    assert got[("outputs_sent", "file")] == 0 and got[("outputs_sent", "http")] == 0
    for ch in p.stats()["channels"].values():
        assert ch["sent"] + ch["failed"] + ch["dropped"] == ch["produced"] == 4


def test_fanout_losses_are_reported_at_exit(caplog) -> None:
    import logging

    from lanner.config import Config
    from lanner.outputs.format import AlertFormatter
    from lanner.outputs.pipeline import OutputPipeline
    from tests.outputs.helpers import make_alert

    p = OutputPipeline.from_config(Config(data={
        "fanout_close_timeout_ms": 2000,
        "fanout": [{"type": "webhook", "name": "down", "url": "http://127.0.0.1:1/x", "retries": 0}]}),
        AlertFormatter(hostname="h"), require_output=False)
    with caplog.at_level(logging.WARNING, "lanner.outputs"):
        for i in range(5):
            p.submit(make_alert(i))
        p.close()
    st = p.stats()["fanout"]["down"]
    assert st["produced"] == 5 and st["sent"] == 0 and st["failed"] + st["dropped"] == 5
    assert f"fanout down (webhook): 5 alerts, 0 sent, {st['failed']} failed, {st['dropped']} dropped" in caplog.text
