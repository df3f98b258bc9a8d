"""Kernel filter derivation (base_syscalls, push-down switches), /proc seeding adapter and the
syscall_event_drops monitor: no kernel needed."""

from __future__ import annotations

import os

import pytest

from lanner.config import Config, ConfigError
from lanner.core.priority import Priority
from lanner.run.drops import DROP_RULE, DropMonitor, TokenBucket
from lanner.run.live import seed_state
from lanner.run.syscalls import STATE_EVENTS, derive_filter
from lanner.sources.ebpf import filters as F
from lanner.sources.ebpf.procscan import ProcScanner
from tests.sources.ebpf.livehelp import Internal, LiveRunner

RULES = """
- rule: shadow
  desc: t
  condition: evt.type in (open, openat) and evt.is_open_read=true and fd.num>=0 and fd.name = /etc/shadow
  output: "x %fd.name"
  priority: WARNING
- rule: shell
  desc: t
  condition: evt.type = execve and evt.dir=< and proc.name = sh
  output: "x %proc.name"
  priority: WARNING
- rule: io
  desc: t
  condition: evt.type = write and fd.num = 1
  output: "x"
  priority: WARNING
"""


def plan(cfg=None):
    r = LiveRunner(RULES, cfg)
    return derive_filter(r.engine, r.config)


def test_default_set_is_rules_plus_state_without_io():
    p = plan()
    ev = p.kfilter.events
    assert {"open", "openat", "execve"} <= ev
    assert ev >= STATE_EVENTS
    assert "write" not in ev and p.ignored_io == {"write"}
    assert ev != frozenset(F.NR_BY_NAME)
    of = p.kfilter.open_filter
    assert of is not None and of.close_filter
    assert of.entries == ((F.OPEN_READ | F.OPEN_OK, "exact", "/etc/shadow"),)
    assert any(line.startswith("shadow: read ok & path = /etc/shadow") for line in p.pushdown_report)
    assert p.kfilter.drop_failed_close and not p.kfilter.drop_failed   # no rule needs close


def test_all_keeps_io_and_custom_set_replaces_state_set():
    p = plan({"base_syscalls": {"all": True, "custom_set": ["chdir", "!execve"]}})
    ev = p.kfilter.events
    assert "write" in ev and "chdir" in ev
    assert "execve" not in ev                   # "!name" removes even a rule's syscall
    assert "clone" not in ev and "close" not in ev   # no state set without repair


def test_repair_adds_the_minimal_state_set():
    p = plan({"base_syscalls": {"custom_set": ["chdir"], "repair": True}})
    ev = p.kfilter.events
    assert {"clone", "execve", "procexit", "close", "chdir"} <= ev
    assert "pipe" not in ev


def test_custom_set_naming_opens_turns_pushdown_off():
    p = plan({"base_syscalls": {"custom_set": ["openat"]}})
    assert p.kfilter.open_filter is None


def test_kernel_filter_and_pushdown_switches():
    assert plan({"engine": {"modern_ebpf": {"kernel_filter": False}}}).kfilter.events is None
    assert plan({"engine": {"modern_ebpf": {"open_pushdown": False}}}).kfilter.open_filter is None


def test_attach_mode_key():
    assert plan().attach == "auto"
    assert plan({"engine": {"modern_ebpf": {"attach": "TP_BTF"}}}).attach == "tp_btf"
    assert plan({"engine": {"modern_ebpf": {"attach": "tracepoint", "kernel_filter": False}}}).attach == "tracepoint"
    with pytest.raises(ConfigError, match="engine.modern_ebpf.attach: unknown mode 'kprobe'"):
        plan({"engine": {"modern_ebpf": {"attach": "kprobe"}}})


def test_kernel_filter_numbers_resolve():
    nrs = plan().kfilter.syscall_numbers()
    assert F.NR_BY_NAME["openat"] in nrs and nrs[F.NR_BY_NAME["openat"]] == 307
    assert F.NR_BY_NAME["getppid"] not in nrs


