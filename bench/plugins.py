"""Plugin libraries through lanner's one event loop: events/s with a source plugin, an extractor plugin and
one rule, beside the same work done by lanner's built-in Python equivalent.

1. ``dummy_c`` (C source + extractor plugin, ../shared/plugins/libdummy_c.so): N events from the plugin's
   ``next_batch``, a rule reading two of its fields (``dummy.value``, ``dummy.strvalue``).
2. JSON payloads (k8s-audit-like, made here) with a rule on ``json.value[/user/username]``: extracted by the
   real ``json`` plugin (../shared/plugins/libjson.so, Go; with ``useAsync`` false, then true: the Go SDK's
   async mode hands every call to a spinning worker thread, which costs dearly on a busy 2-core machine)
   and by lanner's built-in ``json`` fields.

Each figure is events per CPU second of this process (time.process_time) through ``run_loop`` (the loop the
run, ``lanner test`` and replay use), best of ``--rounds``. Run: ``.venv/bin/python bench/plugins.py [--events N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from lanner.config import Config  # noqa: E402
from lanner.engine import Engine  # noqa: E402
from lanner.events.base import PluginEvent  # noqa: E402
from lanner.run.loop import LoopStats, plugin_batches, run_loop  # noqa: E402
from lanner.sources.plugins.source import LibraryPlugin  # noqa: E402
from lanner.sources.registry import builtin_plugin_classes  # noqa: E402

PLUGINS = os.path.join(os.path.dirname(ROOT), "shared", "plugins")

DUMMY_RULE = """
- rule: dummy
  desc: d
  condition: dummy.value > 0 and dummy.strvalue != ""
  output: v=%dummy.value
  priority: INFO
  source: dummy_c
"""

JSON_RULE = """
- rule: alice
  desc: d
  condition: json.value[/user/username] = "alice"
  output: u=%json.value[/user/username]
  priority: INFO
  source: k8s_audit
"""


def timed(engine: Engine, batches, rounds_label: str) -> tuple[float, int, int]:
    stats = LoopStats(rounds_label)
    t0 = time.process_time()
    run_loop(engine, batches, threading.Event(), stats)
    return time.process_time() - t0, stats.events, engine.stats.alerts


def bench_dummy(n: int) -> float:
    p = LibraryPlugin(os.path.join(PLUGINS, "libdummy_c.so"))
    p.init('{"jitter": 10}')
    eng = Engine(Config(), sources={"syscall", "dummy_c"}, plugins=[p])
    assert eng.load_rules_text("dummy.yaml", DUMMY_RULE), eng.loader.results[-1].verbose()
    cpu, events, alerts = timed(eng, plugin_batches(p, json.dumps({"start": 1, "maxEvents": n})), "dummy_c")
    assert events == n and alerts == n, (events, alerts)
    p.destroy()
    return n / cpu


def payloads(n: int) -> list[bytes]:
    users = ["alice", "bob", "system:serviceaccount:kube-system:foo", "carol"]
    return [json.dumps({"kind": "Event", "verb": "get", "user": {"username": users[i % 4], "groups": ["a", "b"]},
                        "objectRef": {"resource": "pods", "namespace": "default", "name": f"p{i}"},
                        "stageTimestamp": "2026-12-02T10:00:00Z"}).encode() for i in range(n)]


def bench_json(n: int, library: bool, async_: bool = False) -> float:
    data = payloads(n)
    if library:
        p = LibraryPlugin(os.path.join(PLUGINS, "libjson.so"))
        p.init(json.dumps({"useAsync": async_}))
        plugins = [p]
    else:
        p = builtin_plugin_classes()["json"]()
        plugins = []
    eng = Engine(Config(), sources={"syscall", "k8s_audit"}, plugins=plugins)
    assert eng.load_rules_text("json.yaml", JSON_RULE), eng.loader.results[-1].verbose()
    events = [PluginEvent(i + 1, 1_000_000_000 + i, "k8s_audit", d, plugin="k8saudit", plugin_id=1)
              for i, d in enumerate(data)]
    cpu, seen, alerts = timed(eng, ([e] for e in events), "json")
    assert seen == n and alerts == n // 4, (seen, alerts)
    return n / cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    missing = [f for f in ("libdummy_c.so", "libjson.so") if not os.path.exists(os.path.join(PLUGINS, f))]
    if missing:
        print(f"plugins: not found in {PLUGINS}: {', '.join(missing)}", file=sys.stderr)
        return 2
    rows = [("dummy_c source + extractor plugin, 1 rule", lambda: bench_dummy(a.events)),
            ("json fields via libjson.so (Go plugin), 1 rule", lambda: bench_json(a.events, True)),
            ("  the same with the SDK's async extraction", lambda: bench_json(a.events, True, True)),
            ("json fields via lanner's built-in json, 1 rule", lambda: bench_json(a.events, False))]
    print(f"plugins: {a.events} events per run, best of {a.rounds}, events per CPU second through run_loop")
    got = {}
    for label, fn in rows:
        got[label] = max(fn() for _ in range(a.rounds))
        print(f"  {label:<50} {got[label]:>10,.0f} events/s")
    lib, py = got[rows[1][0]], got[rows[3][0]]
    print(f"  libjson.so / built-in json: {lib / py:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
