"""Case-file parsing: accepted shapes, and errors that name the file and the case."""

from __future__ import annotations

from pathlib import Path

import pytest

from lanner.testing.cases import CaseError, load_case_file
from lanner.testing.runner import Fired, judge, scenario_problem, value_matches


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


@pytest.mark.parametrize("inp, codes", [
    ("{host: x}", (0,)),
    ("{host: x, expect_exit: 3}", (3,)),
    ("{host: x, expect_exit: [1, 2]}", (1, 2)),
    ("{host: x, expect_exit: any}", None),
    ("{host: x, check: true}", (0,)),
    ("{host: x, check: false}", None),
])
def test_expected_exit_status(tmp_path: Path, inp: str, codes: tuple[int, ...] | None) -> None:
    case = load_case_file(write(tmp_path, f"- name: a\n  input: {inp}\n  forbid: [r]\n"))[0]
    assert case.exit_codes == codes


@pytest.mark.parametrize("inp, message", [
    ("{host: x, expect_exit: -1}", "input.expect_exit must be an exit status (0-255)"),
    ("{host: x, expect_exit: 256}", "input.expect_exit must be an exit status (0-255)"),
    ("{host: x, expect_exit: []}", "input.expect_exit must be an exit status (0-255)"),
    ("{host: x, expect_exit: true}", "input.expect_exit must be an exit status (0-255)"),
    ("{host: x, expect_exit: sometimes}", "input.expect_exit must be an exit status (0-255)"),
    ("{host: x, check: yes please}", "input.check must be true or false"),
    ("{host: x, check: true, expect_exit: 0}", "give either input.expect_exit or input.check"),
])
def test_bad_expected_exit_status(tmp_path: Path, inp: str, message: str) -> None:
    path = write(tmp_path, f"- name: a\n  input: {inp}\n  forbid: [r]\n")
    with pytest.raises(CaseError) as ei:
        load_case_file(path)
    assert f"{path}: case 1 (a): {message}" in str(ei.value)


def test_a_scenario_that_did_not_run_as_written_is_a_problem(tmp_path: Path) -> None:
    plain, failing, loose = load_case_file(write(tmp_path, """\
- {name: plain, input: {host: x}, forbid: [r]}
- {name: failing, input: {host: x, expect_exit: [1, 2]}, forbid: [r]}
- {name: loose, input: {host: x, expect_exit: any}, forbid: [r], timeout: 7}
"""))
    assert scenario_problem(plain, 0) == ""
    assert scenario_problem(plain, 3) == ("scenario did not run as written: exit status 3, expected 0 "
                                          "(set input.expect_exit when a failing script is the point)")
    assert scenario_problem(failing, 2) == ""
    assert "exit status 0, expected 1 or 2" in scenario_problem(failing, 0)
    assert scenario_problem(loose, 126) == ""
    assert scenario_problem(loose, -1) == "scenario did not run to the end: timed out after 7s"
