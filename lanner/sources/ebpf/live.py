"""The live syscall loop: kernel filter from the rules, probe, /proc seeding, state -> rules -> alerts,
drop monitoring (``Runner._live_loop`` calls :func:`run_live`).

Kernel filter (``derive_filter``): the event types some enabled rule can match, plus what the state
engine needs (Falco's ``base_syscalls``: ``custom_set`` with ``!name`` removals, ``repair``, ``all``),
plus the open-family push-down of ``lanner.rules.pushdown`` (flag/result classes and paths). The
high-volume I/O syscalls are left out unless ``base_syscalls.all`` (``-A``). ``engine.modern_ebpf.
kernel_filter: false`` (lanner-specific) emits every syscall, for comparison.

Syscall hook, ``engine.modern_ebpf.attach`` (lanner-specific): ``auto`` (default) attaches the probe
to the classic ``syscalls:sys_exit_<name>`` tracepoint of each syscall in the filter when tracefs is
mounted or can be mounted (it is mounted on /sys/kernel/tracing when absent, with a log line) and
every such syscall has one, so syscalls no rule needs run no BPF code; otherwise, and always when
every syscall is captured, one global ``tp_btf/sys_exit`` hook. A syscall not built into the kernel
(``init_module``/``finit_module`` without module support) has no exit tracepoint, so a rule on it
keeps ``auto`` on the global hook, which alone sees the (failing) attempts. ``tracepoint`` uses the
per-syscall tracepoints whenever tracefs allows, even for the full syscall set, and warns about such
syscalls instead; ``tp_btf`` always uses the global hook. When tracefs cannot be used lanner warns and
falls back to ``tp_btf``; it never fails to start for that.
"""

from __future__ import annotations

import gc
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

from lanner.config import Config, ConfigError
from lanner.events import table as T
from lanner.sources.api import SourceError
from lanner.sources.ebpf import filters as F
from lanner.sources.ebpf.procscan import ProcEntry

log = logging.getLogger("lanner")

OPEN_EVENTS = ("open", "openat", "openat2", "creat")

#: the smallest set that keeps process/thread state right (``base_syscalls.repair``)
REPAIR_PROCESS = frozenset({"clone", "clone3", "fork", "vfork", "execve", "execveat", "procexit", "chdir",
                            "fchdir", "setuid", "setgid", "setresuid", "setresgid", "setreuid", "setregid",
                            "capset", "setsid", "prctl", "unshare", "setns", "chroot"})
_FD_CREATORS = frozenset({"open", "openat", "openat2", "creat", "socket", "accept", "accept4", "pipe", "pipe2",
                          "memfd_create", "userfaultfd", "dup", "dup2", "dup3"})
_NET = frozenset({"connect", "accept", "accept4", "bind", "listen", "sendto", "sendmsg", "recvfrom", "recvmsg"})

DROP_RULE = "Falco internal: syscall event drop"
TIMEOUT_RULE = "Falco internal: timeouts notification"
DROP_FIELDS = ("n_drops_buffer_clone_fork_exit", "n_drops_buffer_execve_exit", "n_drops_buffer_connect_exit",
               "n_drops_buffer_open_exit", "n_drops_buffer_dir_file_exit", "n_drops_buffer_other_interest_exit",
               "n_drops_buffer_close_exit", "n_drops_buffer_proc_exit", "n_drops_scratch_map",
               "n_drops_page_faults", "n_drops_bug")
PRESETS = {i: (1 << (i - 1)) << 20 for i in range(1, 11)}


# ------------------------------------------------------------------------------ kernel filter
@dataclass
class FilterPlan:
    """The derived kernel filter and what was decided, for logs and tests."""

    kfilter: F.KernelFilter
    rule_events: frozenset[str] | None
    state_events: frozenset[str]
    removed: frozenset[str] = frozenset()
    ignored_io: frozenset[str] = frozenset()
    pushdown_report: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    attach: str = "auto"


