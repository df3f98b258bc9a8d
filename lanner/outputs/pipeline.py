"""The output pipeline: alerts leave the hot path through one queue, then every channel has its own.

``submit`` pushes the alert without blocking; a full bounded queue drops the new alert and counts it
(``outputs_queue_num_drops``). A dispatcher thread renders the message once and offers it to each
channel's :class:`~lanner.outputs.channels.worker.ChannelWorker` (its own queue and thread, in Falco's
fixed order file, stdout, syslog, program, http, grpc), then to the fan-out hub, which only enqueues per
target. Offering never waits, so a hung HTTP receiver holds up its own queue and nothing else. A watchdog
reports a channel whose delivery runs longer than ``output_timeout`` ms.

Per channel ``sent + failed + dropped == produced`` once the pipeline is closed. :meth:`close` stops
intake, lets every channel drain in parallel and gives up on a channel that has been stuck on one delivery
for ``output_timeout`` or is still busy at ``outputs_queue.flush_timeout_ms`` (default 10 s): what it still
held is counted as dropped and reported, with every channel's counters, in the exit summary.

Config keys read by :meth:`OutputPipeline.from_config`: ``json_output``, ``json_include_*``,
``time_format_iso_8601``, ``buffered_outputs``, ``outputs_queue.capacity``, ``output_timeout``,
``outputs.rate``/``outputs.max_burst`` (legacy limiter, rate 0 = off), ``stdout_output.*``,
``file_output.*``, ``syslog_output.*``, ``program_output.*``, ``http_output.*``, ``grpc.*``,
``grpc_output.*`` and lanner's ``outputs_queue.channel_capacity``, ``outputs_queue.flush_timeout_ms`` and
``fanout`` list (see :mod:`lanner.outputs.fanout.config`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from lanner.config import Config, ConfigError
from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.outputs.channels.base import Channel
from lanner.outputs.channels.worker import ChannelWorker
from lanner.outputs.format import AlertFormatter
from lanner.outputs.ratelimit import TokenBucket

log = logging.getLogger("lanner.outputs")

_STOP = object()
_REOPEN = object()
_UNBOUNDED = 2**63 - 1
DEFAULT_FLUSH_TIMEOUT_S = 10.0


class OutputPipeline:
    """Queue + dispatcher + one worker per channel (+ optional fan-out hub and gRPC server)."""

    def __init__(self, channels: list[Channel], *, formatter: AlertFormatter | None = None, capacity: int = 0,
                 rate: float = 0.0, max_burst: float = 1000.0, output_timeout_ms: int = 2000,
                 fanout: Any = None, channel_capacity: int | None = None,
                 flush_timeout_s: float = DEFAULT_FLUSH_TIMEOUT_S) -> None:
        self.formatter = formatter or AlertFormatter()
        self.channels = list(channels)
        self.fanout = fanout
        self.capacity = capacity
        self._q: Any = queue.Queue(maxsize=capacity) if capacity > 0 else queue.SimpleQueue()
        self._bucket = TokenBucket(rate, max_burst) if rate > 0 else None
        self.output_timeout = max(1, output_timeout_ms) / 1000.0
        self.flush_timeout = flush_timeout_s
        self.workers = [ChannelWorker(ch, capacity=self._channel_capacity(ch, channel_capacity))
                        for ch in self.channels]
        self._lock = threading.Lock()
        self.submitted = 0
        self.accepted = 0
        self.rate_limited = 0
        self.queue_drops = 0
        self.control_drops = 0
        self.undelivered_at_close: dict[str, int] = {}
        self._closed = False
        self._dispatching = False
        self._stop_watchdog = threading.Event()
        self._dispatcher = threading.Thread(target=self._run, name="lanner-outputs", daemon=True)
        self._watchdog = threading.Thread(target=self._watch, name="lanner-outputs-watchdog", daemon=True)
        self._dispatcher.start()
        self._watchdog.start()

    def _channel_capacity(self, ch: Channel, configured: int | None) -> int:
        if configured is not None:
            return max(0, configured)
        if self.capacity > 0:
            return self.capacity
        return int(getattr(ch, "queue_capacity", 0) or 0)

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

    # ---- dispatcher ------------------------------------------------------------------------------

    def _run(self) -> None:
        q = self._q
        workers = self.workers
        fanout = self.fanout
        while True:
            item = q.get()
            if item is _STOP:
                break
            if item is _REOPEN:
                for w in workers:
                    w.reopen()
                continue
            self._dispatching = True
            alert = item
            try:
                msg = self.formatter.render(alert)      # off the event path: the alert carries its values
            except Exception as e:  # noqa: BLE001 - one unrenderable alert must not stop the outputs
                log.error("cannot render alert of rule %s: %s", alert.rule, e)
                self._dispatching = False
                continue
            for w in workers:
                w.offer(alert, msg)
            if fanout is not None:
                try:
                    fanout.deliver(alert, msg)
                except Exception as e:  # noqa: BLE001
                    log.error("fanout: %s", e)
            self._dispatching = False
        for w in workers:
            w.stop()

    def _watch(self) -> None:
        reported: dict[str, int] = {}
        period = min(0.25, self.output_timeout / 4)
        while not self._stop_watchdog.wait(period):
            for w in self.workers:
                seq = w.busy_seq
                if w.stuck_for() > self.output_timeout and reported.get(w.name) != seq:
                    reported[w.name] = seq
                    w.timeouts += 1
                    log.critical('"%s" output timeout: that channel is blocked, the others keep going', w.name)

    # ---- shutdown --------------------------------------------------------------------------------

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every queue is empty and no channel is delivering (tests, benchmarks)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self._idle():
                time.sleep(0.01)
                if self._idle():
                    return True
            time.sleep(0.005)
        return False

    def _idle(self) -> bool:
        return self._q.empty() and not self._dispatching and all(w.idle() for w in self.workers)

    def close(self, timeout: float | None = None) -> None:
        """Stop intake and flush every channel, within bounds: a channel stuck on one delivery for
        ``output_timeout``, or still busy after ``timeout`` (default ``flush_timeout``), is given up and
        what it held is counted as dropped and reported."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        bound = self.flush_timeout if timeout is None else timeout
        end = time.monotonic() + bound
        while True:
            try:
                self._q.put_nowait(_STOP)
                break
            except queue.Full:      # the dispatcher never blocks, so the queue drains quickly
                time.sleep(0.005)
        self._dispatcher.join()
        pending = list(self.workers)
        while pending:
            now = time.monotonic()
            for w in list(pending):
                if w.join(0):
                    pending.remove(w)
                elif now >= end or w.stuck_for() > self.output_timeout:
                    lost = w.abandon()
                    pending.remove(w)
                    if lost:
                        self.undelivered_at_close[w.name] = lost
                        log.warning("%s output blocked at shutdown: %d alerts could not be delivered", w.name,
                                    lost)
            if pending:
                time.sleep(0.01)
        self._stop_watchdog.set()
        self._watchdog.join(1.0)
        if self.fanout is not None:
            self.fanout.close()
        self._log_summary()

    def _log_summary(self) -> None:
        for w in self.workers:
            st = w.stats()
            line = (f"{w.name} output: {st['produced']} alerts, {st['sent']} sent, {st['failed']} failed, "
                    f"{st['dropped']} dropped")
            if st["failed"] or st["dropped"]:
                log.warning(line)
            else:
                log.debug(line)
        if self.fanout is not None:
            for name, st in self.fanout.stats().items():
                line = (f"fanout {name} ({st.get('type', '?')}): {st['produced']} alerts, {st['sent']} sent, "
                        f"{st['failed']} failed, {st['dropped']} dropped")
                if st["failed"] or st["dropped"]:
                    log.warning(line)
                else:
                    log.debug(line)

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
            "channels": {w.name: w.stats() for w in self.workers},
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
        channel_capacity = config.int("outputs_queue.channel_capacity", -1)
        flush_ms = config.int("outputs_queue.flush_timeout_ms", int(DEFAULT_FLUSH_TIMEOUT_S * 1000))
        if flush_ms < 0:
            raise ConfigError("key 'outputs_queue.flush_timeout_ms': must be >= 0")
        return cls(channels, formatter=formatter, capacity=capacity, rate=rate,
                   max_burst=config.float("outputs.max_burst", 1000.0),
                   output_timeout_ms=config.int("output_timeout", 2000), fanout=fanout,
                   channel_capacity=None if channel_capacity < 0 else channel_capacity,
                   flush_timeout_s=flush_ms / 1000.0)