def test_seed_state_from_proc_snapshot():
    r = LiveRunner(RULES)
    snap = ProcScanner("/").scan()
    n = seed_state(r.state, snap)
    assert n == len(snap)
    me = r.state.threads.get(os.getpid())
    assert me is not None and me.pid == os.getpid() and me.ptid == os.getppid()
    assert me.group.cwd == os.getcwd().rstrip("/") + "/"
    with open(f"/proc/{os.getpid()}/comm") as f:
        assert me.comm == f.read().strip()
    fd = os.open("/etc/hostname", os.O_RDONLY)
    try:
        r2 = LiveRunner(RULES)
        seed_state(r2.state, ProcScanner("/").scan())
        info = r2.state.threads.get(os.getpid()).group.fds.get(fd)
        assert info is not None and info.name == "/etc/hostname"
    finally:
        os.close(fd)


def test_token_bucket():
    b = TokenBucket(rate=1.0, max_burst=2, now_ns=0)
    assert b.claim(1, 0) and b.claim(1, 0) and not b.claim(1, 0)
    assert not b.claim(1, 500_000_000)
    assert b.claim(1, 1_000_000_000)


def drops_config(**kw) -> Config:
    return Config({"syscall_event_drops": kw})


def test_drop_monitor_alerts_with_threshold_and_rate_limit():
    pipe = Internal()
    m = DropMonitor(drops_config(actions=["log", "alert"], threshold=0.1, rate=0.03333, max_burst=1), pipe)
    s = 1_000_000_000
    m.check(0, 0, 0)                     # first event arms the check
    m.check(s // 2, 100, 50)             # within the first second: nothing
    m.check(s + 1, 1000, 150)            # 150 drops / 1000 events > 0.1
    assert m.detected == 1 and m.actions_taken == 1
    rule, prio, text, fields = pipe.messages[0]
    assert rule == DROP_RULE and prio == Priority.DEBUG
    assert text == "Falco internal: syscall event drop. 150 system calls dropped in last second."
    assert fields["n_evts"] == "1000" and fields["n_drops"] == "150" and fields["ebpf_enabled"] == "1"
    assert all(isinstance(v, str) for v in fields.values())
    m.check(2 * s + 2, 2000, 400)        # detected again, bucket empty: no action
    assert m.detected == 2 and m.actions_taken == 1 and len(pipe.messages) == 1
    m.check(3 * s + 3, 100_000, 401)     # 1 drop / 98000 events: under the threshold
    assert m.detected == 2


def test_drop_monitor_exit_and_simulate():
    m = DropMonitor(drops_config(actions=["exit"], simulate_drops=True))
    m.check(0, 0, 0)
    m.check(2_000_000_000, 10, 0)
    assert m.exit_requested and m.detected == 1


def test_drop_monitor_config_errors():
    with pytest.raises(ConfigError):
        DropMonitor(drops_config(actions=["ignore", "alert"]))
    with pytest.raises(ConfigError):
        DropMonitor(drops_config(actions=["shout"]))
    with pytest.raises(ConfigError):
        DropMonitor(drops_config(threshold=1.5))
    assert DropMonitor(drops_config(actions=[])).actions == []


def test_rule_on_close_keeps_every_close():
    extra = RULES + """
- rule: close by cat
  desc: t
  condition: evt.type = close and proc.name = cat
  output: "x"
  priority: WARNING
"""
    r = LiveRunner(extra)
    p = derive_filter(r.engine, r.config)
    assert p.kfilter.open_filter is not None and not p.kfilter.open_filter.close_filter
    assert not p.kfilter.drop_failed_close


def test_duration_and_simulated_drop_alert():
    """Root: run_live stops by itself after duration_ns; simulate_drops fires the 'alert' action once
    (token bucket of 1) as an internal Debug message."""
    from tests.conftest import require_root
    require_root()
    import threading
    import time

    from lanner.run.live import run_live
    from lanner.run.runner import LoopStats
    r = LiveRunner(RULES, {"syscall_event_drops": {"simulate_drops": True, "actions": ["alert"]}})
    # two checks a second of event time apart are needed: 3.6 s leaves room on a loaded machine
    r.duration_ns = 3_600_000_000
    stats = LoopStats("syscall")
    t0 = time.monotonic()
    th = threading.Thread(target=run_live, args=(r, stats), daemon=True)
    th.start()
    th.join(60)
    assert not th.is_alive()
    assert time.monotonic() - t0 > 3.5          # ran for its duration (a lower bound: load cannot break it)
    drops = [m for m in r.pipeline.messages if m[0] == DROP_RULE]
    assert len(drops) == 1 and drops[0][1] == Priority.DEBUG
    assert stats.extra["drop_detected"] >= 1 and stats.extra["drop_actions"] == 1


CALL_RULES = """
- rule: shell ok
  desc: t
  condition: evt.type = execve and evt.res = SUCCESS and proc.name = sh
  output: "x %proc.name"
  priority: WARNING
- rule: attach
  desc: t
  condition: evt.type = ptrace and evt.arg.request contains PTRACE_ATTACH
  output: "x"
  priority: WARNING
- rule: refused
  desc: t
  condition: evt.type = connect and evt.res = ECONNREFUSED
  output: "x"
  priority: WARNING
- rule: send in progress
  desc: t
  condition: evt.type = sendto and evt.res = EINPROGRESS
  output: "x"
  priority: WARNING
"""


def test_call_pushdown_keeps_what_rules_and_state_need():
    r = LiveRunner(CALL_RULES)
    p = derive_filter(r.engine, r.config)
    kf = p.kfilter
    # failed execs / setuids change no state and no rule reads them; successes feed the state engine
    assert kf.result_mask("execve") == F.RESULT_OK
    assert kf.result_mask("setuid") == F.RESULT_OK
    # a connect in progress is a connection to the state engine; the rule wants failures
    assert kf.result_mask("connect") == F.RESULT_ALL
    assert kf.result_mask("ptrace") == F.RESULT_ALL and kf.ptrace_requests == frozenset({11})
    # only a connect tells EINPROGRESS from other failures: a sendto keeps every failure (no success)
    assert kf.result_mask("sendto") == F.RESULT_ERR | F.RESULT_INPROG
    sendto_flags = kf.entries()[F.NR_BY_NAME["sendto"]][1]
    assert sendto_flags & F.SC_KEEP_ERR and not sendto_flags & F.SC_KEEP_OK
    assert kf.rule_events is not None and "ptrace" in kf.rule_events and "clone" not in kf.rule_events
    ents = kf.entries()
    nr = F.NR_BY_NAME
    code, flags, fam = ents[nr["execve"]]
    assert flags & F.SC_KEEP_OK and not flags & F.SC_KEEP_ERR and flags & F.SC_RULE
    assert F.FAMILIES[fam] == "exec"
    assert not ents[nr["clone"]][1] & F.SC_RULE     # state only: shed first under overload
    rep = "\n".join(p.pushdown_report)
    assert "calls: attach: ptrace: any result & request in (PTRACE_ATTACH)" in rep
    assert "not pushed down: successful execs always reach the state engine" in rep
    # switched off: every result kept
    r = LiveRunner(CALL_RULES, {"engine": {"modern_ebpf": {"call_pushdown": False}}})
    kf = derive_filter(r.engine, r.config).kfilter
    assert kf.results == () and kf.ptrace_requests is None


def test_custom_set_events_are_not_pushed_down():
    r = LiveRunner(CALL_RULES, {"base_syscalls": {"custom_set": ["setuid", "execve"], "repair": True}})
    kf = derive_filter(r.engine, r.config).kfilter
    assert kf.result_mask("setuid") == F.RESULT_ALL and kf.result_mask("execve") == F.RESULT_ALL


def test_shed_watermark_is_checked():
    r = LiveRunner(CALL_RULES, {"engine": {"modern_ebpf": {"shed_watermark": 1.5}}})
    with pytest.raises(ConfigError, match="shed_watermark"):
        derive_filter(r.engine, r.config)
