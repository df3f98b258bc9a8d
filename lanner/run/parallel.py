"""A capture replay over several cores (``engine.replay.workers``), with the alerts of one core.

The rules are the part of the work that divides: every worker process keeps the whole state (it reads
the capture and runs ``Engine.process`` on every event, as one core would), but its ruleset holds only
its share of the rules. Workers are forked after the rules are loaded, so the compiled rules are shared
copy-on-write and nothing is pickled but alerts. The parent only merges: it hands on the alerts in the
order of (event number, rule position), which is the single-core order; with ``rule_matching: first``
it keeps the lowest position per event, which is the first rule in load order that matched.

The shares are balanced by cost, estimated as each rule's candidate events in the first events of the
capture. What cannot be split falls back to one core (see :func:`why_single`).
"""

from __future__ import annotations

import heapq
import logging
import os
import pickle
import queue
import signal
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from lanner.config import Config, ConfigError
from lanner.core.alert import Alert
from lanner.core.errors import RunError
from lanner.engine import Engine
from lanner.events.base import PluginEvent
from lanner.events.syscall import SyscallEvent
from lanner.rules.compiled_rule import CompiledRule
from lanner.run.loop import LoopStats, replay_batches, run_loop, within
from lanner.sources.scap import ScapReader

log = logging.getLogger("lanner.run")

#: events sampled from the head of the capture to weigh the rules
SAMPLE = 50_000
#: events a worker processes between two reports to the parent
REPORT_EVERY = 2048

_LEN = struct.Struct("<I")


@dataclass
class _Share:
    """What one worker reports: alerts as (event number, rule position, alert), and how far it got."""

    alerts: list[tuple[int, int, Alert]] = field(default_factory=list)
    upto: int = 0


def replay_workers(config: Config) -> int:
    """``engine.replay.workers`` (lanner's own key; 1, one core, is Falco's behaviour)."""
    n = config.int("engine.replay.workers", 1)
    if n < 1:
        raise ConfigError(f"engine.replay.workers: expected a number of processes >= 1, got {n}")
    return n


def why_single(engine: Engine, capture_active: bool, simulate_drops: bool) -> str:
    """Why this replay must stay on one core ('' when it may be split)."""
    if capture_active:
        return "capture on alert needs every alert's event in one process"
    if simulate_drops:
        return "simulate_drops drives one drop monitor"
    if engine.parsers:
        return "plugin event parsers keep state in their library"
    if engine.state is None:
        return "no state engine"
    return ""


def weigh(rules: Iterable[CompiledRule], codes: Counter[int], all_codes: Iterable[int]) -> dict[str, int]:
    """Each rule's cost estimate: how many sampled events it is a candidate for (at least 1)."""
    every = sum(codes[c] for c in all_codes)
    return {r.name: max(1, every if r.evttypes is None else sum(codes[c] for c in r.evttypes)) for r in rules}


def split(rules: list[CompiledRule], weights: dict[str, int], n: int) -> list[set[str]]:
    """``n`` shares of rule names of about equal weight (heaviest first onto the lightest share)."""
    shares: list[set[str]] = [set() for _ in range(n)]
    heap = [(0, i) for i in range(n)]
    for r in sorted(rules, key=lambda r: -weights[r.name]):
        load, i = heapq.heappop(heap)
        shares[i].add(r.name)
        heapq.heappush(heap, (load + weights[r.name], i))
    return shares


def sample_codes(path: str, limit: int = SAMPLE) -> Counter[int]:
    """Event types of the first ``limit`` events of a capture (types only: parameters stay undecoded)."""
    counts: Counter[int] = Counter()
    with ScapReader(path) as r:
        for i, ev in enumerate(r):
            if i >= limit:
                break
            counts[ev.type] += 1
    return counts


