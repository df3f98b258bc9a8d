"""Benchmark: capture replay with the full upstream rules (stable + incubating + sandbox).

Writes a capture of N events (default 1,000,000) of the realistic mix of bench/workload.py with lanner's
ScapWriter (gzip) into a temp dir, then replays it through the loop ``lanner -e`` uses (lanner.run.loop:
ScapReader -> Engine.process: state -> rules -> alerts rendered; no output channel I/O). Reports events/s per core (events / CPU seconds of
the replay loop), wall time, alerts, and the process's peak RSS (getrusage) after the replay.
Run: ``.venv/bin/python bench/replay.py [N]``
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from workload import write_capture  # noqa: E402

from lanner.config import engine_defaults  # noqa: E402
from lanner.engine import Engine  # noqa: E402
from lanner.run.loop import LoopStats, replay_batches, run_loop  # noqa: E402
from lanner.sources.scap import ScapReader  # noqa: E402

RULES = Path(__file__).resolve().parent.parent.parent / "shared" / "upstream" / "rules"
FILES = ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"]


def main() -> None:
    if not RULES.is_dir():
        print(f"upstream rules not found at {RULES}; nothing to measure")
        return
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.scap")
        t0 = time.perf_counter()
        write_capture(path, n)
        print(f"wrote {n} events in {time.perf_counter() - t0:.1f} s, {os.path.getsize(path) / 1e6:.1f} MB (gzip)")
        eng = Engine(engine_defaults())
        assert eng.load_rules_files([str(RULES / f) for f in FILES])
        state = eng.state
        alerts = [0]

        def count(_a: object) -> None:
            alerts[0] += 1
        eng.on_alert = count
        stats = LoopStats("syscall")
        w0, c0 = time.perf_counter(), time.process_time()
        with ScapReader(path, on_section=state.seed_from_capture) as r:
            run_loop(eng, replay_batches(r), threading.Event(), stats)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"replay: {stats.events} events, {alerts[0]} alerts, {wall:.1f} s wall, {cpu:.1f} s CPU -> "
          f"{stats.events / cpu:,.0f} events/s per core; peak RSS {rss:.0f} MiB; threads in table "
          f"{len(state.threads)}")


if __name__ == "__main__":
    main()
