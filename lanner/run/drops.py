"""Drop monitoring of a live run (``syscall_event_drops``, ``syscall_event_timeouts``): Falco's token
bucket, the threshold check once per second of event time, and the internal alerts it raises."""

from __future__ import annotations

import logging
import time
from typing import Any

from lanner.config import Config, ConfigError
from lanner.core.priority import Priority

log = logging.getLogger("lanner")

DROP_RULE = "Falco internal: syscall event drop"
TIMEOUT_RULE = "Falco internal: timeouts notification"
DROP_FIELDS = ("n_drops_buffer_clone_fork_exit", "n_drops_buffer_execve_exit", "n_drops_buffer_connect_exit",
               "n_drops_buffer_open_exit", "n_drops_buffer_dir_file_exit", "n_drops_buffer_other_interest_exit",
               "n_drops_buffer_close_exit", "n_drops_buffer_proc_exit", "n_drops_scratch_map",
               "n_drops_page_faults", "n_drops_bug")

class TokenBucket:
    """Falco's token bucket: ``rate`` tokens/s, at most ``max_burst``, starts full."""

    def __init__(self, rate: float, max_burst: float, now_ns: int) -> None:
        self.rate = rate
        self.max = max_burst
        self.tokens = max_burst
        self.last = now_ns

    def claim(self, n: float, now_ns: int) -> bool:
        if now_ns > self.last:
            self.tokens = min(self.max, self.tokens + self.rate * (now_ns - self.last) / 1e9)
            self.last = now_ns
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False


class DropMonitor:
    """``syscall_event_drops``: once per second of event time, compare the drop delta with the threshold
    and take the configured actions (token-bucket limited)."""

    ACTIONS = ("ignore", "log", "alert", "exit")

    def __init__(self, config: Config, pipeline: Any = None, ebpf: bool = True) -> None:
        acts = config.list("syscall_event_drops.actions") or []
        actions = []
        for a in acts:
            a = str(a).strip().lower()
            if a not in self.ACTIONS:
                raise ConfigError(f"syscall_event_drops.actions: unknown action '{a}' "
                                  f"(expected {', '.join(self.ACTIONS)})")
            actions.append(a)
        if "ignore" in actions and ({"log", "alert"} & set(actions)):
            raise ConfigError("syscall_event_drops.actions: 'ignore' cannot be combined with 'log' or 'alert'")
        self.actions = [a for a in actions if a != "ignore"]
        self.threshold = config.float("syscall_event_drops.threshold", 0.1)
        if not 0 <= self.threshold <= 1:
            raise ConfigError("syscall_event_drops.threshold must be a double in the range [0, 1]")
        self.simulate = config.bool("syscall_event_drops.simulate_drops", False)
        if self.simulate:
            self.threshold = 0.0
        self.bucket = TokenBucket(config.float("syscall_event_drops.rate", 0.03333),
                                  config.float("syscall_event_drops.max_burst", 1), time.time_ns())
        self.pipeline = pipeline
        self.ebpf = ebpf
        self.next_check: int | None = None
        self.prev = (0, 0)
        self.detected = 0
        self.actions_taken = 0
        self.exit_requested = False

    def check(self, ts: int, n_evts: int, n_drops: int) -> None:
        """Called with the newest event time and the cumulative event/drop counts."""
        if self.next_check is None:
            self.next_check = ts + 1_000_000_000
            self.prev = (n_evts, n_drops)
            return
        if ts <= self.next_check:
            return
        self.next_check = ts + 1_000_000_000
        d_evts, d_drops = n_evts - self.prev[0], n_drops - self.prev[1]
        self.prev = (n_evts, n_drops)
        if self.simulate:
            log.info("Simulating syscall event drop")
            d_drops += 1
        if d_drops <= 0 or d_drops / max(d_evts, 1) <= self.threshold:
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
                fields = {"n_evts": str(d_evts), "n_drops": str(d_drops), "n_drops_buffer_total": str(d_drops)}
                fields.update({k: "0" for k in DROP_FIELDS})
                fields["n_drops_buffer_other_interest_exit"] = str(d_drops)
                fields["ebpf_enabled"] = "1" if self.ebpf else "0"
                self.pipeline.internal(DROP_RULE, Priority.DEBUG, msg, fields, time_ns=ts)
            elif a == "exit":
                log.critical("%s", msg)
                log.critical("Exiting.")
                self.exit_requested = True


