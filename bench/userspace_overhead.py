"""Slowdown of the live overhead bench's four workloads under the userspace driver (ptrace + seccomp).

Each workload (the same programs as ``bench/live_overhead.py``: open/close loop, getppid loop, shell
loop, compiling small C files) runs once without lanner and once as the command of the userspace source,
the way ``lanner -o engine.kind=userspace -- CMD`` runs it: the syscall set derived from the upstream
stable rules (``run.syscalls.derive_filter``, as for the kernel filter), every stop decoded into the
probe's event while the tracee waits, every event through the real state engine and rules engine
(``run.loop.run_loop``) in the loop's thread while the tracer thread serves the stops. Time is the wall time from launch to exit (lanner's own
start-up, rules loading, is not counted: it is paid once per run, not per syscall).

Figures: median of R rounds (modes alternate), slowdown against no tracing in wall time and in CPU time
of the workload's own processes (user + system, from their rusage: less sensitive than wall time to
other load on the machine; a stop's wait is not in it), syscalls stopped, events,
and the cost of one stopped syscall in microseconds: wall time added / stops, workload CPU added /
stops (the kernel's share of the ptrace stops), and lanner's own CPU / stops (tracer, decoding, rules). The getppid
loop is never stopped (no rule or state needs getppid): it shows the cost of the seccomp filter alone,
next to the same loop under a one-instruction allow-all filter without any tracer (the floor of every
seccomp-based driver: the kernel's syscall slow path).
Run: ``.venv/bin/python bench/userspace_overhead.py [--quick] [--rounds=N] [--only=open]``.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import threading
import time

from live_overhead import PROGS, RULES  # bench/ is on sys.path when run as a script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from lanner.config import Config  # noqa: E402
from lanner.engine import Engine  # noqa: E402
from lanner.fields import container, k8s  # noqa: E402
from lanner.fields import registry as reg  # noqa: E402
from lanner.fields.syscall_classes import generic_field_classes, syscall_field_classes  # noqa: E402
from lanner.run.live import boot_time_ns  # noqa: E402
from lanner.run.loop import LoopStats, run_loop  # noqa: E402
from lanner.run.syscalls import derive_filter  # noqa: E402
from lanner.run.userspace import SWITCH_INTERVAL_S, _seeder  # noqa: E402
from lanner.sources.userspace.source import UserspaceSource  # noqa: E402
from lanner.state.engine import StateEngine, proc_alive  # noqa: E402

#: runs a command under a one-instruction allow-all seccomp filter: the floor any seccomp-based driver pays
SECWRAP = r"""
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(int c, char **v) {
  struct sock_filter f[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
  struct sock_fprog p = {1, f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p)) return 126;
  execv(v[1], v + 1); return 127; }
"""


def make_engine() -> Engine:
    st = StateEngine(alive=proc_alive)
    r = reg.FieldRegistry()
    for c in generic_field_classes() + syscall_field_classes(st) + [container.field_class(), k8s.field_class()]:
        r.add(c)
    eng = Engine(Config({}), registry=r)
    if not eng.load_rules_files([RULES]):
        sys.exit(f"could not load {RULES}")
    eng.state = st
    st.boot_ts = boot_time_ns()
    return eng


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def untraced(argv: list[str], cwd: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the workload's processes)."""
    c = children_cpu()
    t = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t, children_cpu() - c


def traced(argv: list[str], cwd: str) -> tuple[float, dict]:
    """Wall time of ``argv`` as the userspace source's command, and what the source and the loop counted
    (``wcpu``: CPU seconds of the traced processes, reaped by the tracer)."""
    eng = make_engine()
    plan = derive_filter(eng, Config({}))
    alerts: list = []
    eng.on_alert = alerts.append
    null = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1), os.dup(2)
    os.dup2(null, 1)
    os.dup2(null, 2)
    try:
        src = UserspaceSource(plan.kfilter, argv=argv, seed=_seeder(eng.state), cwd=cwd)
        stats = LoopStats("syscall")
        c = children_cpu()
        me = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        run_loop(eng, src.batches(), threading.Event(), stats)
        dt = time.perf_counter() - t
        wcpu = children_cpu() - c
        me2 = resource.getrusage(resource.RUSAGE_SELF)
        lcpu = me2.ru_utime + me2.ru_stime - me.ru_utime - me.ru_stime
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (null, *saved):
            os.close(fd)
    if src.exit_code:
        sys.exit(f"{argv[0]} exited with {src.exit_code} under the userspace driver")
    return dt, {"wcpu": wcpu, "lcpu": lcpu, "stops": src.n_stops, "events": src.n_events, "alerts": len(alerts), "cpu": stats.cpu_s,
                "traced_nrs": len(src.nrs)}


