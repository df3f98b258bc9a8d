"""Fan-out plumbing: a target, its own bounded queue and worker thread, and the hub channel.

A target only knows how to send one alert to its backend. :class:`TargetWorker` owns the queue,
retries transient failures with exponential backoff and keeps the books so that, for every target,
``sent + failed + dropped == produced`` once it is closed. :class:`FanoutHub` is the pipeline's last
channel: it only enqueues (never waits), so a down or hanging backend blocks nobody.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from lanner.core.alert import Alert
from lanner.core.errors import LannerError
from lanner.core.priority import Priority
from lanner.outputs.channels.base import Channel
from lanner.outputs.format import AlertFormatter

log = logging.getLogger("lanner.outputs")


class TransientError(LannerError):
    """Worth retrying: connection refused/reset, timeout, HTTP 429/5xx."""


class PermanentError(LannerError):
    """Retrying will not help: HTTP 4xx, bad credentials, rejected payload."""


class Target:
    """A backend. Subclasses set ``type_name`` and implement ``send``; options come from config."""

    type_name = "target"
    max_batch = 1          # > 1: the worker hands up to this many queued alerts to send_batch at once

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        self.name = name
        self.options = options

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        """Deliver one alert. ``event`` is Falco's JSON alert (output_fields incl. extra fields)."""
        raise NotImplementedError

    def send_batch(self, items: list[tuple[dict[str, Any], Alert]]) -> list[Exception | None]:
        """Deliver several alerts; one outcome per item (None = delivered), for backends that batch."""
        out: list[Exception | None] = []
        for event, alert in items:
            try:
                self.send(event, alert)
                out.append(None)
            except Exception as e:  # noqa: BLE001 - reported per item
                out.append(e)
        return out

    def close(self) -> None:
        """Release connections."""

    def __repr__(self) -> str:   # never show options: they may hold credentials
        return f"<{type(self).__name__} {self.name}>"


