"""Live backend: lanner's eBPF probe, the state engine and the rules engine in this process.

The capture runs in a background thread for the whole test session; each scenario marks where its
alerts start, runs, waits for the probe to drain, and keeps only the alerts its own processes caused
(descendants of the scenario's root process or members of its session, or processes of the scenario's
container), so unrelated
host activity never counts for or against a case.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lanner.core.alert import Alert
from lanner.core.errors import LannerError
from lanner.events.base import PluginEvent
from lanner.events.syscall import SyscallEvent
from lanner.run.loop import LoopStats, run_loop
from lanner.run.syscalls import STATE_EVENTS
from lanner.testing.pipeline import Pipeline

log = logging.getLogger("lanner")


class LiveUnavailable(LannerError):
    """Live capture cannot run here (not root, probe missing, source not built yet)."""


@dataclass
class ScopedAlert:
    """An alert plus who caused it: the pid chain of the event's process and its container."""

    alert: Alert
    pids: frozenset[int]
    container_id: str
    sid: int = -1
    values: dict[str, Any] = field(default_factory=dict)


def _event_names(pipeline: Pipeline) -> frozenset[str] | None:
    from lanner.events import table
    codes = pipeline.engine.ruleset.interesting_codes()
    if codes is None:
        return None
    names = set(STATE_EVENTS)
    for c in codes:
        n = table.info(c).name
        if n and n not in ("NA", "syscall"):
            names.add(n)
    return frozenset(names)


class LiveCapture:
    """Run the probe into ``pipeline`` until :meth:`stop`; alerts are kept with their scope."""

    def __init__(self, pipeline: Pipeline, value_fields: tuple[str, ...] = (), ring_bytes: int = 64 << 20) -> None:
        if os.geteuid() != 0:
            raise LiveUnavailable("live capture needs root")
        try:
            from lanner.sources.ebpf.filters import KernelFilter
            from lanner.sources.ebpf.source import LiveSyscallSource
        except ImportError as e:
            raise LiveUnavailable(f"live source not available: {e}") from None
        self.pipeline = pipeline
        self.alerts: list[ScopedAlert] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.value_fields = value_fields
        self._processed_ts = 0
        self._idle_at = 0
        try:
            self.source = LiveSyscallSource(KernelFilter(events=_event_names(pipeline)), scan_proc=True,
                                            ring_bytes=ring_bytes)
        except Exception as e:  # noqa: BLE001 - any probe set-up problem means "unavailable"
            raise LiveUnavailable(f"live source failed: {e}") from None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LiveCapture:
        try:
            self.source.open()
        except Exception as e:  # noqa: BLE001
            raise LiveUnavailable(f"could not open the eBPF probe: {e}") from None
        st = self.pipeline.state
        for entry in self.source.snapshot:
            try:
                st.seed_thread(entry, link=False)
            except (TypeError, ValueError, AttributeError) as e:
                log.debug("seed of tid %s failed: %s", getattr(entry, "tid", "?"), e)
        st.finish_seeding()
        for entry in self.source.snapshot:
            for fd in getattr(entry, "fds", ()) or ():
                try:
                    st.seed_fd(entry.tid, fd)
                except (TypeError, ValueError, AttributeError):
                    pass
        self._thread = threading.Thread(target=self._loop, name="lanner-test-live", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.source.close()

    def _batches(self) -> Iterator[list[SyscallEvent] | None]:
        """The probe's events as polled; records when everything up to a moment went through the engine
        (``drain`` waits on that)."""
        while True:
            polled_at = time.time_ns()
            evs = self.source.poll()
            if not evs:
                self._idle_at = polled_at
                time.sleep(0.01)
                yield None
                continue
            yield evs
            self._processed_ts = evs[-1].ts

    def _loop(self) -> None:
        self.pipeline.engine.on_match = self._keep
        try:
            run_loop(self.pipeline.engine, self._batches(), self._stop, LoopStats("syscall"))
        except Exception as e:  # noqa: BLE001 - reported as a case error, never a hang
            log.exception("live capture loop failed")
            self.errors.append(f"live capture loop failed: {e!r}")

    def _keep(self, a: Alert, ev: SyscallEvent | PluginEvent) -> None:
        pids: set[int] = set()
        t = getattr(ev, "thread", None)
        cid = getattr(t, "container_id", "") or "" if t is not None else ""
        sid = getattr(t, "sid", -1) if t is not None else -1
        hops = 0
        st = self.pipeline.state
        while t is not None and hops < 64:
            pids.add(t.pid)
            pids.add(t.tid)
            t = st.parent_of(t)
            hops += 1
        values = self.pipeline.values(a.source, self.value_fields, ev)
        with self._lock:
            self.alerts.append(ScopedAlert(a, frozenset(pids), cid, sid, values))

    # ------------------------------------------------------------------ scenario helpers
    def drops(self) -> int:
        """Events the kernel or this process dropped so far (a failing case reports them)."""
        try:
            c = self.source.counters()
        except Exception:  # noqa: BLE001
            return 0
        return int(c.get("kernel_drops", 0)) + int(c.get("userspace_drops", 0))

    def mark(self) -> int:
        with self._lock:
            return len(self.alerts)

    def drain(self, settle: float = 0.6, timeout: float = 30.0) -> None:
        """Wait until every event up to now went through the engine (bounded by ``timeout``, generous: a
        loaded machine can leave the loop seconds behind, and judging a case early would miss its alerts)."""
        target = time.time_ns()
        end = time.monotonic() + timeout
        time.sleep(settle)
        while (time.monotonic() < end and self._processed_ts < target and self._idle_at < target
               and not self.errors):
            time.sleep(0.05)

    def since(self, mark: int, root_pid: int | None, container_id: str | None) -> list[ScopedAlert]:
        with self._lock:
            got = self.alerts[mark:]
        out = []
        for s in got:
            if root_pid is not None and root_pid in s.pids or container_id and s.container_id and (container_id.startswith(s.container_id)
                                                       or s.container_id.startswith(container_id)):
                out.append(s)
        return out