def main() -> None:
    sys.setswitchinterval(SWITCH_INTERVAL_S)      # as run_userspace sets it
    quick = "--quick" in sys.argv
    pairs, ppids, shells, files, rounds = ((5_000, 1_000_000, 30, 6, 1) if quick else
                                           (20_000, 3_000_000, 100, 20, 3))
    rounds = next((int(a.split("=", 1)[1]) for a in sys.argv[1:] if a.startswith("--rounds=")), rounds)
    only = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--only=")]
    d = tempfile.mkdtemp(prefix="lanner_us_bench")
    for name, src in (("openloop", PROGS["openloop"]), ("ppidloop", PROGS["ppidloop"]), ("secwrap", SECWRAP)):
        with open(f"{d}/{name}.c", "w") as f:
            f.write(src)
        subprocess.run(["cc", "-O2", "-o", f"{d}/{name}", f"{d}/{name}.c"], check=True)
    for i in range(files):
        with open(f"{d}/f{i}.c", "w") as f:
            f.write(f"#include <stdio.h>\n#include <string.h>\nint f{i}(int x) {{ return printf(\"%d\", x * {i}); }}\n")
    workloads = {
        "open/close loop": [f"{d}/openloop", str(pairs)],
        "getppid loop": [f"{d}/ppidloop", str(ppids)],
        "shell loop": ["sh", "-c", f"for i in $(seq {shells}); do true; ls / >/dev/null; cat /etc/hostname >/dev/null; done"],
        "compile C files": ["sh", "-c", f"for i in $(seq 0 {files - 1}); do cc -O1 -c f$i.c; done"],
    }
    if only:
        workloads = {k: v for k, v in workloads.items() if any(o in k for o in only)}
    eng = make_engine()
    plan = derive_filter(eng, Config({}))
    print(f"# lanner userspace driver overhead, {time.strftime('%Y-%m-%d %H:%M')}, kernel {os.uname().release}, "
          f"{os.cpu_count()} CPUs, uid {os.geteuid()}; rules {RULES}")
    print(f"# stopped syscalls (from the rules + state, as the kernel filter): "
          f"{len(plan.kfilter.syscall_numbers())} numbers; {', '.join(sorted(plan.kfilter.events or ['all']))}")
    print(f"# {pairs} open+close pairs, {ppids} getppid, {shells} x (true; ls; cat), {files} C files; "
          f"median of {rounds} alternating round(s)")
    for name, argv in workloads.items():
        untraced(argv, d)                                   # warm-up, not measured
        base, runs, floor = [], [], []
        for r in range(rounds):
            for mode in (("none", "userspace") if r % 2 == 0 else ("userspace", "none")):
                if mode == "none":
                    base.append(untraced(argv, d))
                else:
                    runs.append(traced(argv, d))
            if name == "getppid loop":
                floor.append(untraced([f"{d}/secwrap", *argv], d))
        b, bcpu = sorted(base)[len(base) // 2]
        dt, st = sorted(runs, key=lambda x: x[0])[len(runs) // 2]
        per = (dt - b) / st["stops"] * 1e6 if st["stops"] else 0.0
        print(f"\n{name}: no tracing {b:.3f}s; userspace driver {dt:.3f}s ({dt / b:.2f}x wall); workload CPU "
              f"{bcpu:.3f}s -> {st['wcpu']:.3f}s ({st['wcpu'] / max(bcpu, 1e-9):.2f}x)")
        if floor:
            fw, fc = sorted(floor)[len(floor) // 2]
            print(f"  the same under a one-instruction allow-all seccomp filter, no tracer (the floor of any "
                  f"seccomp-based driver): {fw:.3f}s ({fw / b:.2f}x wall), workload CPU {fc:.3f}s ({fc / max(bcpu, 1e-9):.2f}x)")
        print(f"  syscalls stopped {st['stops']:,}, events {st['events']:,}, alerts {st['alerts']}; lanner CPU "
              f"{st['lcpu']:.2f}s; per stopped syscall: "
              + (f"{per:.1f} us wall added, {(st['wcpu'] - bcpu) / st['stops'] * 1e6:.1f} us workload CPU added, "
                 f"{st['lcpu'] / st['stops'] * 1e6:.1f} us lanner CPU (tracer + decoding + rules)" if st["stops"]
                 else "n/a (nothing stopped)"))


if __name__ == "__main__":
    main()
