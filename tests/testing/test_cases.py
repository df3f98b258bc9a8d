"""Case-file parsing: accepted shapes, and errors that name the file and the case."""

from __future__ import annotations

from pathlib import Path

import pytest

from lanner.testing.cases import CaseError, load_case_file
from lanner.testing.runner import Fired, judge, value_matches


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return str(p)


def test_list_form_and_defaults(tmp_path: Path) -> None:
    cases = load_case_file(write(tmp_path, """\
- name: one
  input: {host: "cat /etc/shadow"}
  expect: [Some Rule]
- name: two
  input: {container: "id", tty: true, container_options: [--cap-add, SYS_ADMIN]}
  forbid: Other Rule
  timeout: 5
"""))
    assert [c.kind for c in cases] == ["host", "container"]
    assert cases[0].rules == () and cases[0].expect[0].rule == "Some Rule" and cases[0].timeout == 20
    assert cases[1].tty and cases[1].container_options == ("--cap-add", "SYS_ADMIN")
    assert cases[1].forbid == ("Other Rule",) and cases[1].timeout == 5


def test_rules_paths_resolve_relative_to_case_file(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("[]\n")
    cases = load_case_file(write(tmp_path, "rules: r.yaml\ncases:\n  - name: a\n    input: {audit: []}\n"
                                           "    forbid: [x]\n"))
    assert cases[0].rules == (str(tmp_path / "r.yaml"),)
    assert cases[0].audit_events == []


@pytest.mark.parametrize("text, message", [
    ("- input: {host: x}\n  expect: [a]\n", "case 1: 'name' is required"),
    ("- name: a\n  input: {host: x}\n", "give 'expect' and/or 'forbid'"),
    ("- name: a\n  input: {}\n  expect: [r]\n", "needs exactly one of"),
    ("- name: a\n  input: {host: x}\n  expect: [r]\n  forbid: [r]\n", "both expected and forbidden: r"),
    ("- name: a\n  input: {host: x}\n  expect: [{rule: r, count: 0}]\n", "count must be a positive integer"),
    ("- name: a\n  input: {host: x}\n  expect: [r]\n  typo: 1\n", "unknown key(s): typo"),
    ("rules: missing.yaml\ncases:\n  - name: a\n    input: {host: x}\n    expect: [r]\n", "does not exist"),
    ("- name: a\n  input: {host: [x: 1\n", "YAML error"),
    ("[]\n", "non-empty list of cases"),
])
def test_errors_name_file_and_case(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CaseError) as ei:
        load_case_file(path)
    assert path in str(ei.value) and message in str(ei.value)


def test_value_matching() -> None:
    assert value_matches("cat", "cat") and not value_matches("cat", "ca")
    assert value_matches("/tmp/x/home/.ssh/id_rsa", "*/.ssh/id_rsa")
    assert value_matches(True, "true") and value_matches(3333, "3333")
    assert value_matches("::ffff:1.2.3.4", "::ffff:1.2.3.4") and value_matches("127.0.0.1", "127.0.0.1")
    assert not value_matches(None, "x")


def test_judge_counts_and_fields(tmp_path: Path) -> None:
    case = load_case_file(write(tmp_path, """\
- name: a
  input: {host: x}
  expect: [{rule: R, fields: {proc.name: cat}, count: 2}]
  forbid: [Q]
"""))[0]
    one = [Fired("R", "m", {"proc.name": "cat"})]
    assert "x2: it fired 1 time(s)" in judge(case, one, {"R", "Q"})[0]
    two = one + [Fired("R", "m", {"proc.name": "cat"})]
    assert judge(case, two, {"R", "Q"}) == []
    assert judge(case, [*two, Fired("Q", "bad", {})], {"R", "Q"}) == ["forbidden rule 'Q' fired 1 time(s): bad"]
