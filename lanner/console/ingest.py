"""The writer between alert producers and the store: a bounded queue drained by one thread in batches.

Producers (the agent's output channel, the console's POST handler) only ``offer``: it never blocks and
counts what a full queue refuses. The writer inserts in batches, applies retention now and then, and
wakes the page's long-poll requests when new alerts are stored.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from lanner.console.record import Record
from lanner.console.store import SqlStore

log = logging.getLogger("lanner.console")


@dataclass
class Retention:
    max_age_s: float = 0.0        # 0 = keep forever
    max_alerts: int = 0           # 0 = no limit
    every_s: float = 10.0


class Ingestor:
    def __init__(self, store: SqlStore, *, capacity: int = 10000, retention: Retention | None = None,
                 batch: int = 500) -> None:
        self.store = store
        self.retention = retention or Retention()
        self.batch = batch
        self._q: queue.Queue[Record | None] = queue.Queue(maxsize=capacity)
        self.accepted = 0
        self.dropped = 0
        self.stored = 0
        self.failed = 0
        self.pruned = 0
        self.changed = threading.Condition()
        self.version = 0
        self._last_prune = 0.0
        self._thread = threading.Thread(target=self._run, name="lanner-console-writer", daemon=True)
        self._thread.start()

    def offer(self, rec: Record) -> bool:
        """Queue one alert without waiting; False (and counted) when the queue is full."""
        try:
            self._q.put_nowait(rec)
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                log.error("console: store queue full, dropping alerts (the store is slower than the alert rate)")
            return False
        self.accepted += 1
        return True

    def wait_change(self, version: int, timeout: float) -> int:
        """Block up to ``timeout`` s until a batch newer than ``version`` is stored; the current version."""
        with self.changed:
            if self.version == version and timeout > 0:
                self.changed.wait(timeout)
            return self.version

    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                item = self._q.get(timeout=1.0)
            except queue.Empty:
                self._maybe_prune()
                continue
            batch: list[Record] = []
            while True:
                if item is None:
                    stop = True
                else:
                    batch.append(item)
                if stop or len(batch) >= self.batch:
                    break
                try:
                    item = self._q.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
            self._maybe_prune()

    def _write(self, batch: list[Record]) -> None:
        for attempt in range(3):
            try:
                self.store.add(batch)
                break
            except Exception as e:  # noqa: BLE001 - a store outage must not kill the writer
                if attempt == 2:
                    self.failed += len(batch)
                    log.error("console: cannot store %d alert(s): %s", len(batch), e)
                    return
                time.sleep(0.2 * (attempt + 1))
        self.stored += len(batch)
        with self.changed:
            self.version += 1
            self.changed.notify_all()

    def _maybe_prune(self) -> None:
        r = self.retention
        if not (r.max_age_s or r.max_alerts) or time.monotonic() - self._last_prune < r.every_s:
            return
        self._last_prune = time.monotonic()
        try:
            older = time.time_ns() - int(r.max_age_s * 1e9) if r.max_age_s else 0
            self.pruned += self.store.prune(older_than_ns=older, keep_rows=r.max_alerts)
        except Exception as e:  # noqa: BLE001
            log.error("console: retention failed: %s", e)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything offered so far is stored (tests, shutdown)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.stored + self.failed >= self.accepted:
                return True
            time.sleep(0.01)
        return False

    def close(self, timeout: float = 5.0) -> None:
        try:
            self._q.put(None, timeout=timeout)
        except queue.Full:
            pass
        self._thread.join(timeout)

    def stats(self) -> dict[str, int]:
        return {"accepted": self.accepted, "dropped": self.dropped, "stored": self.stored, "failed": self.failed,
                "pruned": self.pruned, "queued": self._q.qsize()}