def _capturable(name: str) -> bool:
    if name in F.TRACEPOINT_EVENTS:
        return True
    return any(c in F.NR_BY_NAME for c in F.EVENT_ALIASES.get(name, ()) + (name,))


def _ignored_io() -> frozenset[str]:
    try:
        from lanner.app import IGNORED_SYSCALLS
    except ImportError:
        return frozenset()
    return frozenset(IGNORED_SYSCALLS)


def rule_event_names(ruleset: Any) -> frozenset[str] | None:
    """``evt.type`` names of the event codes some enabled syscall rule can match (None: every type)."""
    codes = ruleset.interesting_codes()
    if codes is None:
        return None
    return frozenset(T.EVENTS[c].name for c in codes if 0 <= c < len(T.EVENTS))


def derive_filter(engine: Any, config: Config) -> FilterPlan:
    """The kernel filter for the loaded rules and the ``base_syscalls`` / push-down configuration."""
    snaplen = config.int("falco_libs.snaplen", 0) or 80
    attach = attach_mode(config)
    if not config.bool("engine.modern_ebpf.kernel_filter", True):
        return FilterPlan(F.KernelFilter(events=None, snaplen=snaplen), None, frozenset(),
                          notes=["kernel filtering disabled: every syscall is emitted"], attach=attach)
    rules = rule_event_names(engine.ruleset)
    all_io = config.bool("base_syscalls.all", False)
    custom = [str(x).strip() for x in (config.list("base_syscalls.custom_set") or [])]
    repair = config.bool("base_syscalls.repair", False)
    adds = {n for n in custom if n and not n.startswith("!")}
    removes = {n[1:].strip() for n in custom if n.startswith("!")}
    notes: list[str] = []
    if rules is None:
        notes.append("a rule matches every event type: every syscall is emitted")
        return FilterPlan(F.KernelFilter(events=None, snaplen=snaplen), None, frozenset(), notes=notes,
                          attach=attach)
    ignored = frozenset() if all_io else (rules & _ignored_io())
    if ignored:
        log.warning("Loaded rules use syscalls that are not captured without base_syscalls.all (-A): %s",
                    ", ".join(sorted(ignored)))
    wanted = set(rules - ignored)
    if adds or repair:
        state = set(adds)
        if repair:
            state |= REPAIR_PROCESS
            if (wanted | state) & _FD_CREATORS:
                state |= {"close", "dup", "dup2", "dup3"}
            if (wanted | state) & _NET:
                state |= {"socket", "bind", "connect", "accept", "accept4", "close"}
    else:
        state = set(F.STATE_EVENTS)
    events = (wanted | state) - removes
    unknown = sorted(n for n in events if not _capturable(n))
    if unknown:
        log.debug("event types not captured by the probe: %s", ", ".join(unknown))
    events = frozenset(n for n in events if _capturable(n))
    # a rule on close events must see every close, also of files whose open was dropped
    open_filter, report = _open_pushdown(engine, config, events, adds, close_filter="close" not in rules)
    drop_failed = config.bool("engine.modern_ebpf.drop_failed_exit", False)
    kf = F.KernelFilter(events=events, open_filter=open_filter, snaplen=snaplen, extra_state=False,
                        drop_failed=drop_failed, drop_failed_close="close" not in (rules | adds))
    return FilterPlan(kf, rules, frozenset(state), frozenset(removes), ignored, report, notes, attach)


def attach_mode(config: Config) -> str:
    """``engine.modern_ebpf.attach``: auto (default), tp_btf or tracepoint."""
    from lanner.sources.ebpf.loader import ATTACH_MODES
    mode = (config.str("engine.modern_ebpf.attach", "auto") or "auto").strip().lower()
    if mode not in ATTACH_MODES:
        raise ConfigError(f"engine.modern_ebpf.attach: unknown mode '{mode}' (expected {', '.join(ATTACH_MODES)})")
    return mode


