"""Drop monitoring of a live run or a replay (``syscall_event_drops``, ``syscall_event_timeouts``): Falco's token
bucket, the threshold check once per second of event time, and the internal alerts it raises."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

from lanner.config import Config
from lanner.config_drops import DropSettings, drop_settings
from lanner.core.priority import Priority
from lanner.events.syscall import SyscallEvent

log = logging.getLogger("lanner")

DROP_RULE = "Falco internal: syscall event drop"
TIMEOUT_RULE = "Falco internal: timeouts notification"
DROP_FIELDS = ("n_drops_buffer_clone_fork_exit", "n_drops_buffer_execve_exit", "n_drops_buffer_connect_exit",
               "n_drops_buffer_open_exit", "n_drops_buffer_dir_file_exit", "n_drops_buffer_other_interest_exit",
               "n_drops_buffer_close_exit", "n_drops_buffer_proc_exit", "n_drops_scratch_map",
               "n_drops_page_faults", "n_drops_bug")

class TokenBucket:
    """Falco's token bucket: ``rate`` tokens/s, at most ``max_burst``, starts full. Time runs as Falco's
    unsigned nanoseconds: a claim stamped before the last one (a capture's 2016 events against the wall
    clock the bucket started with) counts as a huge elapsed time, so the bucket refills to the brim."""

    def __init__(self, rate: float, max_burst: float, now_ns: int) -> None:
        self.rate = rate
        self.max = max_burst
        self.tokens = max_burst
        self.last = now_ns

    def claim(self, n: float, now_ns: int) -> bool:
        elapsed_s = ((now_ns - self.last) % (1 << 64)) / 1e9
        self.last = now_ns
        self.tokens = min(self.max, self.tokens + self.rate * elapsed_s)
        if self.tokens < n:
            return False
        self.tokens -= n
        return True


def _settings(config: Config) -> DropSettings:
    if config.drops is not None:
        return config.drops
    return drop_settings(config.data)  # a bad value: DropConfigError, a ConfigError


class DropMonitor:
    """``syscall_event_drops`` for every syscall engine, live or replay: once per second of event time,
    the drop delta (plus one with ``simulate_drops``) against the threshold, and the configured actions
    behind the token bucket, as Falco's drop manager does them."""

    def __init__(self, config: Config, pipeline: Any = None, ebpf: bool = True) -> None:
        st = _settings(config)
        self.actions = [a for a in st.actions if a != "ignore"]
        self.simulate = st.simulate
        self.threshold = 0.0 if st.simulate else st.threshold
        self.bucket = TokenBucket(st.rate, st.max_burst, time.time_ns())
        self.pipeline = pipeline
        self.ebpf = ebpf
        self.next_check: int | None = None
        self.prev = (0, 0)
        self.prev_kinds: dict[str, int] = {}
        self.detected = 0
        self.actions_taken = 0
        self.exit_requested = False

    def check(self, ts: int, n_evts: int, n_drops: int, kinds: dict[str, int] | None = None) -> None:
        """Called with the newest event time and the cumulative event/drop counts; ``kinds``: the
        cumulative drops under the alert's field names (``DROP_FIELDS``: by event category, scratch
        map); without it every drop counts as ``n_drops_buffer_other_interest_exit``."""
        if self.next_check is None:
            self.next_check = ts + 1_000_000_000
            return
        if ts <= self.next_check:
            return
        self.next_check = ts + 1_000_000_000
        d_evts, d_drops = n_evts - self.prev[0], n_drops - self.prev[1]
        self.prev = (n_evts, n_drops)
        d_kinds = {k: v - self.prev_kinds.get(k, 0) for k, v in (kinds or {}).items()}
        self.prev_kinds = dict(kinds or {})
        real = d_drops
        if self.simulate:
            log.info("Simulating syscall event drop")
            d_drops += 1
        if d_drops <= 0:
            return
        ratio = d_drops / d_evts if d_evts > 0 else float("inf")
        if not ratio > self.threshold:
            return
        self.detected += 1
        if not self.bucket.claim(1, ts):
            log.debug("Syscall event drop but token bucket depleted, skipping actions")
            return
        self.actions_taken += 1
        msg = f"Falco internal: syscall event drop. {d_drops} system calls dropped in last second."
        for a in self.actions:
            if a == "log":
                log.debug("%s", msg)
            elif a == "alert" and self.pipeline is not None:
                scratch = d_kinds.get("n_drops_scratch_map", 0)
                fields = {"n_evts": str(d_evts), "n_drops": str(d_drops),
                          "n_drops_buffer_total": str(real - scratch)}
                fields.update({k: "0" for k in DROP_FIELDS})
                if kinds is None:
                    fields["n_drops_buffer_other_interest_exit"] = str(real)
                else:
                    fields.update({k: str(v) for k, v in d_kinds.items() if k in DROP_FIELDS})
                fields["ebpf_enabled"] = "1" if self.ebpf else "0"
                self.pipeline.internal(DROP_RULE, Priority.DEBUG, msg, fields, time_ns=ts)
            elif a == "exit":
                log.critical("%s", msg)
                log.critical("Exiting.")
                self.exit_requested = True


def drop_checked(events: Iterable[SyscallEvent], drops: DropMonitor) -> Iterator[SyscallEvent]:
    """A capture's events with the drop check before each (only ``simulate_drops`` can fire on a capture);
    ends early when an ``exit`` action asks to."""
    check = drops.check
    for ev in events:
        check(ev.ts, 0, 0)
        if drops.exit_requested:
            return
        yield ev
