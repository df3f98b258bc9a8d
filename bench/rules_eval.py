"""Benchmark: load + compile time of the upstream rules, and rule evaluation throughput.

1. Load + compile: all upstream rule files together (stable, incubating, sandbox, k8s audit, cloudtrail),
   wall time of ``Engine.load_rules_files`` (YAML, lists/macros, parse, compile to Python, evttype index),
   best of 3 fresh engines.
2. Evaluation: stable + incubating + sandbox loaded; a realistic syscall mix (bench/workload.py, 200k
   events by default, parameters decoded up front) is run through state engine + rules: once with
   state only, once with ``Engine.process`` too (candidate lookup by event type, compiled conditions,
   alert rendering; rule_matching=first as in Falco's default), and once more with the plain
   rule-by-rule loop instead of the fused matching (``Engine.fast = False``). Rules cost = the CPU
   difference; events/s per core = events / CPU seconds.
Run: ``.venv/bin/python bench/rules_eval.py [N]``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import events, threads  # noqa: E402

from lanner.config import Config  # noqa: E402
from lanner.engine import Engine  # noqa: E402

RULES = Path(__file__).resolve().parent.parent.parent / "shared" / "upstream" / "rules"
SYSCALL = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"]
ALL = SYSCALL + ["k8s_audit_rules.yaml", "aws_cloudtrail_rules.yaml"]


def main() -> None:
    if not RULES.is_dir():
        print(f"upstream rules not found at {RULES}; nothing to measure")
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    best = 1e9
    for _ in range(3):
        eng = Engine(Config({}))
        t0 = time.perf_counter()
        assert eng.load_rules_files([str(RULES / f) for f in ALL if (RULES / f).exists()])
        best = min(best, time.perf_counter() - t0)
    print(f"load+compile of {len(ALL)} upstream files ({len(eng.loader.rules)} rules): {best * 1000:.0f} ms "
          "(best of 3, wall)")

    cpu = {}
    for mode in ("state", "state+rules", "state+rules plain"):
        eng = Engine(Config({}))
        eng.fast = mode != "state+rules plain"
        eng.load_rules_files([str(RULES / f) for f in SYSCALL])
        state = eng.state
        state.seed_from_capture({"threads": threads()})
        evs = list(events(n))
        for ev in evs:
            ev.params  # noqa: B018 - decode up front: this bench measures state and rules, not decoding
        alerts = 0
        c0 = time.process_time()
        if mode == "state":
            for ev in evs:
                state.process(ev)
                state.post_process(ev)
        else:
            process = eng.process   # state -> rules -> post-state, as every run does
            for ev in evs:
                alerts += len(process(ev))
        cpu[mode] = time.process_time() - c0
        if mode != "state":
            print(f"{mode}: {n} events, {len(eng.ruleset.enabled_rules())} enabled rules, {alerts} alerts")
    for mode in ("state+rules", "state+rules plain"):
        rules_cpu = cpu[mode] - cpu["state"]
        label = "fused rule matching" if mode == "state+rules" else "plain rule-by-rule loop (Engine.fast = False)"
        print(f"{label}: state {cpu['state']:.2f} s, state+rules {cpu[mode]:.2f} s CPU -> rules alone "
              f"{n / rules_cpu:,.0f} events/s per core, state+rules {n / cpu[mode]:,.0f} events/s per core")


if __name__ == "__main__":
    main()
