"""Capture on alert (Falco 0.42+ ``capture.*``, rule keys ``capture``/``capture_duration``).

When a rule that captures fires (``mode: rules``: rules with ``capture: true``; ``all_rules``: every
rule), lanner opens ``<path_prefix>_<ts:020>_<evt.num:020>.scap`` and writes the process table and every
event from the triggering one on, until the deadline passes (event time; each later trigger pushes it to
``ts + its duration`` if later: the longest wins) or the file reaches ``max_file_size_mb`` (hard cap, then
an INFO log line). The file is written by lanner's ``.scap`` writer, so lanner and Falco replay it.

Disabled (the default), nothing of this module runs: the runner neither wraps the batches nor hooks
``on_match``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from lanner.config import Config
from lanner.core.alert import Alert
from lanner.core.errors import RunError
from lanner.engine import Engine
from lanner.events.base import PluginEvent
from lanner.events.syscall import SyscallEvent
from lanner.sources.scap import FdRecord, MachineInfo, ScapWriter, ThreadRecord
from lanner.state.fds import IP_TYPES

log = logging.getLogger("lanner")
MODES = ("rules", "all_rules")


@dataclass(frozen=True)
class CaptureSettings:
    path_prefix: str = "/tmp/falco"
    mode: str = "rules"
    default_duration_ns: int = 5000 * 1_000_000
    max_file_size: int = 0          # bytes, 0 = unlimited


def capture_settings(config: Config) -> CaptureSettings | None:
    """The ``capture`` section, or None when captures are disabled."""
    if not config.bool("capture.enabled", False):
        return None
    mode = config.str("capture.mode", "rules").strip()
    if mode not in MODES:
        raise RunError(f"Error reading config file: capture.mode '{mode}' is not valid (rules, all_rules)")
    return CaptureSettings(config.str("capture.path_prefix", "/tmp/falco"), mode,
                           config.int("capture.default_duration", 5000) * 1_000_000,
                           config.int("capture.max_file_size_mb", 0) << 20)


def capture_path(prefix: str, ts: int, num: int) -> str:
    return f"{prefix}_{ts:020d}_{num:020d}.scap"


def _thread_record(t: Any) -> ThreadRecord:
    g = t.group
    return ThreadRecord(t.tid, t.pid, t.ptid, sid=t.sid, vpgid=t.vpgid, comm=t.comm, exe=t.exe,
                        exepath=t.exepath, args=list(t.args), cwd=g.cwd if g is not None else "",
                        fdlimit=g.fdlimit if g is not None else 0, flags=t.flags, uid=t.uid, gid=t.gid,
                        env=list(g.env) if g is not None else [], vtid=t.vtid, vpid=t.vpid,
                        cgroups=[f"{k}={v}" for k, v in t.cgroups] if t.cgroups else [],
                        root=t.root, pidns_init_start_ts=t.pidns_init_start_ts)


def _fd_records(t: Any) -> list[FdRecord]:
    """A process's open descriptors as fd-list records; IP sockets are left out (their role and address
    layout in the fd list are not rebuilt from state), so a replay sees them as unknown fds."""
    out = []
    for num, f in (t.group.fds.items() if t.group is not None else ()):
        if f.type in IP_TYPES or f.type <= 0:
            continue
        out.append(FdRecord(num, f.ino or 0, f.type, f.name or "", f.openflags or 0, f.dev or 0,
                            unix_src=f.usrc or 0, unix_dst=f.udst or 0))
    return out


class AlertCapture:
    """One capture at a time, started and extended by alerts, fed by :meth:`wrap`'s batches."""

    def __init__(self, settings: CaptureSettings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.durations = {r.name: (r.capture, r.capture_duration) for r in engine.ruleset.rules}
        self.writer: ScapWriter | None = None
        self.raw: Any = None
        self.path = ""
        self.deadline = 0
        self.files: list[str] = []

    def on_match(self, alert: Alert, ev: SyscallEvent | PluginEvent) -> None:
        capture, duration_ms = self.durations.get(alert.rule, (False, 0))
        if not capture and self.settings.mode != "all_rules":
            return
        duration = duration_ms * 1_000_000 if duration_ms else self.settings.default_duration_ns
        if self.writer is None:
            self._open(ev)
        self.deadline = max(self.deadline, ev.ts + duration)

    def _open(self, ev: SyscallEvent | PluginEvent) -> None:
        self.path = capture_path(self.settings.path_prefix, ev.ts, getattr(ev, "num", 0))
        d = os.path.dirname(self.path)
        if d:
            os.makedirs(d, exist_ok=True)
        self.raw = open(self.path, "wb")  # noqa: SIM115 - closed in _close
        self.writer = ScapWriter(self.raw)
        live = [t for t in list(self.engine.state.threads.threads.values()) if not t.dead]
        fds = {t.tid: recs for t in live if t.tid == t.pid and (recs := _fd_records(t))}
        self.writer.write_metadata(MachineInfo(os.cpu_count() or 1, 0, 0, self.engine.hostname or ""),
                                   threads=[_thread_record(t) for t in live], fds=fds)
        self.files.append(self.path)
        log.info("Capture started: %s", self.path)

    def _close(self, why: str) -> None:
        assert self.writer is not None
        self.writer.close()
        self.raw.close()
        self.writer = None
        self.deadline = 0
        log.info("Capture %s: %s", why, self.path)

    def follow(self, batch: Iterable[Any]) -> Iterator[Any]:
        """The events of ``batch``; while a capture runs each one is written after the engine saw it (so
        the triggering event is the first), and the first event past the deadline ends it before the
        engine sees it (that event may start the next capture)."""
        for ev in batch:
            if self.writer is not None and ev.ts > self.deadline:
                self._close("finished")
            yield ev
            w = self.writer
            if w is None or getattr(ev, "source", "syscall") != "syscall":
                continue
            w.write(ev)
            if self.settings.max_file_size and w.events_written % 64 == 0:
                w.flush()
                if self.raw.tell() >= self.settings.max_file_size:
                    self._close(f"stopped at max_file_size_mb ({self.settings.max_file_size >> 20} MB)")

    def wrap(self, batches: Iterable[Any]) -> Iterator[Any]:
        for batch in batches:
            yield None if batch is None else self.follow(batch)

    def close(self) -> None:
        if self.writer is not None:
            self._close("finished")


def install(config: Config, engine: Engine) -> AlertCapture | None:
    """An :class:`AlertCapture` hooked to ``engine.on_match`` when ``capture.enabled``; None otherwise."""
    settings = capture_settings(config)
    if settings is None:
        return None
    cap = AlertCapture(settings, engine)
    previous = engine.on_match

    def on_match(alert: Alert, ev: SyscallEvent | PluginEvent) -> None:
        if previous is not None:
            previous(alert, ev)
        cap.on_match(alert, ev)

    engine.on_match = on_match
    return cap
