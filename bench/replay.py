"""Benchmark: capture replay with the full upstream rules (stable + incubating + sandbox).

Writes a capture of N events (default 1,000,000) of the realistic mix of bench/workload.py with lanner's
ScapWriter (gzip) into a temp dir (or replays ``--capture PATH``), then replays it through the loop
``lanner -e`` uses (lanner.run.loop: ScapReader -> Engine.process: state -> rules -> alerts rendered; no
output channel I/O). Reports events/s per core (events / CPU seconds of the replay loop, best of
``--rounds``), wall time, alerts, and the process's peak RSS (getrusage) after the replay.

``--plain`` also replays with the engine's fused rule matching off (``Engine.fast = False``, the reference
the fast path must equal), alternating with the fast runs, and checks both give the same alerts.
``--falco PATH`` (e.g. ../shared/falco/falco-ref) replays the same capture with real Falco and the same
rules: its CPU seconds (getrusage of the child) minus those of a replay of a one-event capture (start-up
and rules loading) give Falco's events/s per core; the ratio lanner/Falco is printed.
``--pure`` also replays in a child process with ``LANNER_PURE=1`` (the same code without the compiled hot
modules of lanner/compiled), alternating with this process's runs, and checks both give the same alerts;
the first line says whether this process uses the compiled hot path.
Run: ``.venv/bin/python bench/replay.py [N] [--capture PATH] [--rounds 3] [--plain] [--pure] [--falco PATH]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import write_capture  # noqa: E402

from lanner.compiled.hook import summary as hot_path  # noqa: E402
from lanner.config import engine_defaults  # noqa: E402
from lanner.engine import Engine  # noqa: E402
from lanner.run.loop import LoopStats, replay_batches, run_loop  # noqa: E402
from lanner.sources.scap import ScapReader  # noqa: E402

RULES = Path(__file__).resolve().parent.parent.parent / "shared" / "upstream" / "rules"
FILES = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"]


def replay(path: str, fast: bool) -> tuple[int, list[tuple[str, int, str]], float, float, int]:
    """(events, alerts as (rule, time, output), CPU s, wall s, threads left) of one replay."""
    eng = Engine(engine_defaults())
    eng.fast = fast
    assert eng.load_rules_files([str(RULES / f) for f in FILES])
    state = eng.state
    alerts: list[tuple[str, int, str]] = []
    eng.on_alert = lambda a: alerts.append((a.rule, a.time_ns, a.message))
    stats = LoopStats("syscall")
    w0, c0 = time.perf_counter(), time.process_time()
    with ScapReader(path, on_section=state.seed_from_capture) as r:
        run_loop(eng, replay_batches(r), threading.Event(), stats)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return stats.events, alerts, cpu, wall, len(state.threads)


def pure_replay(path: str) -> tuple[int, str, float]:
    """(events, alerts digest, CPU s) of one replay in a child process with ``LANNER_PURE=1``."""
    env = dict(os.environ, LANNER_PURE="1")
    p = subprocess.run([sys.executable, __file__, "--child", "--capture", path], capture_output=True, text=True,
                       env=env, check=False)
    if p.returncode != 0:
        raise SystemExit(f"pure replay failed: {p.stderr[-2000:]}")
    r = json.loads(p.stdout.splitlines()[-1])
    if r["hot_path"] != "pure Python (LANNER_PURE=1)":
        raise SystemExit(f"the pure child ran {r['hot_path']}")
    return r["events"], r["digest"], r["cpu"]


def digest(alerts: list[tuple[str, int, str]]) -> str:
    return hashlib.sha256(repr(alerts).encode()).hexdigest()


def falco_cpu(falco: str, capture: str) -> tuple[float, int]:
    """CPU seconds (user + sys) of one Falco replay of ``capture`` with the bench's rules, and its alerts."""
    cmd = [falco]
    for f in FILES:
        cmd += ["-r", str(RULES / f)]
    cmd += ["-o", "json_output=true", "-o", "engine.kind=replay", "-o", f"engine.replay.capture_file={capture}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"falco failed ({p.returncode}): {p.stderr[-2000:]}")
    alerts = sum(1 for line in p.stdout.splitlines() if line.startswith("{"))
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), alerts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=1_000_000, help="events to write (without --capture)")
    ap.add_argument("--capture", help="replay this capture instead of writing one")
    ap.add_argument("--rounds", type=int, default=1, help="replays per mode; the best CPU time counts")
    ap.add_argument("--plain", action="store_true", help="also replay with fused rule matching off")
    ap.add_argument("--pure", action="store_true",
                    help="also replay in a child process with LANNER_PURE=1 (no compiled modules)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--falco", help="path of a Falco binary (e.g. ../shared/falco/falco-ref) to compare with")
    args = ap.parse_args()
    if args.child:
        events, alerts, cpu, _, _ = replay(args.capture, True)
        print(json.dumps({"events": events, "digest": digest(alerts), "cpu": cpu, "hot_path": hot_path()}))
        return
    print(f"hot path: {hot_path()}")
    if not RULES.is_dir():
        print(f"upstream rules not found at {RULES}; nothing to measure")
        return
    with tempfile.TemporaryDirectory() as d:
        path = args.capture
        if path is None:
            path = os.path.join(d, "bench.scap")
            t0 = time.perf_counter()
            write_capture(path, args.n)
            print(f"wrote {args.n} events in {time.perf_counter() - t0:.1f} s, "
                  f"{os.path.getsize(path) / 1e6:.1f} MB (gzip)")
        modes = [True, False] if args.plain else [True]
        best: dict[bool, float] = {}
        seen: dict[bool, list[tuple[str, int, str]]] = {}
        rate = 0.0
        best_pure = 1e18
        for rnd in range(args.rounds):
            for fast in modes:
                events, alerts, cpu, wall, threads = replay(path, fast)
                label = "fast" if fast else "plain"
                print(f"round {rnd + 1} {label}: {events} events, {len(alerts)} alerts, {wall:.1f} s wall, "
                      f"{cpu:.2f} s CPU -> {events / cpu:,.0f} events/s per core; threads in table {threads}")
                best[fast] = min(best.get(fast, 1e18), cpu)
                if seen.setdefault(fast, alerts) != alerts:
                    raise SystemExit(f"{label}: alerts differ between rounds")
            if args.pure:
                pevents, pdigest, pcpu = pure_replay(path)
                print(f"round {rnd + 1} pure Python (child, LANNER_PURE=1): {pevents} events, {pcpu:.2f} s CPU -> "
                      f"{pevents / pcpu:,.0f} events/s per core")
                best_pure = min(best_pure, pcpu)
                if pdigest != digest(seen[True]) or pevents != events:
                    raise SystemExit("pure Python and this process's alerts differ")
        rate = events / best[True]
        print(f"lanner fast: {rate:,.0f} events/s per core (best of {args.rounds})")
        if args.plain:
            print(f"lanner plain: {events / best[False]:,.0f} events/s per core; fast/plain "
                  f"{best[False] / best[True]:.2f}x; alerts identical: {seen[True] == seen[False]}")
            if seen[True] != seen[False]:
                raise SystemExit("fast and plain alerts differ")
        if args.pure:
            print(f"lanner pure Python: {events / best_pure:,.0f} events/s per core; this process/pure "
                  f"{best_pure / best[True]:.2f}x; alerts identical: True")
        if args.falco:
            tiny = os.path.join(d, "one.scap")
            write_capture(tiny, 1)
            load = min(falco_cpu(args.falco, tiny)[0] for _ in range(args.rounds))
            runs = [falco_cpu(args.falco, path) for _ in range(args.rounds)]
            total = min(c for c, _ in runs)
            frate = events / max(total - load, 1e-9)
            print(f"falco: {total:.2f} s CPU for the replay, {load:.2f} s of it start-up + rules "
                  f"(one-event capture), {runs[0][1]} alerts -> {frate:,.0f} events/s per core "
                  f"({events / total:,.0f} counting start-up)")
            print(f"ratio lanner/falco: {rate / frate:.2f}x")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MiB (lanner; all rounds in one process)")


if __name__ == "__main__":
    main()
