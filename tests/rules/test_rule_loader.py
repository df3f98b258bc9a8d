"""Rules loader: every error and warning kind with its code, message and line (data/loader_cases.yaml),
plus the semantics of definitions, appends, overrides, exceptions and ordering."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lanner.config import Config
from lanner.engine import Engine, syscall_event_table
from tests.rules.synthetic import SynthEvent, registry

CASES = yaml.safe_load((Path(__file__).parent / "data" / "loader_cases.yaml").read_text())


def engine(**cfg: object) -> Engine:
    return Engine(Config(dict(cfg)), registry=registry(), sources={"syscall", "other"}, events=syscall_event_table())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_loader_case(case: dict) -> None:
    eng = engine(append_output=[])
    ok = eng.load_rules_text("case.yaml", case["text"])
    result = eng.loader.results[-1]
    if "error" in case:
        assert not ok, result.verbose()
        err = result.errors[0]
        exp = case["error"]
        assert err.code == exp["code"], err.verbose()
        assert exp.get("message", "") in err.message, err.message
        if "line" in exp:
            file_locs = [loc for loc in err.locations if loc.name == "case.yaml"]
            assert file_locs[-1].line == exp["line"], err.verbose()
    else:
        assert ok, result.verbose()
        codes = [w.code for w in result.warnings]
        assert sorted(set(codes)) == sorted(set(case.get("warnings", []))), result.verbose()


def load(text: str, **cfg: object) -> Engine:
    eng = engine(**cfg)
    assert eng.load_rules_text("t.yaml", text), eng.loader.results[-1].verbose()
    return eng


RULE = """
- rule: {name}
  desc: d
  condition: {cond}
  output: {output}
  priority: {prio}
"""


def rule(name: str = "r", cond: str = "evt.type = open", output: str = "o", prio: str = "INFO") -> str:
    return RULE.format(name=name, cond=cond, output=output, prio=prio)


def test_list_append_after_rule_still_applies() -> None:
    eng = load("- list: shells\n  items: [ash, bash]\n" + rule(cond="evt.type=open and proc.name in (shells)")
               + "- list: shells\n  items: [pwsh]\n  override:\n    items: append\n")
    r = eng.loader.rules[0]
    assert "pwsh" in r.condition
    assert eng.process(SynthEvent(proc__name="pwsh", evt__type="open"))


def test_nested_lists_one_level_and_order() -> None:
    text = ("- list: a\n  items: [x, y]\n- list: b\n  items: [a, z, c]\n- list: c\n  items: [w]\n"
            + rule(cond="evt.type=open and proc.name in (b)"))
    eng = load(text)
    cond = eng.loader.rules[0].condition
    assert "x, y, z" in cond
    assert eng.process(SynthEvent(proc__name="x"))
    assert eng.process(SynthEvent(proc__name="w"))  # "c" survived as a literal, then substituted later


def test_empty_list_removes_comma() -> None:
    eng = load("- list: e\n  items: []\n" + rule(cond="evt.type=open and proc.name in (a, e)"))
    assert eng.process(SynthEvent(proc__name="a"))


def test_list_items_with_spaces_are_quoted() -> None:
    eng = load("- list: l\n  items: ['my shell', b]\n" + rule(cond="evt.type=open and proc.name in (l)"))
    assert eng.process(SynthEvent(proc__name="my shell"))


def test_macro_append_has_no_parentheses() -> None:
    eng = load("- macro: m\n  condition: proc.name = a\n- macro: m\n  condition: or proc.name = b\n"
               "  override:\n    condition: append\n" + rule(cond="evt.type = open and m"))
    assert eng.process(SynthEvent(proc__name="b"))


def test_redefinition_keeps_position_and_replaces() -> None:
    eng = load(rule("first", prio="WARNING") + rule("second") + rule("first", cond="evt.type = close"))
    assert [r.name for r in eng.ruleset.rules] == ["first", "second"]
    assert eng.loader.rules[0].condition == "evt.type = close"


def test_override_append_and_replace() -> None:
    eng = load(rule(output="file=%fd.name") + "- rule: r\n  desc: with append\n  output: proc=%proc.name\n"
               "  priority: ERROR\n  tags: [t2]\n  override:\n    desc: append\n    output: append\n"
               "    priority: replace\n    tags: append\n")
    r = eng.loader.rules[0]
    assert r.desc == "d with append"
    assert r.output.text.startswith("file=%fd.name proc=%proc.name")
    assert r.priority.name == "ERROR"
    assert r.tags == ("t2",)


def test_standalone_enabled_and_append_does_not_enable() -> None:
    eng = load(rule() + "  enabled: false\n" + "- rule: r\n  condition: and proc.name = a\n  append: true\n"
               "  enabled: true\n")
    assert not eng.ruleset.enabled["r"]
    eng = load(rule() + "  enabled: false\n" + "- rule: r\n  enabled: true\n")
    assert eng.ruleset.enabled["r"]


def test_exceptions_compile_to_conditions() -> None:
    text = rule(cond="evt.type = open") + """  exceptions:
  - name: known
    fields: [proc.name, fd.name]
    comps: [startswith oneof, startswith]
    values:
    - [[sshd, sudo], /etc/]
  - name: shells
    fields: proc.name
    values: [cat, grep]
