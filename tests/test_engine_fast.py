"""The fast hot path (fused rule matching) raises exactly the alerts of the plain rule-by-rule loop:
every capture in ../shared/captures replayed with the upstream syscall rules and with the compat
harness's rules, ``rule_matching`` first and all; alerts compared by rule, time, output and fields.
Every alert's one-pass rendering is also checked against the output format's token-by-token one."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from lanner.config import Config
from lanner.engine import Engine
from lanner.run.loop import LoopStats, replay_batches, run_loop
from lanner.sources.scap import ScapReader
from tests.conftest import shared_path

UPSTREAM = ("falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml")


def _alerts(captures: list[Path], rules: list[str], fast: bool, match_all: bool) -> list[list[tuple[Any, ...]]]:
    """Per capture, its alerts; one engine replays them all in turn (each capture reseeds the state)."""
    eng = Engine(Config({"rule_matching": "all" if match_all else "first"}))
    eng.fast = fast
    assert eng.load_rules_files(rules)
    per: list[list[tuple[Any, ...]]] = []
    rules = {r.name: r for r in eng.ruleset.rules}
    rendered: list[bool] = []
    # render() (one pass, shortcuts per token) must equal message() and fields() (token by token)
    eng.on_match = lambda a, e: rendered.append(
        (a.message, a.output_fields) == (rules[a.rule].output.message(e), rules[a.rule].output.fields(e)))
    for cap in captures:
        out: list[tuple[Any, ...]] = []
        eng.on_alert = lambda a, out=out: out.append(
            (a.rule, a.time_ns, a.priority, a.message, a.output_fields, a.extra))
        with ScapReader(str(cap), on_section=eng.state.seed_from_capture) as r:
            run_loop(eng, replay_batches(r), threading.Event(), LoopStats("syscall"))
        per.append(out)
    assert eng.stats.eval_errors == 0
    assert all(rendered) and len(rendered) == sum(len(p) for p in per)
    return per


@pytest.mark.parametrize("match_all", [False, True], ids=["first", "all"])
def test_fast_path_alerts_equal_plain_on_every_capture(match_all: bool) -> None:
    captures = sorted(shared_path("captures").glob("*.scap"))
    upstream = shared_path("upstream", "rules")
    rulesets = {"upstream": [str(upstream / f) for f in UPSTREAM],
                "compat": [str(shared_path("compat", "diff", "rules.yaml"))]}
    assert captures
    total = 0
    for name, rules in rulesets.items():
        fast, plain = _alerts(captures, rules, True, match_all), _alerts(captures, rules, False, match_all)
        for cap, f, p in zip(captures, fast, plain, strict=True):
            assert f == p, f"{cap.name} with the {name} rules"
            total += len(f)
    assert total > 500