def _open_pushdown(engine: Any, config: Config, events: frozenset[str], explicit: set[str],
                   close_filter: bool = True) -> tuple[F.OpenFilter | None, list[str]]:
    from lanner.rules.pushdown import EXACT, PREFIX, OpenPushdown
    if not config.bool("engine.modern_ebpf.open_pushdown", True):
        return None, ["open push-down disabled by configuration"]
    if not events & set(OPEN_EVENTS):
        return None, []
    if explicit & set(OPEN_EVENTS):
        return None, ["open push-down off: base_syscalls.custom_set asks for open events"]
    codes: set[int] = set()
    for n in OPEN_EVENTS:
        codes |= T.codes_for_name(n)
    plan = OpenPushdown(codes, T.codes_for_name).plan(engine.ruleset.enabled_rules())
    report = plan.rule_report()
    if plan.entries is None:
        report.append("open push-down: none (some rule needs every open)")
        return None, report
    ents = tuple((p.classes, "exact" if p.kind == EXACT else "prefix" if p.kind == PREFIX else "any", p.value)
                 for p in plan.entries)
    of = F.OpenFilter(ents, close_filter=close_filter)
    try:
        of.check()
    except F.FilterError as e:
        report.append(f"open push-down: none ({e})")
        return None, report
    if ents:
        report.append("open push-down table: " + "; ".join(p.describe() for p in plan.entries))
    else:
        report.append("open push-down table: empty (no rule matches an open event: opens dropped in the kernel)")
    return of, report


# ------------------------------------------------------------------------------ seeding
def seed_state(state: Any, snapshot: list[ProcEntry], host_root: str = "/") -> int:
    """Load the /proc snapshot (threads, fds, users) into the state engine; returns threads seeded."""
    users = getattr(state, "users", None)
    if users is not None and hasattr(users, "load_host_files"):
        root = host_root.rstrip("/")
        users.load_host_files(f"{root}/etc/passwd", f"{root}/etc/group")
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


# ------------------------------------------------------------------------------ drops
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
                from lanner.rules.priority import Priority
                fields = {"n_evts": str(d_evts), "n_drops": str(d_drops), "n_drops_buffer_total": str(d_drops)}
                fields.update({k: "0" for k in DROP_FIELDS})
                fields["n_drops_buffer_other_interest_exit"] = str(d_drops)
                fields["ebpf_enabled"] = "1" if self.ebpf else "0"
                self.pipeline.internal(DROP_RULE, Priority.DEBUG, msg, fields, time_ns=ts)
            elif a == "exit":
                log.critical("%s", msg)
                log.critical("Exiting.")
                self.exit_requested = True


# ------------------------------------------------------------------------------ the loop
def _state_for(runner: Any) -> Any:
    st = getattr(runner, "state", None) or getattr(runner.engine, "state", None)
    if st is not None:
        return st
    from lanner.state.engine import StateEngine, proc_alive
    cfg = runner.config
    st = StateEngine(thread_table_size=cfg.int("falco_libs.thread_table_size", 262144),
                     purge_interval_s=cfg.int("falco_libs.thread_table_auto_purging_interval_s", 300),
                     thread_timeout_s=cfg.int("falco_libs.thread_table_auto_purging_thread_timeout_s", 300),
                     alive=proc_alive)
    log.warning("live: the engine has no state engine attached; fields read a private one")
    return st


def _ring_bytes(config: Config) -> int:
    preset = config.int("engine.modern_ebpf.buf_size_preset", 4)
    if preset not in PRESETS:
        raise ConfigError(f"engine.modern_ebpf.buf_size_preset must be in 1-10, got {preset}")
    return PRESETS[preset]


