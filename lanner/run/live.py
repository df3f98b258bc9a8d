"""The live syscall run: kernel filter from the rules (lanner.run.syscalls), probe, /proc seeding, then
the event loop, with drop monitoring (``Runner`` calls :func:`run_live`)."""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

from lanner.config import Config, ConfigError
from lanner.core.errors import RunError
from lanner.core.priority import Priority
from lanner.events.syscall import SyscallEvent
from lanner.run.drops import TIMEOUT_RULE, DropMonitor
from lanner.run.loop import LoopStats, merge_async, run_loop
from lanner.run.syscalls import derive_filter
from lanner.sources.api import SourceError
from lanner.sources.ebpf.procscan import ProcEntry
from lanner.sources.ebpf.source import LiveSyscallSource

log = logging.getLogger("lanner")

PRESETS = {i: (1 << (i - 1)) << 20 for i in range(1, 11)}



# ------------------------------------------------------------------------------ seeding
def seed_state(state: Any, snapshot: list[ProcEntry], host_root: str = "/") -> int:
    """Load the /proc snapshot (threads, fds, users) into the state engine; returns threads seeded."""
    users = getattr(state, "users", None)
    if users is not None and hasattr(users, "load_host_files"):
        root = host_root.rstrip("/")
        users.load_host_files(f"{root}/etc/passwd", f"{root}/etc/group")
    if hasattr(state, "load_host_interfaces"):
        state.load_host_interfaces(host_root)
    n = 0
    for e in snapshot:
        state.seed_thread(e, link=False)
        n += 1
    state.finish_seeding()
    for e in snapshot:
        if e.tid != e.pid:
            continue
        for f in e.fds:
            state.seed_fd(e.tid, f)
    if hasattr(state, "fixup_seeded_sockets"):
        state.fixup_seeded_sockets()
    return n


def boot_time_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_BOOTTIME)


# ------------------------------------------------------------------------------ the loop
def _ring_bytes(config: Config) -> int:
    preset = config.int("engine.modern_ebpf.buf_size_preset", 4)
    if preset not in PRESETS:
        raise ConfigError(f"engine.modern_ebpf.buf_size_preset must be in 1-10, got {preset}")
    return PRESETS[preset]


def run_live(runner: Any, stats: Any) -> None:
    """Capture live syscalls until ``runner.stop`` is set or ``runner.duration_ns`` elapses."""
    config: Config = runner.config
    engine = runner.engine
    plan = derive_filter(engine, config)
    verbose = bool(getattr(getattr(runner, "args", None), "flag", lambda _n: False)("verbose"))
    say = log.info if verbose else log.debug
    for line in plan.notes:
        log.info("live: %s", line)
    say("live: kernel event set (%s): %s", "all" if plan.kfilter.events is None else len(plan.kfilter.events),
        "all syscalls" if plan.kfilter.events is None else ", ".join(sorted(plan.kfilter.events)))
    for line in plan.pushdown_report:
        say("live push-down: %s", line)
    host_root = os.environ.get("HOST_ROOT", "/") or "/"
    state = engine.state
    if state is None:
        raise RunError("live capture needs an engine with a state engine")
    if hasattr(state, "boot_ts") and not state.boot_ts:
        state.boot_ts = boot_time_ns()
    drops = DropMonitor(config, getattr(runner, "pipeline", None))
    max_timeouts = config.int("syscall_event_timeouts.max_consecutives", 1000)
    if max_timeouts <= 0:
        raise ConfigError("syscall_event_timeouts.max_consecutives must be a positive integer")
    src = LiveSyscallSource(plan.kfilter, host_root=host_root, ring_bytes=_ring_bytes(config),
                            attach=plan.attach)
    try:
        src.open()
    except SourceError as e:
        raise SourceError(f"Unable to open the live syscall source: {e}") from None
    runner.live_source = src
    probe = src.probe
    say("live: syscall hook %s (%s)%s", probe.mode, probe.mode_reason,
        f": {len(probe.attached_tracepoints())} exit tracepoints" if probe.mode == "tracepoint" else "")
    try:
        n = seed_state(state, src.snapshot, host_root)
        say("live: seeded %d threads from %sproc", n, host_root.rstrip("/") + "/")
        src.snapshot = []
        # the seeded tables are long-lived: keep them out of every future GC pass
        gc.collect()
        gc.freeze()
        batches = merge_async(live_batches(runner, stats, src, drops, max_timeouts),
                              getattr(runner, "async_events", {}).get("syscall"))
        capture = getattr(runner, "capture", None)
        run_loop(engine, capture.wrap(batches) if capture else batches, runner.stop, stats)
    finally:
        if getattr(runner, "capture", None) is not None:
            runner.capture.close()
        c = src.counters()
        src.close()
        runner.live_source = None
        _fill_stats(stats, c, drops)
    if drops.exit_requested:
        raise RunError("Drop manager internal error")


#: the drop alert's buffer field for the drops of each probe event family (the others: other_interest)
_DROP_FIELD_OF_FAMILY = {"clone": "n_drops_buffer_clone_fork_exit", "exec": "n_drops_buffer_execve_exit",
                         "net": "n_drops_buffer_connect_exit", "open": "n_drops_buffer_open_exit",
                         "file": "n_drops_buffer_dir_file_exit", "close": "n_drops_buffer_close_exit",
                         "procexit": "n_drops_buffer_proc_exit"}


