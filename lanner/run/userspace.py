"""The userspace-driver run (``engine.kind=userspace``): ``lanner -o engine.kind=userspace -- CMD ARGS...``
runs CMD under ptrace + seccomp, or ``engine.userspace.pids`` attaches to running processes.

The syscalls stopped are the kernel filter's set (``run.syscalls.derive_filter``: the loaded rules plus
the state engine's needs), so every rule sees what it would see from the probe. State covers the traced
processes only: they (and their ancestors, without fds) are seeded from their own ``/proc/<pid>`` as the
tracer meets them. The command's exit status becomes lanner's; its stdin/stdout/stderr are lanner's
own, passed through unchanged (alerts go to lanner's outputs). Signals lanner receives are forwarded to
the command (``app`` installs the forwarding), which decides when the run ends.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any

from lanner.config import Config, ConfigError
from lanner.core.errors import RunError
from lanner.events.syscall import SyscallEvent
from lanner.run.live import boot_time_ns, seed_state
from lanner.run.loop import run_loop
from lanner.run.syscalls import derive_filter
from lanner.sources.ebpf.procscan import ProcEntry
from lanner.sources.userspace.source import FORWARDED_SIGNALS, UserspaceSource

log = logging.getLogger("lanner")

#: the interpreter's thread switch interval while tracing (default 5 ms: a tracee would wait that long)
SWITCH_INTERVAL_S = 0.0005


def attach_pids(config: Config) -> list[int]:
    """``engine.userspace.pids``: a pid, a list of pids, or a comma-separated string of them."""
    raw = config.raw("engine.userspace.pids", None)
    if raw is None or raw == "":
        return []
    items = raw if isinstance(raw, list) else str(raw).replace(",", " ").split()
    out = []
    for it in items:
        try:
            pid = int(str(it).strip())
        except ValueError:
            raise ConfigError(f"engine.userspace.pids: '{it}' is not a process id") from None
        if pid <= 0:
            raise ConfigError(f"engine.userspace.pids: '{it}' is not a process id")
        out.append(pid)
    return out


def check_userspace(config: Config, command: list[str]) -> None:
    """What the userspace kind needs: a command after ``--`` or pids to attach to, not both."""
    pids = attach_pids(config)
    if command and pids:
        raise RunError("engine.kind=userspace: give either a command after -- or engine.userspace.pids, not both")
    if not command and not pids:
        raise RunError("engine.kind=userspace needs a command to run (lanner -o engine.kind=userspace -- CMD ARGS...) "
                       "or engine.userspace.pids to attach to")


def _seeder(state: Any) -> Any:
    first = [True]

    def seed(entries: list[ProcEntry]) -> None:
        if first[0]:
            first[0] = False
            n = seed_state(state, entries)      # also loads users, groups and interfaces once
        else:
            for e in entries:
                state.seed_thread(e, link=False)
            state.finish_seeding()
            for e in entries:
                if e.tid == e.pid:
                    for f in e.fds:
                        state.seed_fd(e.tid, f)
            if hasattr(state, "fixup_seeded_sockets"):
                state.fixup_seeded_sockets()
            n = len(entries)
        log.debug("userspace: seeded %d threads from /proc", n)

    return seed


def run_userspace(runner: Any, stats: Any) -> None:
    """Trace until the command ends (or the attached processes are gone, or lanner is stopped)."""
    config: Config = runner.config
    engine = runner.engine
    command = list(getattr(runner.args, "command", []) or [])
    pids = attach_pids(config)
    plan = derive_filter(engine, config)
    events = plan.kfilter.events
    log.info("userspace: tracing %s; stopping %s", "command " + " ".join(command) if command else
             "pids " + ", ".join(map(str, pids)),
             "every syscall" if events is None else f"{len(events)} event types: " + ", ".join(sorted(events)))
    state = engine.state
    if state is None:
        raise RunError("the userspace driver needs an engine with a state engine")
    if hasattr(state, "boot_ts") and not state.boot_ts:
        state.boot_ts = boot_time_ns()
    snaplen = config.int("falco_libs.snaplen", 0) or 80
    src = UserspaceSource(plan.kfilter, argv=command or None, pids=pids, seed=_seeder(state), snaplen=snaplen)
    # the tracing thread must get the GIL back quickly after each stop while the loop evaluates rules
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))
    runner.userspace_source = src
    try:
        run_loop(engine, _until(runner, src.batches()), runner.stop, stats)
    finally:
        src.close()
        runner.userspace_source = None
        stats.driver_events = src.n_events
        stats.extra.update({"userspace_stops": src.n_stops})
        if command:
            runner.exit_code = src.exit_code
        # the traced command is the run: when it ends, every other source ends too
        runner.stop.set()


def _until(runner: Any, batches: Iterator[list[SyscallEvent] | None]) -> Iterator[list[SyscallEvent] | None]:
    """``batches`` until ``-M`` seconds of wall time passed."""
    if not runner.duration_ns:
        yield from batches
        return
    deadline = time.monotonic_ns() + runner.duration_ns
    for b in batches:
        yield b
        if time.monotonic_ns() >= deadline:
            return


def install_forwarding(runner: Any) -> None:
    """Signals lanner receives go to the traced command (main thread only). A terminal's Ctrl-C already
    reached the command when it shares lanner's foreground process group: it is not sent twice."""
    def forward(signum: int, _frame: Any) -> None:
        if signum == signal.SIGINT and _foreground():
            return
        log.debug("userspace: forwarding signal %d to the command", signum)
        runner.forward_signal(signum)

    for sig in FORWARDED_SIGNALS:
        signal.signal(sig, forward)


def _foreground() -> bool:
    try:
        return os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False
