"""The one event loop: every source's events go through ``Engine.process`` (state -> rules -> post-state).

A source is driven as a stream of *batches*: an iterable of events, or ``None`` when the source is idle
right now (the loop then only checks for shutdown). The run (``lanner``), ``lanner test``, ``bench/`` and
the tests all call :func:`run_loop`; what differs between sources is only how their batches are made:
:func:`replay_batches` (a capture, read lazily), :func:`plugin_batches` (a plugin-style source) and
``lanner.run.live.live_batches`` (the eBPF probe's ring buffer, with drop and timeout monitoring).
Several sources run at once as one thread each, all feeding the same engine.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice, takewhile
from typing import Any

from lanner.engine import Engine
from lanner.events.base import PluginEvent
from lanner.events.syscall import SyscallEvent
from lanner.sources.api import SourcePlugin

Ev = SyscallEvent | PluginEvent
Batches = Iterable[Iterable[Ev] | None]

#: events pulled from a capture between two shutdown checks
REPLAY_BATCH = 256


@dataclass
class LoopStats:
    """What one source's loop did: events the rules saw, CPU seconds, and the driver's counters."""

    source: str
    events: int = 0
    cpu_s: float = 0.0
    drops: int = 0
    driver_events: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def run_loop(engine: Engine, batches: Batches, stop: threading.Event, stats: LoopStats) -> None:
    """Feed every event of ``batches`` to ``engine.process`` until the batches end or ``stop`` is set."""
    process = engine.process
    is_set = stop.is_set
    n = stats.events
    start = time.process_time()
    try:
        for batch in batches:
            if is_set():
                break
            if batch is None:
                continue
            for ev in batch:
                process(ev)
                if not ev.hidden:
                    n += 1
            stats.events = n
    finally:
        stats.events = n
        stats.cpu_s += time.process_time() - start


def replay_batches(events: Iterable[SyscallEvent], size: int = REPLAY_BATCH) -> Iterator[Iterable[SyscallEvent]]:
    """A capture's events in lazy batches: nothing is read ahead of the engine, so a new section's state
    reset lands between the right events."""
    it = iter(events)
    for head in it:
        yield chain((head,), islice(it, size - 1))


def within(events: Iterable[SyscallEvent], duration_ns: int) -> Iterator[SyscallEvent]:
    """The events within ``duration_ns`` of event time from the first (``-M`` on a capture)."""
    it = iter(events)
    first = next(it, None)
    if first is None:
        return iter(())
    limit = first.ts + duration_ns
    return takewhile(lambda ev: ev.ts <= limit, chain((first,), it))


def merge_async(batches: Batches, pending: deque[Ev] | None) -> Batches:
    """``batches`` with the async events plugins queued in ``pending`` (from their own threads) fed in
    between, on the source's own thread, so state is only ever updated by the loop."""
    if pending is None:
        return batches

    def merged() -> Iterator[Iterable[Ev] | None]:
        for b in batches:
            if pending:
                evs = []
                while pending:
                    evs.append(pending.popleft())
                yield evs
            yield b

    return merged()


def plugin_batches(plugin: SourcePlugin, params: str) -> Iterator[tuple[Ev] | None]:
    """A plugin-style source's events, one per batch (``None`` while it has nothing)."""
    for ev in plugin.open(params):
        yield None if ev is None else (ev,)  # type: ignore[misc]  # plugin sources make PluginEvents