def drop_kinds(c: dict[str, int]) -> dict[str, int]:
    """Cumulative drops under the drop alert's field names, from the live source's counters."""
    out = dict.fromkeys(_DROP_FIELD_OF_FAMILY.values(), 0)
    out["n_drops_buffer_other_interest_exit"] = 0
    for name, v in c.items():
        if name.startswith("kernel_dropped_"):
            fam = name[len("kernel_dropped_"):]
            key = _DROP_FIELD_OF_FAMILY.get(fam, "n_drops_buffer_other_interest_exit")
            out[key] += v
    out["n_drops_scratch_map"] = c.get("kernel_drops_large", 0)
    return out


def _fill_stats(stats: Any, c: dict[str, int], drops: DropMonitor) -> None:
    stats.drops = c["kernel_drops"] + c["userspace_drops"]
    stats.driver_events = c["kernel_emitted"] + c["kernel_drops"]
    stats.extra.update({"drop_detected": drops.detected, "drop_actions": drops.actions_taken,
                        "kernel_seen": c["kernel_seen"], "kernel_filtered": c["kernel_filtered"],
                        "kernel_skipped": c["kernel_skipped"], "kernel_drops": c["kernel_drops"],
                        "userspace_drops": c["userspace_drops"], "drops_rule": c.get("drops_rule", 0),
                        "drops_state": c.get("drops_state", 0), "kernel_shed": c.get("kernel_shed", 0),
                        "kernel_failed_dropped": c.get("kernel_failed_dropped", 0)})
    stats.extra.update({k: v for k, v in c.items() if k.startswith(("kernel_filtered_", "kernel_dropped_"))})


def live_batches(runner: Any, stats: LoopStats, src: LiveSyscallSource, drops: DropMonitor,
                 max_timeouts: int) -> Iterator[list[SyscallEvent] | None]:
    """The probe's events as they are polled, until ``runner.duration_ns`` of wall time passed or the drop
    monitor asks to exit; while idle: Falco's consecutive-timeouts notification, and once a second the
    drop check."""
    deadline = None if not runner.duration_ns else time.monotonic_ns() + runner.duration_ns
    interval = src.poll_interval
    timeouts = 0
    first_ts = None
    last_check = time.monotonic()
    while True:
        if deadline is not None and time.monotonic_ns() >= deadline:
            return
        evs = src.next_batch()
        if not evs:
            timeouts += 1
            if timeouts > max_timeouts:
                _timeout_alert(runner, timeouts, first_ts)
                timeouts = 0
            now = time.monotonic()
            if now - last_check >= 1.0:
                last_check = now
                _drop_check(src, drops, time.time_ns(), stats)
                if drops.exit_requested:
                    return
            time.sleep(interval)
            yield None
            continue
        timeouts = 0
        if first_ts is None:
            first_ts = evs[0].ts
        yield evs
        now = time.monotonic()
        if now - last_check >= 1.0:
            last_check = now
            _drop_check(src, drops, evs[-1].ts, stats)
            if drops.exit_requested:
                return


def _drop_check(src: Any, drops: DropMonitor, ts: int, stats: Any) -> None:
    c = src.counters()
    n_drops = c["kernel_drops"] + c["userspace_drops"]
    drops.check(ts, c["kernel_emitted"] + n_drops, n_drops, drop_kinds(c))
    _fill_stats(stats, c, drops)


def _timeout_alert(runner: Any, n: int, first_ts: int | None) -> None:
    pipeline = getattr(runner, "pipeline", None)
    if pipeline is None:
        return
    if first_ts is None:
        when = "none"
    else:
        lt = time.localtime(first_ts // 1_000_000_000)
        when = time.strftime("%Y-%m-%d %H:%M:%S", lt) + f".{first_ts % 1_000_000_000:09d}"
    pipeline.internal(TIMEOUT_RULE, Priority.DEBUG,
                      f"Falco internal: timeouts notification. {n} consecutive timeouts without event.",
                      {"last_event_time": when})


def scap_counters(runner: Any) -> dict[str, int]:
    """The live source's counters under the libs names the metrics use (``n_evts``, ``n_drops`` ...);
    empty when no live source is running."""
    src = getattr(runner, "live_source", None)
    if src is None:
        return {}
    try:
        c = src.counters()
    except Exception:  # noqa: BLE001 - the probe may be closing
        return {}
    k = src.probe.counters()
    return {"n_evts": c["kernel_emitted"] + c["kernel_drops"], "n_drops": c["kernel_drops"] + c["userspace_drops"],
            "n_drops_buffer_total": k["drops_full"] + k["shed"],
            **{f"n_drops_buffer{{dir=exit,drop={f[len('n_drops_buffer_'):-len('_exit')]}}}": v
               for f, v in drop_kinds(c).items() if f.startswith("n_drops_buffer_")},
            "n_drops_scratch_map": k["drops_large"], "n_drops_page_faults": 0, "n_drops_bug": 0,
            "n_drops_userspace": c["userspace_drops"], "n_kernel_filtered": c["kernel_filtered"],
            "n_syscalls_seen": c["kernel_seen"],
            # lanner: drops by kind (events a rule can match / state-only events), overload shedding,
            # push-down per family, failed exits dropped by drop_failed_exit / the failed-close filter
            "n_drops_kind{kind=rule}": c["drops_rule"], "n_drops_kind{kind=state}": c["drops_state"],
            "n_drops_shed": c["kernel_shed"], "n_kernel_failed_dropped": c["kernel_failed_dropped"],
            **{f"n_kernel_filtered_family{{family={n[len('kernel_filtered_'):]}}}": v
               for n, v in c.items() if n.startswith("kernel_filtered_")}}