"""
    eng = load(text)
    assert eng.loader.rules[0].condition == ("(evt.type = open) and not ((proc.name startswith oneof (sshd, sudo) "
                                              "and fd.name startswith /etc/)) and not (proc.name in (cat, grep))")
    assert not eng.process(SynthEvent(proc__name="sshd", fd__name="/etc/x"))
    assert not eng.process(SynthEvent(proc__name="cat", fd__name="/x"))
    assert eng.process(SynthEvent(proc__name="vi", fd__name="/etc/x"))


def test_exception_values_appended() -> None:
    text = rule() + "  exceptions:\n  - name: e\n    fields: [proc.name]\n    values: [[a]]\n" + (
        "- rule: r\n  exceptions:\n  - name: e\n    values: [[b]]\n  override:\n    exceptions: append\n")
    eng = load(text)
    assert not eng.process(SynthEvent(proc__name="b"))
    assert eng.process(SynthEvent(proc__name="c"))


def test_rule_matching_first_and_all() -> None:
    text = rule("one", prio="WARNING") + rule("two", prio="ERROR")
    assert [a.rule for a in load(text).process(SynthEvent())] == ["one"]
    assert [a.rule for a in load(text, rule_matching="all").process(SynthEvent())] == ["one", "two"]


def test_minimum_priority_excludes_rules() -> None:
    eng = load(rule("low", prio="DEBUG") + rule("high", prio="CRITICAL"), priority="warning")
    assert [r.name for r in eng.ruleset.rules] == ["high"]


def test_rule_selection_config() -> None:
    eng = load(rule("Write below etc") + rule("Read shadow") + "  tags: [files]\n")
    eng.apply_rule_selection([{"disable": {"rule": "Write*"}}, {"disable": {"tag": "files"}}])
    assert eng.process(SynthEvent()) == []
    eng.apply_rule_selection([{"enable": {"rule": "*shadow"}}])
    assert [a.rule for a in eng.process(SynthEvent())] == ["Read shadow"]


def test_event_type_index() -> None:
    eng = load(rule("opens", cond="evt.type = open") + rule("closes", cond="evt.type = close"))
    assert [r.name for r in eng.ruleset.candidates("syscall", 3)] == ["opens"]
    assert [r.name for r in eng.ruleset.candidates("syscall", 5)] == ["closes"]
    assert eng.ruleset.candidates("other", 322) == ()


def test_multiple_documents_and_null_entries() -> None:
    eng = load(rule("a") + "---\n-\n" + rule("b"))
    assert [r.name for r in eng.loader.rules] == ["a", "b"]


def test_schema_verdict_and_yaml_value_tag() -> None:
    eng = load(rule() + "  exceptions:\n  - name: e\n    fields: [proc.name]\n    comps: [=]\n    values: [[x]]\n")
    assert eng.loader.results[-1].schema_valid == "ok"
    eng = load(rule().replace("priority: INFO", "priority: info"))
    res = eng.loader.results[-1]
    assert res.schema_valid == "failed for <root>[0][priority]: Failed to match against any enum values."
    assert res.schema_statuses[1:] == [
        "failed for <root>[0]: Failed to validate against schema associated with property name 'priority'.",
        "failed for <root>: Failed to validate item #0 in array."]
    eng = engine()
    assert not eng.load_rules_text("bad.yaml", "- rule: [unclosed\n")
    assert eng.loader.results[-1].schema_valid == "none"      # Falco validates nothing it cannot parse


@pytest.mark.parametrize(("cfg", "appended"), [
    ({}, False),                                            # no append_output key: nothing appended (Falco)
    ({"append_output": [{"suggested_output": True}]}, True),
])
def test_suggested_output_only_when_configured(cfg: dict, appended: bool) -> None:
    from lanner.config import engine_defaults
    text = "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: opened %fd.name\n  priority: INFO\n"
    plain, default = Engine(Config(cfg)), Engine(engine_defaults())
    for eng in (plain, default):
        assert eng.load_rules_text("t.yaml", text), eng.loader.results[-1].verbose()
    assert ("container_id=%container.id" in plain.ruleset.rules[0].output.text) == appended
    assert "container_id=%container.id" in default.ruleset.rules[0].output.text
