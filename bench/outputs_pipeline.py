"""Alerts/s through the output pipeline with JSON output, to a file and to a loopback HTTP server.

Measured: ``submit`` rate (the hot-path cost: JSON rendering + queue push, in the caller's thread)
and end-to-end rate (from the first submit until the worker has delivered the last alert and the
pipeline is closed). Run: ``.venv/bin/python bench/outputs_pipeline.py [N]``.
"""

from __future__ import annotations

import http.server
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lanner.config import Config  # noqa: E402
from lanner.core.alert import Alert  # noqa: E402
from lanner.core.priority import Priority  # noqa: E402
from lanner.outputs.format import AlertFormatter  # noqa: E402
from lanner.outputs.pipeline import OutputPipeline  # noqa: E402


def alerts(n: int) -> list[Alert]:
    base = time.time_ns()
    return [Alert(base + i, "Terminal shell in container", Priority.NOTICE, "syscall",
                  f"A shell was spawned in a container with an attached terminal | evt_type=execve user=root "
                  f"user_uid=0 process=bash command=bash -i terminal=34816 container_id=3ad7b26ded6d n={i}",
                  {"evt.type": "execve", "user.name": "root", "user.uid": 0, "proc.name": "bash",
                   "proc.cmdline": "bash -i", "proc.tty": 34816, "container.id": "3ad7b26ded6d", "n": i},
                  ("container", "shell", "mitre_execution"), "node1") for i in range(n)]


def run(label: str, cfg: dict, items: list[Alert]) -> None:
    p = OutputPipeline.from_config(Config(data=cfg), AlertFormatter(json_output=True, hostname="node1"))
    t0 = time.perf_counter()
    for a in items:
        p.submit(a)
    t1 = time.perf_counter()
    p.close(timeout=600)
    t2 = time.perf_counter()
    st = p.stats()
    ch = next(iter(st["channels"].values())) if st["channels"] else next(iter(st["fanout"].values()))
    n = len(items)
    print(f"{label:38s} n={n:6d}  submit {n / (t1 - t0):9.0f} alerts/s   end-to-end {n / (t2 - t0):8.0f} alerts/s"
          f"   sent={ch['sent']} failed={ch['failed']}")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a: object) -> None:
        pass


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    items = alerts(n)
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "events.json"
        run("file, keep_alive, unbuffered", {"json_output": True, "file_output": {
            "enabled": True, "filename": str(f), "keep_alive": True}}, items)
        run("file, keep_alive, buffered", {"json_output": True, "buffered_outputs": True, "file_output": {
            "enabled": True, "filename": str(f), "keep_alive": True}}, items)
        run("file, open/close per alert", {"json_output": True, "file_output": {
            "enabled": True, "filename": str(f)}}, items[: n // 4])
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/"
    run("http_output (loopback, same process)", {"json_output": True, "http_output": {"enabled": True, "url": url}},
        items[: n // 4])
    run("fanout webhook (loopback)", {"json_output": True, "fanout": [
        {"type": "webhook", "url": url, "queue_capacity": n}]}, items[: n // 4])
    srv.shutdown()
    print("machine: 2 cores; the HTTP server runs in the same process (it shares the GIL), so HTTP rates are a lower bound")


if __name__ == "__main__":
    main()
