"""The pipeline: queue overflow, channel order, watchdog, reopen, rate limit, shutdown, counters."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from lanner.config import Config, ConfigError
from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.outputs.channels.base import Channel
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from lanner.outputs.ratelimit import TokenBucket
from tests.outputs.helpers import make_alert


class Recorder(Channel):
    def __init__(self, name: str, log: list[tuple[str, str]], gate: threading.Event | None = None,
                 fail: bool = False) -> None:
        self.name = name
        self.log = log
        self.gate = gate
        self.fail = fail
        self.reopened = 0
        self.closed = False

    def deliver(self, alert: Alert, msg: str) -> None:
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail:
            raise OSError("disk on fire")
        self.log.append((self.name, msg))

    def reopen(self) -> None:
        self.reopened += 1

    def close(self) -> None:
        self.closed = True


def test_every_channel_receives_the_same_messages_in_order() -> None:
    log: list[tuple[str, str]] = []
    chans = [Recorder("file", log), Recorder("stdout", log), Recorder("http", log)]
    p = OutputPipeline(chans, formatter=AlertFormatter(json_output=True, hostname="h"))
    for i in range(3):
        assert p.submit(make_alert(i))
    p.close()
    per = {n: [m for c, m in log if c == n] for n in ("file", "stdout", "http")}
    assert per["file"] == per["stdout"] == per["http"] and len(per["file"]) == 3
    assert '"rule":"Test rule"' in per["file"][0] and '"n":1' in per["file"][1]
    assert all(c.closed for c in chans)
    assert p.stats()["channels"]["stdout"] == {"produced": 3, "sent": 3, "failed": 0, "dropped": 0, "timeouts": 0,
                                               "retries": 0, "queued": 0}


def test_failing_channel_does_not_stop_others(caplog: pytest.LogCaptureFixture) -> None:
    log: list[tuple[str, str]] = []
    p = OutputPipeline([Recorder("file", log, fail=True), Recorder("stdout", log)])
    with caplog.at_level(logging.ERROR, "lanner.outputs"):
        p.submit(make_alert())
        p.close()
    assert [n for n, _ in log] == ["stdout"]
    assert p.stats()["channels"]["file"]["failed"] == 1
    assert "file: disk on fire" in caplog.text


def test_failures_are_logged_throttled_not_per_alert(caplog: pytest.LogCaptureFixture) -> None:
    log: list[tuple[str, str]] = []
    p = OutputPipeline([Recorder("file", log, fail=True)])
    with caplog.at_level(logging.ERROR, "lanner.outputs"):
        for i in range(50):
            p.submit(make_alert(i))
        p.close()
    assert p.stats()["channels"]["file"]["failed"] == 50
    assert caplog.text.count("disk on fire") == 1


def test_bounded_queue_drops_new_messages_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    gate = threading.Event()
    log: list[tuple[str, str]] = []
    p = OutputPipeline([Recorder("stdout", log, gate)], capacity=3, channel_capacity=0)
    with caplog.at_level(logging.ERROR, "lanner.outputs"):
        results = [p.submit(make_alert(i)) for i in range(10)]
    # the dispatcher may already have moved some alerts to the channel's (unbounded here) queue
    accepted = sum(results)
    assert 3 <= accepted <= 10
    assert results[:3] == [True] * 3
    gate.set()
    p.close()
    st = p.stats()
    assert st["outputs_queue_num_drops"] == 10 - accepted
    assert st["channels"]["stdout"]["sent"] == accepted == len(log)
    assert caplog.text.count("Outputs queue out of memory") == (1 if accepted < 10 else 0)


def test_channel_queue_full_drops_only_on_that_channel() -> None:
    gate = threading.Event()
    log: list[tuple[str, str]] = []
    slow, fast = Recorder("http", log, gate), Recorder("stdout", log)
    slow.queue_capacity = 2
    p = OutputPipeline([fast, slow])
    for i in range(10):
        p.submit(make_alert(i))
    assert p.wait_idle(0.1) is False
    gate.set()
    p.close()
    st = p.stats()["channels"]
    assert st["stdout"]["sent"] == 10
    h = st["http"]
    assert h["produced"] == 10 and h["sent"] + h["dropped"] == 10 and h["dropped"] >= 7


def test_watchdog_reports_stuck_channel_and_shutdown_counts_what_it_held(caplog: pytest.LogCaptureFixture) -> None:
    gate = threading.Event()
    log: list[tuple[str, str]] = []
    p = OutputPipeline([Recorder("program", log, gate), Recorder("http", log)], output_timeout_ms=100)
    with caplog.at_level(logging.INFO, "lanner.outputs"):
        for i in range(5):
            p.submit(make_alert(i))
        assert p.wait_idle(0.05) is False
        # the other channel is not held up by the stuck one
        deadline = time.monotonic() + 10
        while sum(1 for n, _ in log if n == "http") < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sum(1 for n, _ in log if n == "http") == 5
        deadline = time.monotonic() + 10
        while "output timeout" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.01)
        assert '"program" output timeout: that channel is blocked, the others keep going' in caplog.text
        p.close(timeout=5)
        assert "program output blocked at shutdown: 5 alerts could not be delivered" in caplog.text
        assert "program output: 5 alerts, 0 sent, 0 failed, 5 dropped" in caplog.text
    gate.set()
    st = p.stats()["channels"]
    assert st["program"]["timeouts"] == 1
    assert st["program"]["dropped"] == 5 and st["program"]["sent"] == 0     # one was in flight
    assert st["http"] == {"produced": 5, "sent": 5, "failed": 0, "dropped": 0, "timeouts": 0, "retries": 0,
                          "queued": 0}
    assert p.undelivered_at_close == {"program": 5}


def test_reopen_reaches_every_channel() -> None:
    log: list[tuple[str, str]] = []
    a, b = Recorder("file", log), Recorder("program", log)
    p = OutputPipeline([a, b])
    p.reopen()
    p.submit(make_alert())
    p.close()
    assert a.reopened == b.reopened == 1 and len(log) == 2


def test_token_bucket_exact_semantics() -> None:
    tb = TokenBucket(rate=2.0, max_tokens=3, now_ns=0)
    assert [tb.claim(now_ns=0) for _ in range(4)] == [True, True, True, False]
    assert tb.claim(now_ns=500_000_000)                  # +1 token after 0.5 s at 2/s
    assert not tb.claim(now_ns=500_000_000)
    assert tb.claim(now_ns=100)                           # clock went back: u64 wrap refills to max
    assert tb.tokens == pytest.approx(2.0)


def test_legacy_rate_limit_skips_rule_alerts_not_internal() -> None:
    log: list[tuple[str, str]] = []
    cfg = Config(data={"outputs": {"rate": 0.001, "max_burst": 2}})
    p = OutputPipeline([Recorder("stdout", log)], rate=cfg.float("outputs.rate"),
                       max_burst=cfg.float("outputs.max_burst"))
    assert [p.submit(make_alert(i)) for i in range(4)] == [True, True, False, False]
    assert p.internal("Falco internal: test", Priority.DEBUG, "hi", {"a": 1})
    p.close()
    assert p.stats()["rate_limited"] == 2 and len(log) == 3


def test_internal_alert_text_and_json() -> None:
    log: list[tuple[str, str]] = []
    p = OutputPipeline([Recorder("stdout", log)], formatter=AlertFormatter(hostname="h", include_fields=False))
    ns = 1_767_621_801_000_000_005
    p.internal("Falco internal: timeouts notification", Priority.DEBUG,
               "Falco internal: timeouts notification. 1000 consecutive timeouts without event.",
               {"last_event_time": "none"}, time_ns=ns)
    p.internal("Falco internal: hot restart failure", Priority.CRITICAL, "x", time_ns=ns)
    p.close()
    line = log[0][1]
    assert line.endswith(": Debug Falco internal: timeouts notification. 1000 consecutive timeouts "
                         'without event. (last_event_time="none")')
    assert line[2] == ":" and line[8] == "."            # HH:MM:SS.nnnnnnnnn, never ISO
    assert log[1][1].endswith(": Critical x ()")
    fmt = AlertFormatter(json_output=True, hostname="h", include_fields=False, include_output=False)
    a = Alert(ns, "Falco internal: x", Priority.DEBUG, "internal", "t", {"k": 2})
    assert fmt.render(a) == ('{"hostname":"h","output":"t","output_fields":{"k":2},"priority":"Debug",'
                             '"rule":"Falco internal: x","source":"internal","time":"2026-01-05T14:03:21.000000005Z"}')


def test_from_config_order_and_no_output_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="No output configured"):
        OutputPipeline.from_config(Config(data={}))
    f = tmp_path / "events.txt"
    p = OutputPipeline.from_config(Config(data={
        "stdout_output": {"enabled": False}, "file_output": {"enabled": True, "filename": str(f)},
        "program_output": {"enabled": True, "program": f"cat >> {tmp_path / 'prog.txt'}"},
        "outputs_queue": {"capacity": 5}}))
    assert [c.name for c in p.channels] == ["file", "program"] and p.capacity == 5
    p.submit(make_alert())
    p.close()
    assert f.read_text().count("\n") == 1 and (tmp_path / "prog.txt").read_text() == f.read_text()


def test_failed_channel_init_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, "lanner.outputs"):
        p = OutputPipeline.from_config(Config(data={"file_output": {"enabled": True},
                                                    "stdout_output": {"enabled": True}}))
    assert [c.name for c in p.channels] == ["stdout"]
    assert "Failed to init output: file output enabled but no filename" in caplog.text
    p.close()
