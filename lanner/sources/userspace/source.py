"""The userspace syscall source: a traced command (or attached processes) as the probe's events.

The tracer (:mod:`.tracer`) stops the tracee only for the syscalls in the set the run layer derives
from the rules and the state engine (the same derivation as the kernel filter); each stop is decoded
into the probe's exit event(s) while the tracee is still stopped (:mod:`.decode`), then the tracee
runs on. Events are handed to the event loop in batches (at most ``flush_events`` events or
``flush_s`` seconds old, and whenever the tracer is idle), so rule evaluation never holds a tracee
stopped. The traced processes are seeded from their own ``/proc/<pid>`` (and their ancestors', for
``proc.pname``/``proc.aname``) through the ``seed`` callback the run layer passes in: a source imports
nothing from the state engine.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from lanner.events.syscall import SyscallEvent
from lanner.sources.ebpf.filters import NR_BY_NAME, KernelFilter
from lanner.sources.ebpf.ia32 import IA32_TO_NATIVE
from lanner.sources.ebpf.procscan import ProcEntry, ProcScanner
from lanner.sources.userspace.decode import ENTER_NRS, Decoder

log = logging.getLogger("lanner")

Seed = Callable[[list[ProcEntry]], None]
_CLONE_NRS = frozenset(NR_BY_NAME[n] for n in ("clone", "clone3", "fork", "vfork"))
_IA32 = {n: NR_BY_NAME[name] for n, name in IA32_TO_NATIVE.items() if name in NR_BY_NAME}


def traced_syscalls(kfilter: KernelFilter) -> tuple[frozenset[int], bool]:
    """(native syscall numbers to stop, whether ``procexit`` events are wanted) for a kernel filter."""
    nrs = frozenset(kfilter.syscall_numbers())
    return nrs, kfilter.events is None or "procexit" in kfilter.events


def ancestors(pid: int, proc: str = "/proc") -> list[int]:
    """The parent chain of ``pid`` (nearest first, up to but excluding pid 0)."""
    out: list[int] = []
    seen = {pid}
    cur = pid
    while True:
        try:
            with open(f"{proc}/{cur}/status", "rb") as f:
                ppid = next((int(line.split()[1]) for line in f if line.startswith(b"PPid:")), 0)
        except (OSError, ValueError, IndexError):
            return out
        if ppid <= 0 or ppid in seen:
            return out
        out.append(ppid)
        seen.add(ppid)
        cur = ppid


class UserspaceSource:
    """Run ``argv`` (or attach to ``pids``) under the tracer and yield its syscalls as events.

    The tracer lives in a thread of its own (ptrace belongs to the thread that attached); after
    ``batches()`` ends ``exit_code`` holds the command's exit status (128+signal when killed), as a shell
    reports it."""

    def __init__(self, kfilter: KernelFilter, argv: list[str] | None = None, pids: Iterable[int] = (),
                 seed: Seed | None = None, snaplen: int = 80, env: dict[str, str] | None = None,
                 cwd: str | None = None, flush_events: int = 256, flush_s: float = 0.02, tick_s: float = 0.05,
                 proc: str = "/proc") -> None:
        self.nrs, self.procexit = traced_syscalls(kfilter)
        self.argv = list(argv or [])
        self.pids = [int(p) for p in pids]
        if not self.argv and not self.pids:
            raise ValueError("the userspace source needs a command or pids to attach to")
        self.seed = seed
        self.decoder = Decoder(snaplen=snaplen, proc=proc)
        self.env = env
        self.cwd = cwd
        self.flush_events = flush_events
        self.flush_s = flush_s
        self.tick_s = tick_s
        self.proc = proc
        self.exit_code = 0
        self.n_events = 0
        self.n_stops = 0
        self._num = 1
        self._seeded: set[int] = set()
        self._root_noted = False
        self._tracer: Any = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        #: batches, seed requests and the end, from the tracing thread to the loop's (bounded: a slow
        #: engine slows the tracee down instead of losing events)
        self._q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=64)

    # ------------------------------------------------------------------ tracer
    def _open(self) -> Iterator[Any]:
        from lanner.sources.userspace.tracer import Tracer

        dec = self.decoder

        def on_enter(nr: int, args: tuple[int, ...], reader: Any, tid: int) -> object | None:
            return dec.enter(tid, tid, nr, args, reader)

        enter_nrs = ENTER_NRS & self.nrs
        if self.argv:
            self._tracer = Tracer(syscalls=set(self.nrs), argv=self.argv, env=self.env, cwd=self.cwd,
                                  on_enter=on_enter, enter_nrs=enter_nrs, tick_s=self.tick_s)
        else:
            self._tracer = Tracer(syscalls=set(self.nrs), pids=self.pids, on_enter=on_enter, enter_nrs=enter_nrs,
                                  tick_s=self.tick_s)
        return iter(self._tracer.records())

    def signal(self, sig: int) -> None:
        """Forward a signal to the traced command."""
        if self._tracer is not None:
            self._tracer.signal(sig)

    def close(self) -> None:
        """End tracing (detach, or kill the traced command) and wait for the tracing thread; the exit status
        is in ``exit_code`` afterwards."""
        th = self._thread
        if th is None:
            return
        self._closing.set()
        if self._tracer is not None:
            self._tracer.stop()
        while th.is_alive():
            try:                      # unblock a tracing thread waiting on a full queue
                self._q.get(timeout=0.05)
            except queue.Empty:
                pass
            th.join(0.05)
        self._thread = None
        if self._tracer is not None and self._tracer.exit_code is not None:
            self.exit_code = int(self._tracer.exit_code)

    # ------------------------------------------------------------------ events
    def _seed_task(self, pid: int) -> list[ProcEntry]:
        """/proc entries of a newly traced process and of its ancestors not seen yet (read while it is stopped)."""
        if self.seed is None or pid in self._seeded:
            return []
        sc = ProcScanner(os.path.dirname(self.proc) or "/")
        entries: list[ProcEntry] = []
        for a in reversed(ancestors(pid, self.proc)):
            if a in self._seeded:
                continue
            self._seeded.add(a)
            for e in sc.scan_process(a):
                if e.tid == e.pid:
                    e.fds = []
                    entries.append(e)
        self._seeded.add(pid)
        entries.extend(sc.scan_process(pid))
        return entries

    def _decode(self, rec: Any, reader: Any) -> list[SyscallEvent]:
        kind = type(rec).__name__
        dec = self.decoder
        if kind == "SyscallRecord":
            if rec.ret is None:
                return []
            nr = rec.nr
            if getattr(rec, "arch", "x86_64") == "i386":
                mapped = _IA32.get(nr)
                if mapped is None:
                    return []
                nr = mapped
            self.n_stops += 1
            return dec.syscall(rec.ts, rec.pid, rec.tid, nr, tuple(rec.args), rec.ret, reader,
                               getattr(rec, "entry", None))
        if kind == "NewTask":
            if not self.nrs & _CLONE_NRS:
                return []
            return [dec.new_task(rec.ts, rec.child_tid, rec.tid, rec.pid, flags=rec.flags,
                                 kind=getattr(rec, "kind", "clone"))]
        if kind == "TaskExit":
            ev = dec.exit(rec.ts, rec.tid, rec.status)     # also drops what the decoder kept for the thread
            return [ev] if self.procexit else []
        if kind == "Attached":
            if self.argv and rec.pid == rec.tid and not self._root_noted:
                self._root_noted = True
                self.decoder.note_creator(rec.pid, threading.get_native_id())  # spawned by this thread
            entries = self._seed_task(rec.pid)
            if entries:
                self._put(("seed", entries))
        return []

    def _put(self, item: tuple) -> None:
        while not self._closing.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _trace(self) -> None:
        """The tracing thread: the tracer is created and driven here; decoded events leave in batches."""
        try:
            records = self._open()
            reader = self._tracer.reader
            pending: list[SyscallEvent] = []
            first = 0.0
            for rec in records:
                if rec is not None:
                    evs = self._decode(rec, reader)
                    if evs:
                        if not pending:
                            first = time.monotonic()
                        pending.extend(evs)
                    if not pending or (len(pending) < self.flush_events and time.monotonic() - first < self.flush_s):
                        continue
                if pending:
                    self._put(("events", pending))
                    pending = []
            if pending:
                self._put(("events", pending))
            self._put(("end", None))
        except BaseException as e:  # noqa: BLE001 - handed to the loop thread, raised there
            self._put(("end", e))

    def batches(self) -> Iterator[list[SyscallEvent] | None]:
        """Batches of events (None while idle) until the traced processes are gone. The tracer runs in a
        thread of its own, so rule evaluation (here, in the loop's thread) never keeps a tracee stopped;
        seeding happens here too, before the events of the seeded process."""
        self._closing.clear()
        self._thread = threading.Thread(target=self._trace, name="userspace-tracer", daemon=True)
        self._thread.start()
        while True:
            try:
                kind, val = self._q.get(timeout=self.tick_s)
            except queue.Empty:
                yield None
                continue
            if kind == "events":
                yield self._number(val)
            elif kind == "seed":
                if self.seed is not None:
                    self.seed(val)
            else:
                self._thread.join()
                self._thread = None
                if self._tracer is not None and self._tracer.exit_code is not None:
                    self.exit_code = int(self._tracer.exit_code)
                if val is not None:
                    raise val
                return

    def _number(self, evs: list[SyscallEvent]) -> list[SyscallEvent]:
        n = self._num
        for ev in evs:
            ev.num = n
            n += 1
        self._num = n
        self.n_events += len(evs)
        return evs

    def counters(self) -> dict[str, int]:
        return {"events": self.n_events, "stops": self.n_stops}


FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
                     signal.SIGWINCH)
