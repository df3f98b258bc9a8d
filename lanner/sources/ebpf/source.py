"""Live syscall source: the probe's ring buffer decoded into ``SyscallEvent`` objects.

Start-up has no blind spot: the probe is attached and buffering *before* /proc is scanned; records
that arrive during the scan are drained into memory (so the ring cannot overflow) and delivered after
the snapshot. Consumption is a timer poll (``poll_interval``, 10 ms by default): the probe writes with
``BPF_RB_NO_WAKEUP``, so no wakeup is paid per event, and a small C helper copies every ready record
into one batch buffer per poll (pure-Python fallback when the helper is missing).
"""

from __future__ import annotations

import signal
import struct
import time
from collections.abc import Iterator
from typing import Any

from lanner.events.syscall import SyscallEvent
from lanner.sources.api import SourceError, SourcePlugin
from lanner.sources.ebpf.filters import KernelFilter
from lanner.sources.ebpf.loader import Probe
from lanner.sources.ebpf.procscan import ProcEntry, ProcScanner

_HDR = struct.Struct("<QQIHI")


_LENS = [struct.Struct(f"<{n}H") for n in range(64)]

#: events decoded per ``next_batch()`` (the live loop): a drain holds up to 1 MB (over ten thousand records); decoding it in
#: small batches keeps the events short-lived for the cyclic GC (one 60k-event list made every
#: collection walk it) and bounds the agent's memory when it runs behind.
BATCH_EVENTS = 512


def split_records(buf: bytes, first_num: int = 1) -> list[SyscallEvent]:
    """Decode concatenated event records (event-model 1) into SyscallEvents numbered from first_num."""
    return split_batch(buf, 0, first_num, len(buf))[0]


def split_batch(buf: bytes, off: int, first_num: int, limit: int) -> tuple[list[SyscallEvent], int]:
    """Up to ``limit`` SyscallEvents from the records of ``buf`` starting at offset ``off``, numbered from
    ``first_num``; returns them and the offset of the first record not decoded."""
    out: list[SyscallEvent] = []
    append = out.append
    n = len(buf)
    num = first_num
    end_num = first_num + limit
    unpack = _HDR.unpack_from
    lens = _LENS
    ev = SyscallEvent
    while off + 26 <= n and num < end_num:
        ts, tid, ln, typ, np = unpack(buf, off)
        if ln < 26 or off + ln > n or np >= 64:
            raise SourceError(f"corrupt live record at batch offset {off}: len {ln}, {np} params")
        p = off + 26 + 2 * np
        raw = []
        for ln_i in lens[np].unpack_from(buf, off + 26):
            q = p + ln_i
            raw.append(buf[p:q])
            p = q
        append(ev(num, ts, tid, typ, raw))
        num += 1
        off += ln
    return out, off


