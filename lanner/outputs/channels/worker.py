"""One output channel's own queue and thread, so a slow or hung channel delays nobody but itself.

A :class:`ChannelWorker` takes rendered messages without ever blocking (:meth:`offer`), delivers them in
order on its own thread, retries a failed delivery ``channel.retries`` times with a doubling backoff, and
keeps the books: once the worker is finished, ``sent + failed + dropped == produced``. A message is
*dropped* when the queue is full or when shutdown gives up on the channel (:meth:`abandon`); it is
*failed* when the channel raised on every attempt. Failures are logged with a throttle (the first one, then
at most one line per :data:`ERROR_LOG_INTERVAL_S` with the number left out), never one line per alert.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from lanner.core.alert import Alert
from lanner.outputs.channels.base import Channel

log = logging.getLogger("lanner.outputs")

ERROR_LOG_INTERVAL_S = 10.0
_REOPEN = object()


class ChannelWorker:
    """Queue + thread + counters of one channel. ``capacity`` 0 means unbounded."""

    def __init__(self, channel: Channel, *, capacity: int = 0, retry_backoff: float = 0.2) -> None:
        self.channel = channel
        self.name = channel.name
        self.capacity = capacity
        self.retries = max(0, int(getattr(channel, "retries", 0)))
        self.retry_backoff = retry_backoff
        self._q: deque[Any] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._abandoned = False
        self.busy_since: float | None = None    # monotonic start of the delivery in progress
        self._busy_msg = False
        self.busy_seq = 0
        self.last_progress = time.monotonic()
        self.produced = 0
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self.retried = 0
        self.timeouts = 0
        self._err_last = 0.0
        self._err_suppressed = 0
        self._thread = threading.Thread(target=self._run, name=f"output-{self.name}", daemon=True)
        self._thread.start()

    # ---- producer side ---------------------------------------------------------------------------

    def offer(self, alert: Alert, msg: str) -> bool:
        """Queue one message; False (counted as dropped) if the queue is full or the worker stopping."""
        with self._cond:
            self.produced += 1
            if self._stopping or (self.capacity and len(self._q) >= self.capacity):
                self.dropped += 1
                first = self.dropped == 1
            else:
                self._q.append((alert, msg))
                self._cond.notify()
                return True
        if first:
            log.error("%s output: queue full (%d), dropping alerts (counted per channel)", self.name, self.capacity)
        return False

    def reopen(self) -> None:
        with self._cond:
            if not self._stopping:
                self._q.append(_REOPEN)
                self._cond.notify()

    # ---- worker thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        ch = self.channel
        while True:
            with self._cond:
                while not self._q and not self._stopping:
                    self._cond.wait()
                if not self._q:
                    break
                item = self._q.popleft()
                self.busy_seq += 1
                self.busy_since = time.monotonic()
                self._busy_msg = item is not _REOPEN
            if item is _REOPEN:
                self._call(ch.reopen)
                with self._cond:
                    self.busy_since = None
                    if self._abandoned:
                        return
                continue
            ok = self._deliver(*item)
            with self._cond:
                self.busy_since = None
                if self._abandoned:
                    return
                if ok:
                    self.sent += 1
                else:
                    self.failed += 1
                self.last_progress = time.monotonic()
                self._cond.notify_all()
        self._call(ch.close)

    def _deliver(self, alert: Alert, msg: str) -> bool:
        delay = self.retry_backoff
        for attempt in range(self.retries + 1):
            try:
                self.channel.deliver(alert, msg)
                return True
            except Exception as e:  # noqa: BLE001 - a channel's failure is counted, never fatal
                if attempt < self.retries and not self._stopping and not getattr(e, "final", False):
                    self.retried += 1
                    time.sleep(delay)
                    delay *= 2
                    continue
                self._log_failure(e)
                return False
        return False

    def _log_failure(self, e: Exception) -> None:
        now = time.monotonic()
        if now - self._err_last >= ERROR_LOG_INTERVAL_S:
            more = f" ({self._err_suppressed} more failures not shown)" if self._err_suppressed else ""
            log.error("%s: %s%s", self.name, e, more)
            self._err_last = now
            self._err_suppressed = 0
        else:
            self._err_suppressed += 1

    def _call(self, fn: Any) -> bool:
        try:
            fn()
            return True
        except Exception as e:  # noqa: BLE001
            log.error("%s: %s", self.name, e)
            return False

    # ---- shutdown --------------------------------------------------------------------------------

    def stop(self) -> None:
        """No more messages; the thread drains the queue, closes the channel and exits."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stuck_for(self) -> float:
        """Seconds the delivery in progress has been running (0 when idle)."""
        t0 = self.busy_since
        return 0.0 if t0 is None else time.monotonic() - t0

    def abandon(self) -> int:
        """Give up on a channel that cannot finish: what is queued or in flight counts as dropped. The
        thread exits (and leaves the channel open) whenever its blocked call returns."""
        with self._cond:
            if self._abandoned or not self._thread.is_alive():
                return 0
            self._abandoned = True
            self._stopping = True
            lost = sum(1 for x in self._q if x is not _REOPEN) + (1 if self.busy_since is not None and self._busy_msg else 0)
            self._q.clear()
            self.dropped += lost
            self._cond.notify_all()
            return lost

    def idle(self) -> bool:
        with self._cond:
            return not self._q and self.busy_since is None

    def queued(self) -> int:
        with self._cond:
            return sum(1 for x in self._q if x is not _REOPEN)

    def stats(self) -> dict[str, int]:
        with self._cond:
            return {"produced": self.produced, "sent": self.sent, "failed": self.failed, "dropped": self.dropped,
                    "timeouts": self.timeouts, "retries": self.retried,
                    "queued": sum(1 for x in self._q if x is not _REOPEN)}