class TargetWorker:
    """One target's queue, thread, retries and counters."""

    def __init__(self, target: Target, *, min_priority: Priority = Priority.DEBUG, capacity: int = 10000,
                 retries: int = 3, backoff: float = 0.5, max_backoff: float = 10.0,
                 extra_fields: dict[str, Any] | None = None) -> None:
        self.target = target
        self.min_priority = min_priority
        self.capacity = max(1, capacity)
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.extra_fields = dict(extra_fields or {})
        self._q: deque[tuple[dict[str, Any], Alert]] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._abandoned = False
        self._inflight = 0
        self._deadline: float | None = None
        self.produced = 0
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.retried = 0
        self._thread = threading.Thread(target=self._run, name=f"fanout-{target.name}", daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        return self.target.name

    def offer(self, event: dict[str, Any], alert: Alert) -> None:
        """Enqueue without blocking; a full queue drops the alert (counted)."""
        with self._cond:
            self.produced += 1
            if self._stopping or len(self._q) >= self.capacity:
                self.dropped += 1
                return
            self._q.append((event, alert))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._q and not self._stopping:
                    self._cond.wait()
                if not self._q:
                    return
                batch = [self._q.popleft() for _ in range(min(len(self._q), max(1, self.target.max_batch)))]
                self._inflight = len(batch)
            if len(batch) == 1:
                sent = int(self._deliver(*batch[0]))
            else:
                sent = self._deliver_batch(batch)
            with self._cond:
                self._inflight = 0
                abandoned = self._abandoned
                if not abandoned:
                    self.sent += sent
                    self.failed += len(batch) - sent
                self._cond.notify_all()
            if abandoned:          # close() gave up on us: release the target from this thread
                self._close_target()
                return

    def _deliver(self, event: dict[str, Any], alert: Alert) -> bool:
        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                self.target.send(event, alert)
                return True
            except PermanentError as e:
                log.error("fanout %s (%s): %s", self.name, self.target.type_name, e)
                return False
            except TransientError as e:
                late = self._deadline is not None and time.monotonic() + delay > self._deadline
                if attempt == self.retries or late:
                    log.error("fanout %s (%s): giving up after %d attempts: %s", self.name,
                              self.target.type_name, attempt + 1, e)
                    return False
                self.retried += 1
                log.debug("fanout %s: retrying in %.2fs: %s", self.name, delay, e)
                time.sleep(delay)
                delay = min(delay * 2, self.max_backoff)
            except Exception as e:  # noqa: BLE001 - a target bug must not kill its worker
                log.error("fanout %s (%s): %s: %s", self.name, self.target.type_name, type(e).__name__, e)
                return False
        return False

    def _deliver_batch(self, batch: list[tuple[dict[str, Any], Alert]]) -> int:
        """Send a batch, retrying the items that failed transiently; returns how many were delivered."""
        pending, sent, delay = batch, 0, self.backoff
        for attempt in range(self.retries + 1):
            try:
                outcomes = self.target.send_batch(pending)
            except Exception as e:  # noqa: BLE001 - the whole batch shares the outcome
                outcomes = [e] * len(pending)
            retry: list[tuple[dict[str, Any], Alert]] = []
            last: Exception | None = None
            for item, err in zip(pending, outcomes, strict=True):
                if err is None:
                    sent += 1
                elif isinstance(err, TransientError):
                    retry.append(item)
                    last = err
                else:
                    log.error("fanout %s (%s): %s", self.name, self.target.type_name, err)
            if not retry:
                return sent
            late = self._deadline is not None and time.monotonic() + delay > self._deadline
            if attempt == self.retries or late:
                log.error("fanout %s (%s): giving up on %d alert(s) after %d attempts: %s", self.name,
                          self.target.type_name, len(retry), attempt + 1, last)
                return sent
            self.retried += len(retry)
            log.debug("fanout %s: retrying %d alert(s) in %.2fs: %s", self.name, len(retry), delay, last)
            time.sleep(delay)
            delay = min(delay * 2, self.max_backoff)
            pending = retry
        return sent

    def idle(self) -> bool:
        with self._cond:
            return not self._q and not self._inflight

    def close(self, deadline: float) -> None:
        """Let the worker drain until ``deadline`` (monotonic); what is left counts as dropped."""
        with self._cond:
            self._stopping = True
            self._deadline = deadline
            self._cond.notify_all()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            if self._thread.is_alive():
                self._abandoned = True
                self.dropped += len(self._q) + self._inflight
                self._q.clear()
                return
        self._close_target()

    def _close_target(self) -> None:
        try:
            self.target.close()
        except Exception as e:  # noqa: BLE001
            log.error("fanout %s: close: %s", self.name, e)

    def stats(self) -> dict[str, Any]:
        with self._cond:
            return {"type": self.target.type_name, "produced": self.produced, "sent": self.sent,
                    "failed": self.failed, "dropped": self.dropped, "retries": self.retried,
                    "queued": len(self._q)}


class FanoutHub(Channel):
    """The pipeline channel that feeds every target whose minimum priority the alert meets."""

    name = "fanout"

    def __init__(self, workers: list[TargetWorker], formatter: AlertFormatter, *, close_timeout: float = 5.0,
                 prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> None:
        self.workers = workers
        self.prepare = prepare      # alert-wide changes (falcosidekick's customfields, customtags...)
        self.close_timeout = close_timeout
        # targets always get the full JSON alert, whatever json_output/json_include_* say
        self.formatter = AlertFormatter(json_output=True, time_iso=formatter.time_iso, hostname=formatter.hostname)
        self._closed = False

    def deliver(self, alert: Alert, msg: str) -> None:
        event: dict[str, Any] | None = None
        for w in self.workers:
            if alert.priority > w.min_priority:
                continue
            if event is None:
                event = self.formatter.as_dict(alert)
                event.setdefault("output_fields", {})
                if self.prepare is not None:
                    event = self.prepare(event)
            ev = event
            if w.extra_fields:
                ev = dict(event)
                ev["output_fields"] = {**event["output_fields"], **w.extra_fields}
            w.offer(ev, alert)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if all(w.idle() for w in self.workers):
                return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        deadline = time.monotonic() + self.close_timeout
        for w in self.workers:
            with w._cond:
                w._stopping = True
                w._deadline = deadline
                w._cond.notify_all()
        for w in self.workers:
            w.close(deadline)

    def stats(self) -> dict[str, Any]:
        return {w.name: w.stats() for w in self.workers}
