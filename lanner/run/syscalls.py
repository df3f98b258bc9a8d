"""The syscall sets of a run, in one place (libs keeps them together as ``sinsp_state_sc_set`` and
``sinsp_repair_state_sc_set``; Falco derives the capture set in ``configure_interesting_sets``).

Kernel filter (``derive_filter``): the event types some enabled rule can match, plus what the state
engine needs (Falco's ``base_syscalls``: ``custom_set`` with ``!name`` removals, ``repair``, ``all``),
plus the open-family push-down of ``lanner.rules.pushdown`` (flag/result classes and paths) and, for
the other handled syscalls, the result (and ptrace request) push-down of ``lanner.rules.pushdown_calls``
with every success the state engine needs kept (``engine.modern_ebpf.call_pushdown``); the event names
some rule can match mark the events the probe must not shed under overload
(``engine.modern_ebpf.shed_watermark``). The
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

import logging
from dataclasses import dataclass, field
from typing import Any

from lanner.config import Config, ConfigError
from lanner.events import table as T
from lanner.sources.ebpf import filters as F

log = logging.getLogger("lanner")

#: what the state engine needs to stay correct (threads, fds, cwd, users), like Falco's
#: ``base_syscalls`` defaults: process lifecycle, fd creation/destruction, cwd and credentials.
STATE_EVENTS = frozenset({
    "clone", "clone3", "fork", "vfork", "execve", "execveat", "procexit", "close", "open", "openat",
    "openat2", "creat", "socket", "connect", "accept", "accept4", "bind", "dup", "dup2", "dup3",
    "pipe", "pipe2", "chdir", "fchdir", "chroot", "setuid", "setgid", "setresuid", "setresgid",
    "setreuid", "setregid", "capset", "setns", "unshare", "setsid", "prctl", "memfd_create",
    "userfaultfd",
})

OPEN_EVENTS = ("open", "openat", "openat2", "creat")

#: the smallest set that keeps process/thread state right (``base_syscalls.repair``)
REPAIR_PROCESS = frozenset({"clone", "clone3", "fork", "vfork", "execve", "execveat", "procexit", "chdir",
                            "fchdir", "setuid", "setgid", "setresuid", "setresgid", "setreuid", "setregid",
                            "capset", "setsid", "prctl", "unshare", "setns", "chroot"})
_FD_CREATORS = frozenset({"open", "openat", "openat2", "creat", "socket", "accept", "accept4", "pipe", "pipe2",
                          "memfd_create", "userfaultfd", "dup", "dup2", "dup3"})
_NET = frozenset({"connect", "accept", "accept4", "bind", "listen", "sendto", "sendmsg", "recvfrom", "recvmsg"})

#: high-volume I/O syscalls left out of the capture unless ``base_syscalls.all`` (``-A``): Falco 0.44's
#: set, in the order its ``-i`` lists them (recvfrom, sendto, recvmsg... are captured when rules need them)
IGNORED_SYSCALLS_ORDER = ("sendfile", "preadv", "readv", "pread", "recv", "send", "pwritev", "writev", "write",
                          "pwrite", "read")
IGNORED_SYSCALLS = frozenset(IGNORED_SYSCALLS_ORDER)

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
    ignored = frozenset() if all_io else (rules & IGNORED_SYSCALLS)
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
        state = set(STATE_EVENTS)
    asked = (wanted | state) - removes
    unknown = sorted(n for n in asked if not _capturable(n))
    if unknown:
        log.debug("event types not captured by the probe: %s", ", ".join(unknown))
    events = frozenset(n for n in asked if _capturable(n))
    # a rule on close events must see every close, also of files whose open was dropped
    open_filter, report = _open_pushdown(engine, config, events, adds, close_filter="close" not in rules)
    drop_failed = config.bool("engine.modern_ebpf.drop_failed_exit", False)
    results, ptrace_req, call_report = _call_pushdown(engine, config, events, frozenset(state), adds)
    report += call_report
    kf = F.KernelFilter(events=events, open_filter=open_filter, snaplen=snaplen,
                        drop_failed=drop_failed, drop_failed_close="close" not in (rules | adds),
                        results=results, ptrace_requests=ptrace_req, rule_events=frozenset(rules | adds),
                        shed_fraction=shed_fraction(config))
    return FilterPlan(kf, rules, frozenset(state), frozenset(removes), ignored, report, notes, attach)


def shed_fraction(config: Config) -> float:
    """``engine.modern_ebpf.shed_watermark`` (lanner-specific, default 0.75): ring fill above which the
    probe sheds events no rule can match (state-only events) to keep room for rule events; 0 disables."""
    v = config.float("engine.modern_ebpf.shed_watermark", 0.75)
    if not 0.0 <= v <= 1.0:
        raise ConfigError(f"engine.modern_ebpf.shed_watermark must be between 0 and 1, got {v}")
    return v


#: state events whose success the state engine needs; a failure changes no state (every handler in
#: lanner.state.engine returns on a negative result; a connect in progress counts as a success)
_NO_PUSHDOWN = frozenset(OPEN_EVENTS) | {"close", "procexit"}

_NOT_PUSHED = {
    "exec": "successful execs always reach the state engine (process tree, names, exe paths, args), and a "
            "failed exec carries the caller's process fields",
    "net": "successful connect/accept/bind always reach the state engine (it records the connection on "
           "the socket fd): ports and address classes are not pushed down",
    "cred": "successful setuid/setgid-family calls always reach the state engine (user of the thread)",
}


def _call_pushdown(engine: Any, config: Config, events: frozenset[str], state: frozenset[str],
                   explicit: set[str]) -> tuple[tuple[tuple[str, int], ...], frozenset[int] | None, list[str]]:
    """Result classes (and ptrace requests) to keep per event outside the open family: what some rule can
    match, plus every success the state engine needs. Events asked for in ``base_syscalls.custom_set``,
    and events the probe emits as generic ones (no result), are not pushed down."""
    from lanner.rules.pushdown_calls import ANY_RESULT, CallPred, plan_calls, result_names
    if not config.bool("engine.modern_ebpf.call_pushdown", True):
        return (), None, ["call push-down disabled by configuration"]
    names = {n for n in events if n not in _NO_PUSHDOWN and n not in explicit
             and any(c in F.HANDLED for c in F.EVENT_ALIASES.get(n, ()) + (n,))}
    if not names:
        return (), None, []
    plan = plan_calls(engine.ruleset.enabled_rules(), names, T.codes_for_name, lambda c: T.EVENTS[c].name)
    out: list[tuple[str, int]] = []
    def why(ev: str) -> str:
        if ev in state:
            return _NOT_PUSHED.get(F.FAMILIES[F.family_of(ev)], f"every successful {ev} feeds the state engine")
        return "the probe tests only results and ptrace requests outside the open family"

    report = [f"calls: {line}" for line in plan.rule_report(why)]
    for n in sorted(names):
        keep = plan.results.get(n, 0)
        if n in state or n in ("execve", "execveat"):
            keep |= F.RESULT_OK | (F.RESULT_INPROG if n == "connect" else 0)
        if n != "connect" and keep & (F.RESULT_INPROG | F.RESULT_ERR):
            keep |= F.RESULT_INPROG | F.RESULT_ERR   # only a connect tells EINPROGRESS from other failures
        if keep != F.RESULT_ALL:
            out.append((n, keep))
    req = plan.requests.get("ptrace") if "ptrace" in names else None
    if out:
        report.append("call push-down table (results kept): " + "; ".join(
            f"{n}: {result_names(m) if m else 'none'}" for n, m in out))
    if req is not None:
        report.append("ptrace push-down: " + CallPred(ANY_RESULT, req).describe().replace("any result & ", ""))
    fams = {F.FAMILIES[F.family_of(n)] for n in names}
    report += [f"not pushed down: {why}" for fam, why in _NOT_PUSHED.items() if fam in fams]
    return tuple(out), req, report


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


