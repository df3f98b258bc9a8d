"""A down target and a hanging target: capture never waits, the others keep receiving, books balance."""

from __future__ import annotations

import socket
from pathlib import Path

from lanner.config import Config
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from tests.conftest import finishes
from tests.outputs.helpers import RecordingServer, make_alert


def test_down_and_hanging_targets_do_not_block(http_server: RecordingServer, tmp_path: Path) -> None:
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(100)                       # accepts connections (kernel backlog), never answers
    out = tmp_path / "events.json"
    n = 300
    p = OutputPipeline.from_config(Config(data={
        "json_output": True,
        "file_output": {"enabled": True, "filename": str(out), "keep_alive": True},
        "fanout_close_timeout_ms": 500,
        "fanout": [
            {"type": "webhook", "name": "good", "url": http_server.url + "/good"},
            {"type": "webhook", "name": "down", "url": "http://127.0.0.1:1/x", "retries": 2, "backoff_ms": 5},
            {"type": "webhook", "name": "hang", "url": f"http://127.0.0.1:{hang.getsockname()[1]}/x",
             "timeout_ms": 300, "retries": 1, "backoff_ms": 5, "queue_capacity": 10},
        ]}), AlertFormatter(json_output=True, hostname="h"))
    try:
        # waiting on "hang" (0.3 s timeout, one retry) would make these submits take minutes
        accepted = finishes(lambda: [p.submit(make_alert(i)) for i in range(n)], within=30)
        assert accepted == [True] * n
        assert len(http_server.wait_for(n, timeout=30)) == n
    finally:
        p.close()
        hang.close()
    assert out.read_text().count("\n") == n
    st = p.stats()
    assert st["channels"]["file"]["sent"] == n and st["outputs_queue_num_drops"] == 0
    fo = st["fanout"]
    for name, s in fo.items():
        assert s["produced"] == n, name
        assert s["sent"] + s["failed"] + s["dropped"] == n, (name, s)
    assert fo["good"]["sent"] == n
    # what "down" had not yet tried when shutdown's deadline came is dropped, the rest failed after retries
    # (2 retries per failed alert, plus those of the one alert in flight when shutdown dropped it)
    assert fo["down"]["sent"] == 0 and fo["down"]["failed"] > 0
    assert 0 < fo["down"]["retries"] <= 2 * fo["down"]["failed"] + 2
    assert fo["hang"]["sent"] == 0 and fo["hang"]["dropped"] >= n - 20
    assert [r.json()["output_fields"]["n"] for r in http_server.requests] == list(range(n))
