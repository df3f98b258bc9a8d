"""The output pipeline: alerts leave the hot path through one queue to one worker thread.

``submit`` renders the message in the caller's thread (as Falco does) and pushes it without
blocking; a full bounded queue drops the new message and counts it. The worker hands every
message to the channels in Falco's fixed order (file, stdout, syslog, program, http, grpc), then to
the fan-out hub, which only enqueues per target and never waits. A watchdog reports a channel call
that takes longer than ``output_timeout`` ms; nothing is cancelled (Falco's behaviour).

Config keys read by :meth:`OutputPipeline.from_config`: ``json_output``, ``json_include_*``,
``time_format_iso_8601``, ``buffered_outputs``, ``outputs_queue.capacity``, ``output_timeout``,
``outputs.rate``/``outputs.max_burst`` (legacy limiter, rate 0 = off), ``stdout_output.*``,
``file_output.*``, ``syslog_output.*``, ``program_output.*``, ``http_output.*``, ``grpc.*``,
``grpc_output.*`` and lanner's ``fanout`` list (see :mod:`lanner.outputs.fanout.config`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any

from lanner.config import Config, ConfigError
from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.outputs.channels.base import Channel
from lanner.outputs.format import AlertFormatter
from lanner.outputs.ratelimit import TokenBucket

log = logging.getLogger("lanner.outputs")

_STOP = object()
_REOPEN = object()
_UNBOUNDED = 2**63 - 1


@dataclass
class ChannelStats:
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    timeouts: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "dropped": self.dropped, "timeouts": self.timeouts}


class OutputPipeline:
    """Queue + worker + channels (+ optional fan-out hub and gRPC server)."""

    def __init__(self, channels: list[Channel], *, formatter: AlertFormatter | None = None, capacity: int = 0,
                 rate: float = 0.0, max_burst: float = 1000.0, output_timeout_ms: int = 2000,
                 fanout: Any = None) -> None:
        self.formatter = formatter or AlertFormatter()
        self.channels = list(channels)
        self.fanout = fanout
        if fanout is not None:
            self.channels.append(fanout)
        self.capacity = capacity
        self._q: Any = queue.Queue(maxsize=capacity) if capacity > 0 else queue.SimpleQueue()
        self._bucket = TokenBucket(rate, max_burst) if rate > 0 else None
        self.output_timeout = max(1, output_timeout_ms) / 1000.0
        self._stats = {ch.name: ChannelStats() for ch in self.channels}
        self._lock = threading.Lock()
        self.submitted = 0
        self.accepted = 0
        self.rate_limited = 0
        self.queue_drops = 0
        self.control_drops = 0
        self._closed = False
        self._armed: tuple[str, float, int] | None = None
        self._seq = 0
        self._stop_watchdog = threading.Event()
        self._worker = threading.Thread(target=self._run, name="lanner-outputs", daemon=True)
        self._watchdog = threading.Thread(target=self._watch, name="lanner-outputs-watchdog", daemon=True)
        self._worker.start()
        self._watchdog.start()

    # ---- producers -------------------------------------------------------------------------------

    def submit(self, alert: Alert) -> bool:
        """Queue one alert without blocking. False if rate-limited, dropped (queue full) or closed."""
        if self._bucket is not None and alert.source != "internal":
            with self._lock:
                ok = self._bucket.claim()
                if not ok:
                    self.rate_limited += 1
            if not ok:
                log.debug("Skipping rate-limited notification for rule %s", alert.rule)
                return False
        with self._lock:
            self.submitted += 1
            if self._closed:
                self.queue_drops += 1
                return False
            try:
                self._q.put_nowait(alert)
            except queue.Full:
                self.queue_drops += 1
                if self.queue_drops == 1:
                    log.error("Outputs queue out of memory. Drop event and continue on ...")
                return False
            self.accepted += 1
        return True

    def internal(self, rule: str, priority: Priority, text: str, fields: dict[str, Any] | None = None,
                 time_ns: int | None = None) -> bool:
        """Submit an internal message (source ``internal``), e.g. drops or a failed hot restart."""
        return self.submit(Alert(time_ns=time.time_ns() if time_ns is None else time_ns, rule=rule,
                                 priority=priority, source="internal", message=text,
                                 output_fields=dict(fields or {})))

    def reopen(self) -> None:
        """SIGUSR1: files close/reopen, programs respawn (queued like any message, may be dropped)."""
        try:
            self._q.put_nowait(_REOPEN)
        except queue.Full:
            with self._lock:
                self.control_drops += 1

    # ---- worker ----------------------------------------------------------------------------------

    def _run(self) -> None:
        q = self._q
        pairs = [(ch, self._stats[ch.name]) for ch in self.channels]
        while True:
            item = q.get()
            if item is _STOP:
                break
            if item is _REOPEN:
                for ch, _ in pairs:
                    self._call(ch, ch.reopen)
                continue
            alert = item
            msg = self.formatter.render(alert)      # off the event path: the alert carries its values
            for ch, st in pairs:
                self._seq += 1
                self._armed = (ch.name, time.monotonic(), self._seq)
                try:
                    ch.deliver(alert, msg)
                    st.sent += 1
                except Exception as e:  # noqa: BLE001 - one channel's failure must not stop the others
                    st.failed += 1
                    log.error("%s: %s", ch.name, e)
                self._armed = None
        for ch, _ in pairs:
            if ch is not self.fanout:     # targets drain on their own deadline, in close()
                self._call(ch, ch.close)

    def _call(self, ch: Channel, fn: Any) -> None:
        self._seq += 1
        self._armed = (ch.name, time.monotonic(), self._seq)
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            log.error("%s: %s", ch.name, e)
        self._armed = None

    def _watch(self) -> None:
        reported = -1
        period = min(0.25, self.output_timeout / 4)
        while not self._stop_watchdog.wait(period):
            armed = self._armed
            if armed is None:
                continue
            name, t0, seq = armed
            if seq != reported and time.monotonic() - t0 > self.output_timeout:
                reported = seq
                st = self._stats.get(name)
                if st is not None:
                    st.timeouts += 1
                log.critical('"%s" output timeout, all output channels are blocked', name)

    # ---- shutdown --------------------------------------------------------------------------------

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until the queue is empty and the worker is between messages (tests, benchmarks)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._q.empty() and self._armed is None:
                time.sleep(0.01)
                if self._q.empty() and self._armed is None:
                    return True
            time.sleep(0.005)
        return False

    def close(self, timeout: float | None = None) -> None:
        """Flush every channel and stop; a channel stuck past ``output_timeout`` loses what is queued."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        wait = self.output_timeout if timeout is None else timeout
        end = time.monotonic() + wait
        stop_queued = False
        while not stop_queued and time.monotonic() < end:
            try:
                self._q.put_nowait(_STOP)
                stop_queued = True
            except queue.Full:
                time.sleep(0.01)
        if stop_queued:
            self._worker.join(max(0.0, end - time.monotonic()))
        if self._worker.is_alive():
            log.warning("output channels still blocked, discarding all remaining notifications")
            discarded = self._drain()
            for st in self._stats.values():
                st.dropped += discarded
            try:
                self._q.put_nowait(_STOP)
            except queue.Full:
                pass
            self._worker.join(wait)
        self._stop_watchdog.set()
        self._watchdog.join(1.0)
        if self.fanout is not None:
            self.fanout.close()

    def _drain(self) -> int:
        n = 0
        while True:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                return n
            if item is not _STOP and item is not _REOPEN:
                n += 1

    # ---- metrics ---------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Plain counters for metrics: queue, per channel and per fan-out target."""
        out: dict[str, Any] = {
            "submitted": self.submitted,
            "accepted": self.accepted,
            "rate_limited": self.rate_limited,
            "outputs_queue_num_drops": self.queue_drops,
            "control_drops": self.control_drops,
            "queue": {"capacity": self.capacity or _UNBOUNDED, "size": self._q.qsize()},
            "channels": {name: st.as_dict() for name, st in self._stats.items() if name != "fanout"},
        }
        if self.fanout is not None:
            out["fanout"] = self.fanout.stats()
        return out

    # ---- construction ----------------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Config, formatter: AlertFormatter | None = None, *, unbuffered: bool = False,
                    require_output: bool = True) -> OutputPipeline:
        """Build channels from falco.yaml keys; ``unbuffered`` is ``-U``."""
        from lanner.outputs.channels.factory import build_channels
        from lanner.outputs.fanout.config import build_fanout

        formatter = formatter or AlertFormatter.from_config(config)
        buffered = config.bool("buffered_outputs", False) and not unbuffered
        channels, any_enabled = build_channels(config, formatter, buffered)
        fanout = build_fanout(config, formatter)
        if require_output and not any_enabled and fanout is None:
            raise ConfigError("No output configured, please make sure at least one output is configured and enabled.")
        rate = config.float("outputs.rate", 0.0)
        if config.has("outputs.rate") or config.has("outputs.max_burst"):
            log.warning("outputs.rate/outputs.max_burst are legacy keys (removed in Falco 0.37); lanner applies them")
        capacity = config.int("outputs_queue.capacity", 0)
        if capacity < 0:
            raise ConfigError("key 'outputs_queue.capacity': must be >= 0")
        return cls(channels, formatter=formatter, capacity=capacity, rate=rate,
                   max_burst=config.float("outputs.max_burst", 1000.0),
                   output_timeout_ms=config.int("output_timeout", 2000), fanout=fanout)