def _send(fd: int, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_LEN.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _recv_exact(fd: int, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _recv(fd: int) -> Any:
    head = _recv_exact(fd, _LEN.size)
    if head is None:
        return None
    body = _recv_exact(fd, _LEN.unpack(head)[0])
    return None if body is None else pickle.loads(body)


def _worker(engine: Engine, names: set[str], path: str, duration_ns: int | None, fd: int,
            on_section: Callable[..., Any] | None) -> None:
    """One worker: the whole capture through the engine, its share of the rules; reports on ``fd``."""
    rs = engine.ruleset
    for r in rs.rules:
        if r.name not in names:
            rs.enabled[r.name] = False
    rs.reindex()
    position = {r.name: i for i, r in enumerate(rs.rules)}
    share = _Share()
    engine.on_alert = None

    def matched(a: Alert, ev: SyscallEvent | PluginEvent) -> None:
        share.alerts.append((ev.num, position[a.rule], a))
    engine.on_match = matched
    stats = LoopStats("syscall")
    with ScapReader(path, on_section=on_section) as reader:
        events: Iterable[SyscallEvent] = reader if duration_ns is None else within(reader, duration_ns)

        def reported() -> Iterator[Iterable[SyscallEvent]]:
            for i, batch in enumerate(replay_batches(events)):
                yield batch
                if i % (REPORT_EVERY // 256) == 0:
                    share.upto = reader.num
                    _send(fd, ("alerts", share.alerts, share.upto))
                    share.alerts = []
        run_loop(engine, reported(), threading.Event(), stats)
        share.upto = reader.num
    _send(fd, ("alerts", share.alerts, share.upto))
    _send(fd, ("end", stats.events, stats.cpu_s, engine.stats.events, engine.stats.eval_errors))


class ParallelReplay:
    """Runs ``workers`` forked replays of ``path`` and hands their merged alerts to ``emit``."""

    def __init__(self, engine: Engine, path: str, workers: int, emit: Callable[[Alert], object],
                 duration_ns: int | None = None) -> None:
        self.engine = engine
        self.path = path
        self.workers = workers
        self.emit = emit
        self.duration_ns = duration_ns
        self.first_only = not engine.match_all

    def shares(self) -> list[set[str]]:
        rules = self.engine.ruleset.enabled_rules()
        weights = weigh(rules, sample_codes(self.path), self.engine.ruleset.all_codes)
        return [s for s in split(rules, weights, self.workers) if s] or [set()]

    def run(self, stats: LoopStats, stop: threading.Event) -> None:
        shares = self.shares()
        pids: list[int] = []
        fds: list[int] = []
        for names in shares:
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:                                   # the worker
                os.close(r)
                code = 0
                try:
                    signal.signal(signal.SIGINT, signal.SIG_DFL)
                    _worker(self.engine, names, self.path, self.duration_ns, w,
                            self.engine.state.seed_from_capture if self.engine.state else None)
                except BaseException as e:  # noqa: BLE001 - reported to the parent, which stops the run
                    try:
                        _send(w, ("error", f"{type(e).__name__}: {e}"))
                    finally:
                        code = 1
                finally:
                    os._exit(code)
            os.close(w)
            pids.append(pid)
            fds.append(r)
        try:
            self._merge(fds, stats, stop)
        finally:
            for pid in pids:
                if stop.is_set():
                    try:
                        os.kill(pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
                os.waitpid(pid, 0)
            for fd in fds:
                os.close(fd)

    def _merge(self, fds: list[int], stats: LoopStats, stop: threading.Event) -> None:
        pending: list[tuple[int, int, int, Alert]] = []      # heap of (event, position, tiebreak, alert)
        upto = [0] * len(fds)
        done = [False] * len(fds)
        errors: list[str] = []
        seq = 0
        last_event = -1
        inbox: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=64)
        for i, fd in enumerate(fds):
            threading.Thread(target=_pump, args=(i, _messages(fd), inbox), daemon=True,
                             name=f"replay-worker-{i}").start()
        while not all(done):
            if stop.is_set():
                return
            try:
                i, msg = inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            if msg is None or msg[0] == "error":
                done[i] = True
                upto[i] = 1 << 62
                errors.append(msg[1] if msg else "a replay worker stopped")
                continue
            if msg[0] == "end":
                done[i] = True
                upto[i] = 1 << 62
                if i == 0:
                    stats.events = msg[1]
                    self.engine.stats.events = msg[3]
                stats.cpu_s += msg[2]
                self.engine.stats.eval_errors += msg[4]
                continue
            _, alerts, mark = msg
            for num, pos, a in alerts:
                heapq.heappush(pending, (num, pos, seq, a))
                seq += 1
            upto[i] = mark
            last_event = self._flush(pending, min(upto), last_event)
        self._flush(pending, 1 << 62, last_event)
        if errors:
            raise RunError("replay worker failed: " + "; ".join(errors))


    def _flush(self, pending: list[tuple[int, int, int, Alert]], upto: int, last_event: int) -> int:
        """Hand on the merged alerts of every event up to ``upto``; returns the last event handed on."""
        while pending and pending[0][0] <= upto:
            num, _pos, _seq, a = heapq.heappop(pending)
            if self.first_only and num == last_event:
                continue
            last_event = num
            self.engine.count_alert(a)
            self.emit(a)
        return last_event


def _messages(fd: int) -> Iterator[Any]:
    while True:
        msg = _recv(fd)
        yield msg
        if msg is None or msg[0] in ("end", "error"):
            return


def _pump(i: int, it: Iterator[Any], inbox: Any) -> None:
    for msg in it:
        inbox.put((i, msg))
