"""Condition evaluation: every operator against every operand type, missing values, transformers,
field comparisons and modifiers (golden cases in data/eval_cases.yaml), and compile errors."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml

from lanner.rules.compiler import CompileError, ConditionCompiler
from lanner.rules.parser import parse
from tests.rules.synthetic import SOURCE, SynthEvent, registry

REG = registry()
CASES = yaml.safe_load((Path(__file__).parent / "data" / "eval_cases.yaml").read_text())


def _value(v: Any) -> Any:
    if isinstance(v, str) and v.startswith("ip:"):
        return ipaddress.ip_address(v[3:])
    if isinstance(v, list):
        return [_value(x) for x in v]
    return v


def evaluate(cond: str, values: dict[str, Any]) -> bool:
    fn = ConditionCompiler(REG, SOURCE).compile(parse(cond)).fn
    e = SynthEvent()
    e.values = {k: _value(v) for k, v in values.items()}
    if isinstance(e.values.get("test.net"), list):
        e.values["test.net"] = tuple(e.values["test.net"])
    if isinstance(e.values.get("test.either"), list):
        e.values["test.either"] = tuple(e.values["test.either"])
    return fn(e)


@pytest.mark.parametrize("cond,values,expected", CASES, ids=[c[0] for c in CASES])
def test_evaluation(cond: str, values: dict[str, Any], expected: bool) -> None:
    assert evaluate(cond, values) is expected


COMPILE_ERRORS = [
    ("test.u64 contains 1", "'contains' operator not supported for numeric filters"),
    ("test.bool < 1", "'<' operator not supported for numeric filters"),
    ("test.str bcontains 303000", "'bcontains' operator not supported for string filters"),
    ("test.ip contains 127.0.0.1", "'contains' operator not supported for ip address and network filters"),
    ("test.buf regex '.*'", "'regex' operator not supported for buffer filters"),
    ("test.double = 1.0", "1.0 is not a valid number"),
    ("test.num = 0x10", "0x10 is not a valid number"),
    ("test.num = 1e3", "1e3 is not a valid number"),
    ("test.bool = TRUE", "unrecognized boolean value TRUE"),
    ("test.ip = 1.2.3", "unrecognized IPv4 address 1.2.3"),
    ("test.ip = zz::zz::1", "unrecognized IPv6 address"),
    ("test.net = 10.0.0.0", "unrecognized IP network 10.0.0.0"),
    ("test.net = 10.0.0.0/33", "invalid netmask 33"),
    ("test.port = nosuchservice", "unrecognized protocol nosuchservice"),
    ("test.buf bcontains 2", "bcontains and bstartswith operator support hex strings only"),
    ("test.buf bcontains 2g", "bcontains and bstartswith operator support hex strings only"),
    ('test.str = "\\x00"', "filter value cannot contain a NUL byte"),
    ("test.list = a", "'=' operator not supported list filters"),
    ("test.list[0] = a", "'=' operator not supported list filters"),
    ("nosuch.field = a", "filter_check called with nonexistent field nosuch.field"),
    ("test.keyed = a", "requires an argument but none provided"),
    ("test.str[x] = a", "does not allow nor require an argument but one is provided: x"),
    ("test.list[x] exists", "expects a numeric index"),
    ("toupper(test.str)[x] = foo", "transformer 'toupper' does not support field arguments"),
    ("toupper(test.num) = foo", "type 'INT64' is not supported by 'toupper' transformer applied on field"),
    ("tolower(test.anc) = a", "does not support transformers"),
    ("test.str = val(test.num)", "has type 'CHARBUF' while the right-hand side field 'test.num' has incompatible"),
    ("test.str regex val(test.str2)", "does not support field-to-field comparisons"),
    ("test.str pmatch val(test.str2)", "does not support field-to-field comparisons"),
    ("test.anc = val(test.str)", "does not support field-to-field comparisons"),
    ("test.str regex '('", "invalid regex pattern"),
    ("undefined_macro", "Undefined macro 'undefined_macro' used in filter."),
    ("test.either contains 1.2.3.4", "not supported"),
]


@pytest.mark.parametrize("cond,message", COMPILE_ERRORS, ids=[c[0] for c in COMPILE_ERRORS])
def test_compile_errors(cond: str, message: str) -> None:
    with pytest.raises(CompileError) as ei:
        ConditionCompiler(REG, SOURCE).compile(parse(cond))
    assert message in ei.value.message


CORNER_CASES = [   # conditions that compile, each with a value that matches and one that does not
    ("test.str > 1", {"test.str": "10"}, {"test.str": "0"}),                   # string order, not numeric
    ("test.str regex '/home/.*/dev'", {"test.str": "/home/u/dev"}, {"test.str": "/home/u/dev/x"}),  # whole value
    ("test.net in (127.0.0.1/32)", {"test.net": ["ip:127.0.0.1"]}, {"test.net": ["ip:127.0.0.2"]}),
    ("test.buf startswith test", {"test.buf": b"testing"}, {"test.buf": b"xtest"}),
    ("test.either == anyof (127.0.0.1)", {"test.either": ["ip:10.0.0.1", "ip:127.0.0.1"]},
     {"test.either": ["ip:10.0.0.1"]}),
    ('test.buf = "\\x00"', {"test.buf": b"\x00"}, {"test.buf": b"\\x00"}),           # the escape is one NUL byte
]


@pytest.mark.parametrize("cond,match,other", CORNER_CASES, ids=[c[0] for c in CORNER_CASES])
def test_compile_ok_corner_cases(cond: str, match: dict[str, Any], other: dict[str, Any]) -> None:
    assert evaluate(cond, match) is True
    assert evaluate(cond, other) is False


WARNINGS = [
    ("test.str regex '^.*bash$'", "regex check with '^.*bash$' may be optimized"),
    ("test.str regex 'a.+'", "may be optimized"),
    ("test.str = test.str2", "'test.str2' may be a valid field misused as a const string value"),
    ("test.str = 'toupper(x)'", "'toupper(x)' may be a valid field transformer misused as a const string value"),
]


@pytest.mark.parametrize("cond,message", WARNINGS)
def test_compile_warnings(cond: str, message: str) -> None:
    cc = ConditionCompiler(REG, SOURCE).compile(parse(cond))
    assert any(message in m for _c, m in cc.warnings), cc.warnings


def test_no_warning_for_real_regex() -> None:
    cc = ConditionCompiler(REG, SOURCE).compile(parse("test.str regex 'a[bc]+d'"))
    assert cc.warnings == []


def test_compiles_to_one_python_function() -> None:
    cc = ConditionCompiler(REG, SOURCE).compile(parse("test.str = a and (test.num > 1 or test.str2 exists)"))
    assert cc.source.startswith("def _cond(e):")
    assert "_f" in cc.source and "and" in cc.source
    assert [f.name for f in cc.fields] == ["test.str", "test.num", "test.str2"]
