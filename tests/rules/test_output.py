"""Rule output formats (output-format.md 1-3, 7): token parsing, widths, <NA>, the JSON field map."""

from __future__ import annotations

import pytest

from lanner.rules.output import OutputCompiler, OutputError
from tests.rules.synthetic import SOURCE, SynthEvent, registry

OC = OutputCompiler(registry(), SOURCE)


def render(fmt: str, **values: object) -> tuple[str, dict]:
    return OC.compile(fmt).render(SynthEvent(**values))


@pytest.mark.parametrize("fmt,text", [
    ("start %test.str end", "start init end"),
    ("start %2test.str end", "start in end"),
    ("start %10test.str end", "start init       end"),
    ("start%test.strand%test.numend", "startinitand1end"),
    ("*start %test.str %test.str2 end", "start init <NA> end"),
    ("start %test.anc[0] end", "start init end"),
    ("start %toupper(test.str) end", "start INIT end"),
    ("start %tolower(toupper(test.str)) end", "start init end"),
    ("start %concat(test.str, test.path) end", "start init/test/dir end"),
    ('start %join("->", (test.str, test.path)) end', "start init->/test/dir end"),
    ("start end", "start end"),
    ("x %test.str) y", "x init) y"),
    ("%test.str.foo", "init.foo"),
    ("%test.arg.flagsX", "O_RDONLY"),
    ("a|b=(c)%test.num", "a|b=(c)1"),
])
def test_text(fmt: str, text: str) -> None:
    msg, _ = render(fmt, test__str="init", test__num=1, test__path="/test/dir", test__anc=["init", "bash"],
                    **{"test.arg[flagsX]": "O_RDONLY"})
    assert msg == text


def test_field_map_keys_and_types() -> None:
    _, fields = render("%test.str %toupper(test.str2) %test.num %test.bool %test.anc[2] %test.list %test.str",
                       test__str="a", test__str2="b", test__num=-3, test__bool=True, test__list=["x", "y"])
    assert fields == {"test.str": "a", "test.str2": "b", "test.num": -3, "test.bool": True, "test.anc[2]": None,
                      "test.list": ["x", "y"]}


def test_rendering_by_type() -> None:
    msg, fields = render("%test.bool %test.list %test.buf %test.double %evt.time",
                         test__bool=False, test__list=["a", "b"], test__buf=b"ab\x00\xffc", test__double=2.25)
    parts = msg.split(" ")
    assert parts[:4] == ["false", "(a,b)", "ab..c", "2.2"]     # 2.25 is exact in binary: %.1f rounds it to even
    assert fields["evt.time"] == 1_700_000_000_123_456_789


def test_ancestors_without_argument_join_with_spaces() -> None:
    msg, fields = render("%test.anc", test__anc=["bash", "sshd", "init"])
    assert msg == "bash sshd init"
    assert fields["test.anc"] == "bash sshd init"


@pytest.mark.parametrize("fmt,message", [
    ("start %some.field end", "invalid formatting token some.field"),
    ("start %a end", "invalid formatting token a"),
    ("start % end", "invalid formatting token"),
    ("start %test.str %", "formatting cannot end with a %"),
    ("start %(test.anc) end", "invalid formatting token (test.anc)"),
    ("start %toupper (test.str) end", "invalid formatting token toupper"),
    ("start %toupper(test.num) end", "is not supported by 'toupper' transformer"),
    ("start %val(test.str) end", "unknown filter"),
    ("x %12", "formatting cannot end with a number"),
    ("", "empty formatting token"),
])
def test_errors(fmt: str, message: str) -> None:
    with pytest.raises(OutputError) as ei:
        OC.compile(fmt)
    assert message in str(ei.value)
