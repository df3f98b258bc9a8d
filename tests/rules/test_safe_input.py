"""Hostile rules input: bad encodings, custom YAML tags, alias bombs, backtracking regexes and glob against
``val()`` each give a clear load/compile error or a fast, correct answer (issue 19, items 4-5)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lanner.rules.compiler import CompileError, ConditionCompiler
from lanner.rules.parser import parse
from lanner.rules.regex import compile_regex, glob_match
from tests.conftest import finishes
from tests.rules.synthetic import SOURCE, SynthEvent, registry
from tests.rules.test_rule_loader import engine, rule

REG = registry()


def load_error(data: bytes, tmp_path) -> str:
    p = tmp_path / "r.yaml"
    p.write_bytes(data)
    eng = engine()
    ok = eng.loader.load_file(str(p)).successful
    assert not ok
    err = eng.loader.results[-1].errors[0]
    assert err.code == "LOAD_ERR_YAML_PARSE", err.verbose()
    return err.message


def alias_bomb() -> bytes:
    lines = ["- list: l0", '  items: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for i, c in enumerate("bcdefghi"):
        lines += [f"- list: l{i + 1}", f"  items: &{c} [" + ",".join([f"*{prev}"] * 10) + "]"]
        prev = c
    return ("\n".join(lines) + "\n").encode()


def test_utf16_rules_file_is_a_clear_error(tmp_path) -> None:
    msg = load_error(rule().encode("utf-16"), tmp_path)
    assert "UTF-16" in msg and "only UTF-8" in msg


def test_non_utf8_byte_names_line_and_byte(tmp_path) -> None:
    msg = load_error(rule(name="x").encode() + b"- rule: y\xff\n", tmp_path)
    assert "0xff" in msg and "line 7" in msg


def test_python_object_tag_refused(tmp_path) -> None:
    msg = load_error(b"- rule: !!python/object/apply:os.system [echo pwned]\n  desc: d\n", tmp_path)
    assert "tag '!!python/object/apply:os.system' is not allowed" in msg


def test_global_custom_tag_refused(tmp_path) -> None:
    msg = load_error(b"- list: l\n  items: !<tag:example.com,2026:x> [a]\n", tmp_path)
    assert "tag 'tag:example.com,2026:x' is not allowed" in msg


def test_local_tag_ignored_as_falco_does() -> None:
    eng = engine()
    assert eng.load_rules_text("t.yaml", rule(output="!= after evt.type")), eng.loader.results[-1].verbose()


def test_alias_bomb_refused_quickly(tmp_path) -> None:
    data = alias_bomb()
    assert len(data) < 1024
    msg = finishes(lambda: load_error(data, tmp_path))         # expanded, it would not fit in memory
    assert "aliases expand to more than" in msg


def test_recursive_alias_refused(tmp_path) -> None:
    assert "recursive YAML alias" in load_error(b"- list: l\n  items: &a [x, *a]\n", tmp_path)


def test_ordinary_aliases_still_load() -> None:
    eng = engine()
    text = "- list: a\n  items: &x [cat, ls]\n- list: b\n  items: *x\n" + rule(cond="proc.name in (b)")
    assert eng.load_rules_text("t.yaml", text), eng.loader.results[-1].verbose()


def test_lanner_validate_reports_bad_files_without_traceback(tmp_path) -> None:
    files = {"u16.yaml": rule().encode("utf-16"), "tag.yaml": b"- rule: !!python/name:os.system x\n",
             "bomb.yaml": alias_bomb()}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        p = subprocess.run([sys.executable, "-m", "lanner", "-V", str(tmp_path / name)],
                           capture_output=True, text=True, timeout=60)
        out = p.stdout + p.stderr
        assert p.returncode == 1, out
        assert "Traceback" not in out and "LOAD_ERR_YAML_PARSE" in out, out


def evaluate(cond: str, values: dict) -> bool:
    fn = ConditionCompiler(REG, SOURCE).compile(parse(cond)).fn
    e = SynthEvent()
    e.values = values
    return fn(e)


def test_redos_regex_is_linear() -> None:
    # a backtracking engine needs ~2^n steps here: years for n = 100000, not seconds
    assert finishes(lambda: evaluate("test.str regex '(a+)+$'", {"test.str": "a" * 26 + "!"})) is False
    assert finishes(lambda: evaluate("test.str regex '(a+)+$'", {"test.str": "a" * 100_000 + "!"})) is False
    assert finishes(lambda: evaluate("test.str regex '(a+)+$'", {"test.str": "a" * 100_000})) is True


@pytest.mark.parametrize("pattern,reason", [
    ("(?i)abc", "no argument for repetition operator: ?"),
    ("a{1001}", "invalid repetition size: {1001}"),
    ("(?P<n>a)", "no argument for repetition operator: ?"),
])
def test_patterns_re2_refuses_are_compile_errors(pattern: str, reason: str) -> None:
    with pytest.raises(CompileError) as ei:
        ConditionCompiler(REG, SOURCE).compile(parse(f"test.str regex '{pattern}'"))
    assert ei.value.message == f"invalid regex pattern: {reason}"


def test_regex_posix_semantics() -> None:
    m = compile_regex("[[:digit:]]+-(ab|abc)")
    assert m("12-abc") and not m("x12-abc")
    assert not compile_regex("a.b")("a\nb")        # RE2::POSIX: '.' does not match a newline
    assert compile_regex("sys.*")("syscall") and not compile_regex("yscal.*")("syscall")


@pytest.mark.parametrize("cond,values,expected", [
    ("test.str glob val(test.str2)", {"test.str": "/etc/shadow", "test.str2": "/etc/*"}, True),
    ("test.str glob val(test.str2)", {"test.str": "/tmp/shadow", "test.str2": "/etc/*"}, False),
    ("test.str iglob val(test.str2)", {"test.str": "/ETC/Shadow", "test.str2": "/etc/sh?dow"}, True),
    ("test.str glob val(test.str2)", {"test.str": "/ETC/Shadow", "test.str2": "/etc/sh?dow"}, False),
    ("test.str glob val(test.str2)", {"test.str": "abc", "test.str2": "[a-c]*"}, True),
    ("test.str glob val(test.str2)", {"test.str": "abc"}, False),
])
def test_glob_against_val_field(cond: str, values: dict, expected: bool) -> None:
    assert evaluate(cond, values) is expected


def test_glob_pattern_from_event_data_cannot_backtrack() -> None:
    assert finishes(lambda: glob_match("*a" * 40 + "*b", "a" * 20_000)) is False   # backtracking: exponential
