"""Fused matching (rules/fused.py) gives exactly what the conditions compiled one by one give: every
golden evaluation case alone and all of them in one function (fields shared), ``evt.type`` decided at
compile time, and the engine's fall-back to the plain loop when a fused function raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lanner.config import Config
from lanner.engine import Engine
from lanner.fields import registry as reg
from lanner.fields import types as ft
from lanner.rules.compiled_rule import CompiledRule
from lanner.rules.compiler import ConditionCompiler
from lanner.rules.fused import FusedCompiler
from lanner.rules.parser import parse
from tests.rules.synthetic import CLASS, SOURCE, SynthEvent, registry
from tests.rules.test_compiler import _value

REG = registry()
CASES = yaml.safe_load((Path(__file__).parent / "data" / "eval_cases.yaml").read_text())


def _event(values: dict[str, Any]) -> SynthEvent:
    e = SynthEvent()
    e.values = {k: _value(v) for k, v in values.items()}
    for k in ("test.net", "test.either"):
        if isinstance(e.values.get(k), list):
            e.values[k] = tuple(e.values[k])
    return e


def _plain(cond: str, e: Any) -> bool | None:
    try:
        return bool(ConditionCompiler(REG, SOURCE).compile(parse(cond)).fn(e))
    except Exception:  # noqa: BLE001 - a case whose fields do not fit another case's values
        return None


@pytest.mark.parametrize("cond,values,expected", CASES, ids=[c[0] for c in CASES])
def test_golden_case_fused_alone(cond: str, values: dict[str, Any], expected: bool) -> None:
    first, every = FusedCompiler(REG, SOURCE, None).fuse([parse(cond)], "case")
    e = _event(values)
    assert first(e) == (0 if expected else -1)
    assert every(e) == ([0] if expected else [])


def test_all_golden_cases_in_one_function() -> None:
    trees = [parse(c[0]) for c in CASES]
    first, every = FusedCompiler(REG, SOURCE, None).fuse(trees, "all cases")
    checked = 0
    for _, values, _ in CASES:
        e = _event(values)
        plain = [_plain(c[0], e) for c in CASES]
        if None in plain:
            continue
        want = [i for i, ok in enumerate(plain) if ok]
        assert every(e) == want
        assert first(e) == (want[0] if want else -1)
        checked += 1
    assert checked > len(CASES) // 2


FOLD = [
    "evt.type = open and test.str = a",
    "evt.type != open and test.str = a",
    "evt.type in (close, open) and test.str = a",
    "not evt.type in (close, connect) and test.str = a",
    "evt.type = close or test.str = a",
    "evt.type = open or test.str = a",
    "not (evt.type = open and test.str = b)",
    "(evt.type = close and test.str = a) or (evt.type = open and test.str2 = x)",
]


@pytest.mark.parametrize("type_name", ["open", "close"])
def test_evt_type_decided_at_compile_time(type_name: str) -> None:
    first, every = FusedCompiler(REG, SOURCE, type_name).fuse([parse(c) for c in FOLD], type_name)
    for values in ({"test.str": "a"}, {"test.str": "b", "test.str2": "x"}, {}):
        e = _event({**values, "evt.type": type_name})
        want = [i for i, c in enumerate(FOLD) if _plain(c, e)]
        assert every(e) == want
        assert first(e) == (want[0] if want else -1)


def test_rule_that_cannot_match_the_type_is_left_out() -> None:
    c = FusedCompiler(REG, SOURCE, "close")
    first, _ = c.fuse([parse("evt.type = open and test.str = a"), parse("test.str = a")], "close")
    assert first(_event({"test.str": "a", "evt.type": "close"})) == 1
    assert "return 0" not in c.src and "return 1" in c.src


def _boom_registry() -> reg.FieldRegistry:
    def bind(f: reg.FieldDef, arg: str | None) -> reg.Extractor:
        def boom(e: Any) -> str:
            if e.values.get("test.str") == "boom":
                raise RuntimeError("broken extractor")
            return "x"
        return boom
    boom = reg.FieldClass("boom", "raises", (SOURCE,), [reg.fdef("boom.x", ft.CHARBUF, "raises")], bind)
    return reg.FieldRegistry([CLASS, boom])


RULES = """
- rule: Broken
  desc: d
  condition: test.str in (boom, a) and boom.x = x
  output: broken %test.str
  priority: WARNING
- rule: Plain A
  desc: d
  condition: test.str in (boom, a)
  output: plain %test.str
  priority: WARNING
"""


@pytest.mark.parametrize("match_all", [False, True])
def test_engine_falls_back_to_plain_loop_when_fused_raises(match_all: bool) -> None:
    got = {}
    for fast in (True, False):
        cfg = Config({"rule_matching": "all" if match_all else "first"})
        eng = Engine(cfg, registry=_boom_registry(), sources=[SOURCE])
        eng.fast = fast
        assert eng.load_rules_text("r.yaml", RULES)
        alerts = [[(a.rule, a.message) for a in eng.process(SynthEvent(i + 1, **{"test__str": s}))]
                  for i, s in enumerate(["a", "boom", "z", "a"])]
        got[fast] = (alerts, eng.stats.eval_errors, eng.stats.alerts)
    assert got[True] == got[False]
    assert got[True][1] == 1
    assert isinstance(got[True][0][0][0], tuple)


def test_fused_matcher_follows_rule_selection() -> None:
    eng = Engine(Config({}), registry=registry(), sources=[SOURCE])
    assert eng.load_rules_text("r.yaml", RULES.replace("boom.x = x", "test.str = a"))
    assert [a.rule for a in eng.process(SynthEvent(1, test__str="a"))] == ["Broken"]
    eng.apply_rule_selection([{"disable": {"rule": "Broken"}}])
    assert [a.rule for a in eng.process(SynthEvent(2, test__str="a"))] == ["Plain A"]
    assert all(isinstance(r, CompiledRule) for r in eng.ruleset.rules)
