"""The operator vocabulary: lanner's table holds exactly Falco's operators in Falco's order, and an
operator registered in the table alone (here a test-only ``bendswith``) is parsed, type-checked,
compiled, accepted in exceptions and left alone by the analyses (golden cases in data/operator_cases.yaml)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lanner.events import table as T
from lanner.rules import operators
from lanner.rules.compiler import CompileError, ConditionCompiler
from lanner.rules.operators import BUFFER, Literal, Operator, Rhs, Template
from lanner.rules.parser import ParseError, parse
from lanner.rules.pushdown import TOP, OpenPushdown
from tests.rules.synthetic import SOURCE, SynthEvent, registry
from tests.rules.test_compiler import evaluate
from tests.rules.test_rule_loader import load

CASES = yaml.safe_load((Path(__file__).parent / "data" / "operator_cases.yaml").read_text())
BENDSWITH = Operator("bendswith", Rhs.VALUE, frozenset({BUFFER}), Template("{v}.endswith({c})"), Literal.HEX,
                     blank_after=True)


@pytest.fixture
def bendswith() -> Iterator[Operator]:
    operators.register(BENDSWITH)
    try:
        yield BENDSWITH
    finally:
        operators.unregister("bendswith")


def test_table_is_falcos_vocabulary() -> None:
    assert list(operators.spellings()) == CASES["falco"]


def test_unregistered_operator_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="expected a valid check operator"):
        parse("test.buf bendswith 6263")


@pytest.mark.parametrize("cond,values,expected", CASES["eval"], ids=[c[0] for c in CASES["eval"]])
def test_registered_operator_evaluates(bendswith: Operator, cond: str, values: dict[str, Any],
                                       expected: bool) -> None:
    assert evaluate(cond, values) is expected


@pytest.mark.parametrize("cond,message", CASES["compile_errors"], ids=[c[0] for c in CASES["compile_errors"]])
def test_registered_operator_errors(bendswith: Operator, cond: str, message: str) -> None:
    with pytest.raises((ParseError, CompileError)) as e:
        ConditionCompiler(registry(), SOURCE).compile(parse(cond))
    assert message in e.value.message


def test_registered_operator_in_rules_and_exceptions(bendswith: Operator) -> None:
    eng = load(CASES["rule"])
    rule = eng.loader.rules[0]
    assert "test.buf bendswith 6263" in rule.condition and "test.buf bendswith oneof (7a63)" in rule.condition
    for values, expected in CASES["matches"]:
        ev = SynthEvent()
        ev.values.update(values)
        assert rule.match(ev) is expected, values


def test_operator_without_meaning_widens_the_analyses(bendswith: Operator) -> None:
    opens = frozenset(c for n in ("open", "openat") for c in T.codes_for_name(n))
    tree = parse("evt.type = open and fd.name bendswith 2f")
    assert OpenPushdown(opens, T.codes_for_name).analyse(tree) == TOP
    assert OpenPushdown(opens, T.codes_for_name).analyse(parse("evt.type = open and fd.name startswith /etc/")) != TOP


def test_no_operator_list_outside_the_table() -> None:
    """No module keeps its own collection of operator spellings (a tuple, list, set or dict key set naming
    two or more operators): they read the table, so adding an operator stays a one-file change."""
    import ast as pyast

    import lanner.rules

    words = {s for s in operators.spellings() if s.isalpha()}
    found = []
    for path in sorted(Path(lanner.rules.__file__).parent.glob("*.py")):
        if path.name == "operators.py":
            continue
        for node in pyast.walk(pyast.parse(path.read_text())):
            elts = node.elts if isinstance(node, pyast.Tuple | pyast.List | pyast.Set) else (
                node.keys if isinstance(node, pyast.Dict) else [])
            names = {e.value for e in elts if isinstance(e, pyast.Constant) and e.value in words}
            if len(names) >= 2:
                found.append(f"{path.name}:{node.lineno} {sorted(names)}")
    assert not found, found
