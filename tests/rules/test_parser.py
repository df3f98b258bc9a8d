"""Parser golden cases kept as data (tests/rules/data/parse_cases.yaml) plus positions and limits."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lanner.rules.canonical import canonical
from lanner.rules.parser import ParseError, parse

CASES = yaml.safe_load((Path(__file__).parent / "data" / "parse_cases.yaml").read_text())


@pytest.mark.parametrize("text,expected", CASES["ok"], ids=[c[0] for c in CASES["ok"]])
def test_parses_to_canonical_form(text: str, expected: str) -> None:
    assert canonical(parse(text)) == expected


@pytest.mark.parametrize("text", CASES["error"])
def test_rejected(text: str) -> None:
    with pytest.raises(ParseError):
        parse(text)


def test_error_position_is_line_and_column() -> None:
    with pytest.raises(ParseError) as ei:
        parse("proc.name = a and\n  b andc")
    assert (ei.value.pos.line, ei.value.pos.col) == (2, 8)
    assert "expected blank or '(' after 'and'" in ei.value.message


def test_depth_limits() -> None:
    with pytest.raises(ParseError, match="exceeded max depth limit of 100"):
        parse("(" * 100000 + "a" + ")" * 100000, max_depth=100)
    with pytest.raises(ParseError, match="exceeded max depth limit of 1000"):
        parse("(" * 100000 + "a" + ")" * 100000)
    assert canonical(parse("(" * 100 + "a" + ")" * 100)) == "a"


def test_escapes() -> None:
    node = parse(r'a.b = "tab\there \x41 \/ \\ end"')
    assert node.rhs.text == "tab\there A / \\ end"
    with pytest.raises(ParseError):
        parse(r'a.b = "ends with backslash\\"')
    with pytest.raises(ParseError, match="unsupported string escape sequence"):
        parse(r'a.b = "\q"')
    with pytest.raises(ParseError, match="invalid hex char escape sequence"):
        parse(r'a.b = "\xZZ"')


def test_macro_reference_and_list_value() -> None:
    node = parse("proc.name in foo")
    assert node.rhs.text == "foo"
    assert canonical(parse("my_macro")) == "my_macro"
