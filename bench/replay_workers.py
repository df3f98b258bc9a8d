"""Benchmark: a capture replay on one core and split over worker processes (``engine.replay.workers``).

Writes a capture of N events (default 400,000) of bench/workload.py's realistic mix, loads the full upstream
rules (stable + incubating + sandbox) once, then replays the capture with 1, 2, ... workers through
``lanner.run.parallel.ParallelReplay`` (1 worker is the same path with every rule in one process), checks the
alerts are identical each time, and prints wall time, events/s (wall), the speedup over one worker, and the
CPU seconds of the slowest worker (each worker keeps the whole state: the rules are what is split).
Run: ``.venv/bin/python bench/replay_workers.py [N] [--workers 1,2]`` on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import write_capture  # noqa: E402

from lanner.config import engine_defaults  # noqa: E402
from lanner.core.alert import Alert  # noqa: E402
from lanner.engine import Engine  # noqa: E402
from lanner.run import parallel  # noqa: E402
from lanner.run.loop import LoopStats  # noqa: E402

RULES = Path(__file__).resolve().parent.parent.parent / "shared" / "upstream" / "rules"
FILES = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("events", nargs="?", type=int, default=400_000)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    a = ap.parse_args()
    if not RULES.is_dir():
        print(f"upstream rules not found at {RULES}; nothing to measure")
        return
    eng = Engine(engine_defaults())
    assert eng.load_rules_files([str(RULES / f) for f in FILES])
    worker_cpu: list[float] = []
    send = parallel._send

    def spy(fd: int, obj: object) -> None:
        if isinstance(obj, tuple) and obj[0] == "end":
            os.write(wfd, f"{obj[2]}\n".encode())
        send(fd, obj)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.scap")
        write_capture(path, a.events)
        print(f"capture: {a.events} events of the workload mix; {os.cpu_count()} CPUs; "
              f"{len(eng.ruleset.enabled_rules())} enabled upstream rules")
        base_wall = 0.0
        reference: list[Alert] | None = None
        for n in (int(x) for x in a.workers.split(",")):
            rfd, wfd = os.pipe()
            parallel._send = spy
            got: list[Alert] = []
            stats = LoopStats("syscall")
            t0 = time.perf_counter()
            parallel.ParallelReplay(eng, path, n, got.append).run(stats, threading.Event())
            wall = time.perf_counter() - t0
            os.close(wfd)
            with os.fdopen(rfd) as f:
                worker_cpu = [float(x) for x in f.read().split()]
            if reference is None:
                reference, base_wall = got, wall
            same = "identical" if got == reference else "DIFFERENT"
            print(f"workers={n}: {wall:.2f} s wall, {stats.events / wall:,.0f} events/s, speedup "
                  f"{base_wall / wall:.2f}x, slowest worker {max(worker_cpu):.2f} s CPU "
                  f"(all: {', '.join(f'{c:.2f}' for c in worker_cpu)}), {len(got)} alerts {same}")


if __name__ == "__main__":
    main()