def run_live(runner: Any, stats: Any) -> None:
    """Capture live syscalls until ``runner.stop`` is set or ``runner.duration_ns`` elapses."""
    from lanner.sources.ebpf.source import LiveSyscallSource
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
    state = _state_for(runner)
    if hasattr(state, "boot_ts") and not state.boot_ts:
        state.boot_ts = boot_time_ns()
    drops = DropMonitor(config, getattr(runner, "pipeline", None))
    max_timeouts = config.int("syscall_event_timeouts.max_consecutives", 1000)
    if max_timeouts <= 0:
        raise ConfigError("syscall_event_timeouts.max_consecutives must be a positive integer")
    src = LiveSyscallSource(plan.kfilter, host_root=host_root, ring_bytes=_ring_bytes(config),
                            attach=plan.attach)
    start_cpu = time.process_time()
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
        _loop(runner, stats, src, state, drops, max_timeouts)
    finally:
        c = src.counters()
        src.close()
        runner.live_source = None
        stats.cpu_s = time.process_time() - start_cpu
        _fill_stats(stats, c, drops)


def _fill_stats(stats: Any, c: dict[str, int], drops: DropMonitor) -> None:
    stats.drops = c["kernel_drops"] + c["userspace_drops"]
    stats.driver_events = c["kernel_emitted"] + c["kernel_drops"]
    stats.extra.update({"drop_detected": drops.detected, "drop_actions": drops.actions_taken,
                        "kernel_seen": c["kernel_seen"], "kernel_filtered": c["kernel_filtered"],
                        "kernel_skipped": c["kernel_skipped"], "kernel_drops": c["kernel_drops"],
                        "userspace_drops": c["userspace_drops"]})


def _loop(runner: Any, stats: Any, src: Any, state: Any, drops: DropMonitor, max_timeouts: int) -> None:
    engine = runner.engine
    ruleset = engine.ruleset
    # event codes with at least one candidate rule: the others only update state
    has_rules = bytearray(len(T.EVENTS))
    for code in range(len(T.EVENTS)):
        if ruleset.candidates("syscall", code):
            has_rules[code] = 1
    process, sprocess, spost = engine.process, state.process, state.post_process
    stop = runner.stop
    deadline = None if not runner.duration_ns else time.monotonic_ns() + runner.duration_ns
    interval = src.poll_interval
    timeouts = 0
    first_ts = None
    last_check = time.monotonic()
    n = 0
    while not stop.is_set():
        if deadline is not None and time.monotonic_ns() >= deadline:
            break
        evs = src.poll()
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
                    break
            time.sleep(interval)
            continue
        timeouts = 0
        if first_ts is None:
            first_ts = evs[0].ts
        for ev in evs:
            sprocess(ev)
            if not ev.hidden and has_rules[ev.type]:
                process(ev)
            spost(ev)
        n += len(evs)
        engine.stats.events += len(evs) - sum(1 for ev in evs if has_rules[ev.type] and not ev.hidden)
        stats.events = n
        now = time.monotonic()
        if now - last_check >= 1.0:
            last_check = now
            _drop_check(src, drops, evs[-1].ts, stats)
            if drops.exit_requested:
                break
    if drops.exit_requested:
        from lanner.runner import RunnerError
        raise RunnerError("Drop manager internal error")


def _drop_check(src: Any, drops: DropMonitor, ts: int, stats: Any) -> None:
    c = src.counters()
    n_drops = c["kernel_drops"] + c["userspace_drops"]
    drops.check(ts, c["kernel_emitted"] + n_drops, n_drops)
    _fill_stats(stats, c, drops)


def _timeout_alert(runner: Any, n: int, first_ts: int | None) -> None:
    pipeline = getattr(runner, "pipeline", None)
    if pipeline is None:
        return
    from lanner.rules.priority import Priority
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
            "n_drops_buffer_total": k["drops_full"], "n_drops_buffer{dir=exit,drop=other_interest}": k["drops_full"],
            "n_drops_scratch_map": k["drops_large"], "n_drops_page_faults": 0, "n_drops_bug": 0,
            "n_drops_userspace": c["userspace_drops"], "n_kernel_filtered": c["kernel_filtered"],
            "n_syscalls_seen": c["kernel_seen"]}