class LiveSyscallSource:
    """Open the probe, snapshot /proc, then iterate over live events.

    ``events()`` yields SyscallEvents, and None when nothing arrived within a poll interval (so the
    caller can check for shutdown). ``snapshot`` holds the /proc entries taken at start-up.
    """

    def __init__(self, kfilter: KernelFilter | None = None, host_root: str = "/", poll_interval: float = 0.01,
                 scan_proc: bool = True, use_drain_helper: bool = True, ring_bytes: int = 8 << 20,
                 attach: str = "auto") -> None:
        self.kfilter = kfilter or KernelFilter()
        self.host_root = host_root
        self.poll_interval = poll_interval
        self.scan_proc = scan_proc
        self.probe = Probe(ring_bytes=ring_bytes, use_drain_helper=use_drain_helper, attach=attach)
        self.snapshot: list[ProcEntry] = []
        self._pending: list[bytes] = []
        self._buf = b""  # the drained records not yet decoded, from offset _off
        self._off = 0
        self.batch_events = BATCH_EVENTS
        self._num = 1
        self.n_events = 0
        self.userspace_drops = 0
        self._old_term: Any = None

    # -------------------------------------------------------------- lifecycle

    def open(self) -> LiveSyscallSource:
        self.probe.open(self.kfilter)
        self._install_sigterm()
        if self.scan_proc:
            sc = ProcScanner(self.host_root)
            for i, pid in enumerate(sc.pids()):
                self.snapshot.extend(sc.scan_process(pid))
                if i % 64 == 63:
                    self._pending.append(self._drain())
        return self

    def close(self) -> None:
        self.probe.close()
        if self._old_term is not None:
            signal.signal(signal.SIGTERM, self._old_term)
            self._old_term = None

    def __enter__(self) -> LiveSyscallSource:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _install_sigterm(self) -> None:
        """SIGTERM detaches the probe before the default action (links are fd-based: a SIGKILL is
        cleaned up by the kernel anyway)."""
        try:
            prev = signal.getsignal(signal.SIGTERM)
        except ValueError:
            return
        if prev not in (signal.SIG_DFL, None):
            return

        def _term(signum, frame):
            self.close()
            raise SystemExit(128 + signum)

        try:
            signal.signal(signal.SIGTERM, _term)
            self._old_term = prev
        except ValueError:  # not the main thread
            pass

    def set_filter(self, kfilter: KernelFilter) -> None:
        """Change the kernel filter while running (the rules side calls this after reloads)."""
        self.kfilter = kfilter
        self.probe.apply_filter(kfilter)

    # -------------------------------------------------------------- events

    def _drain(self) -> bytes:
        ring = self.probe.ring
        if ring is None:
            raise SourceError("the probe is not open")
        return bytes(ring.drain())

    def poll(self) -> list[SyscallEvent]:
        """Everything available now: buffered start-up records first, then the rest of the current
        drain, or else one new drain of the ring (tests and tools that want all at once)."""
        return self._take(1 << 62)

    def next_batch(self) -> list[SyscallEvent]:
        """The next ``batch_events`` events at most (the live loop): the same events in the same order as
        ``poll``, in small lists."""
        return self._take(self.batch_events)

    def _take(self, limit: int) -> list[SyscallEvent]:
        if self._off >= len(self._buf):
            data = self._drain()
            if self._pending:
                data = b"".join(self._pending) + data
                self._pending = []
            if not data:
                self._buf, self._off = b"", 0
                return []
            self._buf, self._off = data, 0
        evs, self._off = split_batch(self._buf, self._off, self._num, limit)
        if not evs:  # a trailing fragment shorter than a header (never written by the probe)
            self._buf, self._off = b"", 0
            return []
        if self._off >= len(self._buf):
            self._buf, self._off = b"", 0
        self._num += len(evs)
        self.n_events += len(evs)
        return evs

    def events(self, duration: float | None = None) -> Iterator[SyscallEvent | None]:
        end = None if duration is None else time.monotonic() + duration
        while end is None or time.monotonic() < end:
            evs = self.next_batch()
            if evs:
                yield from evs
                continue
            yield None
            time.sleep(self.poll_interval)

    def counters(self) -> dict[str, int]:
        """events delivered, kernel drops (ring full / too large; shed under overload), userspace drops,
        kernel filter counts. Drops by kind: ``drops_rule`` (events a rule can match, lost to a full ring
        or a too large record), ``drops_state`` (events no rule can match: shed above the watermark or
        lost to a full ring); ``kernel_filtered`` counts the push-down (never a drop: no rule or state
        needs those events), ``kernel_filtered_<family>`` per family, ``kernel_failed_dropped`` the failed
        exits dropped by ``drop_failed_exit`` / the failed-close filter."""
        k = self.probe.counters()
        state = k["shed"] + k["drops_full_state"]
        out = {"events": self.n_events, "kernel_drops": k["drops_full"] + k["drops_large"] + k["shed"],
               "userspace_drops": self.userspace_drops, "kernel_filtered": k["filtered"],
               "kernel_emitted": k["emitted"], "kernel_seen": k["seen"], "kernel_skipped": k["skipped"],
               "kernel_failed_dropped": k["failed_dropped"], "kernel_shed": k["shed"],
               "drops_rule": k["drops_full"] - k["drops_full_state"] + k["drops_large"], "drops_state": state,
               "kernel_drops_large": k["drops_large"]}
        out.update({f"kernel_{n}": v for n, v in k.items() if n.startswith(("filtered_", "dropped_"))})
        return out


class SyscallSourcePlugin(SourcePlugin):
    """The live syscall source behind the SourcePlugin API (open params ignored; init_config may set
    ``host_root``, ``poll_interval``, ``snaplen``, ``attach``)."""

    name = "syscall"
    version = "0.1.0"
    source = "syscall"
    description = "live syscalls from lanner's CO-RE eBPF probe"

    def __init__(self, kfilter: KernelFilter | None = None) -> None:
        self.kfilter = kfilter
        self.cfg: dict = {}
        self.live: LiveSyscallSource | None = None

    def init(self, init_config: Any) -> None:
        if init_config is not None and not isinstance(init_config, dict):
            raise SourceError("syscall source init_config must be a mapping")
        self.cfg = dict(init_config or {})

    def open(self, params: str) -> Iterator[SyscallEvent | None]:
        self.live = LiveSyscallSource(self.kfilter, host_root=self.cfg.get("host_root", "/"),
                                      poll_interval=float(self.cfg.get("poll_interval", 0.01)),
                                      attach=str(self.cfg.get("attach", "auto"))).open()
        return self.live.events()

    def close(self) -> None:
        if self.live is not None:
            self.live.close()
            self.live = None
