"""The compiled hot path raises exactly the alerts of the plain Python one: every capture in
../shared/captures replayed with the upstream syscall rules and the compat harness's rules, once in this
process (compiled modules, which the test insists are really loaded when they are built) and once in a
subprocess with LANNER_PURE=1. Skips when this machine cannot compile them (no Cython or compiler)."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import threading

import pytest

from lanner.compiled import build, hook
from tests.conftest import ROOT, shared_path

UPSTREAM = ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml")


def replay(captures: list[str], rules: list[str]) -> dict[str, object]:
    """Every capture's alerts (rule, time, priority, output, fields) and which hot modules are compiled."""
    from lanner.config import Config
    from lanner.engine import Engine
    from lanner.run.loop import LoopStats, replay_batches, run_loop
    from lanner.sources.scap import ScapReader

    for name in hook.status():       # every listed module, used by a replay or not (the live source)
        importlib.import_module(name)
    eng = Engine(Config({}))
    assert eng.load_rules_files(rules)
    per: dict[str, list[str]] = {}
    for cap in captures:
        out: list[str] = per.setdefault(cap, [])
        eng.on_alert = lambda a, out=out: out.append(
            repr((a.rule, a.time_ns, str(a.priority), a.message, a.output_fields, a.extra)))
        with ScapReader(cap, on_section=eng.state.seed_from_capture) as r:
            run_loop(eng, replay_batches(r), threading.Event(), LoopStats("syscall"))
    return {"alerts": per, "eval_errors": eng.stats.eval_errors,
            "compiled": sorted(n for n in hook.status() if hook.loaded_compiled(n))}


def test_compiled_and_pure_python_raise_the_same_alerts_on_every_capture() -> None:
    if hook.pure_forced():
        pytest.skip("LANNER_PURE=1: this run is pure Python")
    captures = [str(p) for p in sorted(shared_path("captures").glob("*.scap"))]
    upstream = shared_path("upstream", "rules")
    rulesets = [[str(upstream / f) for f in UPSTREAM], [str(shared_path("compat", "diff", "rules.yaml"))]]
    st = hook.status()
    if not st:
        try:
            build._check_tools()
        except build.BuildError as e:
            pytest.skip(f"no compiled hot path on this machine: {e}")
        pytest.fail("Cython and a C compiler are here but the hot modules are not compiled: scripts/setup.sh "
                    "builds them (python -m lanner.compiled.build)")
    stale = {n: why for n, why in st.items() if why != "compiled"}
    assert not stale, f"compiled modules not in use (rebuild: python -m lanner.compiled.build): {stale}"

    env = dict(os.environ, **{hook.PURE_ENV: "1"})
    code = (f"import json, sys; from tests.compiled.test_same_alerts import replay; "
            f"print(json.dumps([replay({captures!r}, r) for r in {rulesets!r}]))")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    pure = json.loads(p.stdout)
    compiled = [replay(captures, r) for r in rulesets]
    total = 0
    for c, q in zip(compiled, pure, strict=True):
        assert c["compiled"] == sorted(st), "built from the current source, yet not loaded compiled"
        assert q["compiled"] == [], "LANNER_PURE=1 still loaded compiled modules"
        assert c["eval_errors"] == q["eval_errors"] == 0
        for cap in captures:
            assert c["alerts"][cap] == q["alerts"][cap], cap   # type: ignore[index]
            total += len(c["alerts"][cap])                      # type: ignore[index]
    assert total > 300
