"""``lanner test`` end to end on inputs that need no privileges: a capture written here and audit events."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from lanner.events.syscall import SyscallEvent
from lanner.sources.scap.records import MachineInfo, ThreadRecord
from lanner.sources.scap.writer import ScapWriter
from lanner.testing.command import main

RULES = textwrap.dedent("""\
    - rule: Shadow opened
      desc: shadow read
      condition: evt.type = openat and fd.name = /etc/shadow
      output: "shadow opened (proc=%proc.name file=%fd.name)"
      priority: WARNING
    - rule: Passwd opened
      desc: passwd read
      condition: evt.type = openat and fd.name = /etc/passwd
      output: "passwd opened (proc=%proc.name file=%fd.name)"
      priority: NOTICE
    - rule: Privileged pod
      desc: privileged pod
      condition: ka.verb = create and ka.req.pod.containers.privileged intersects (true)
      output: "privileged pod (user=%ka.user.name)"
      priority: WARNING
      source: k8s_audit
    - rule: Never tested
      desc: nothing covers this one
      condition: evt.type = openat and fd.name = /nonexistent
      output: "x (file=%fd.name)"
      priority: INFO
    """)

OPENAT_X = 307
O_RDONLY_PPM = 1


def write_capture(path: Path, files: list[str]) -> None:
    """A capture with one `cat` process opening each file (fd 3, 4, ...)."""
    with ScapWriter(str(path)) as w:
        w.write_metadata(MachineInfo(hostname="testhost"),
                         threads=[ThreadRecord(tid=100, pid=100, ptid=1, comm="cat", exe="cat",
                                               exepath="/usr/bin/cat", args=[], cwd="/tmp")])
        for i, name in enumerate(files):
            w.write(SyscallEvent.from_values(i + 1, 1_700_000_000_000_000_000 + i, 100, OPENAT_X,
                                             [3 + i, -100, name, O_RDONLY_PPM, 0, 0, 1000 + i]))


def pod_event(privileged: bool) -> dict:
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse",
            "stage": "ResponseComplete", "auditID": "a1", "verb": "create",
            "requestURI": "/api/v1/namespaces/default/pods", "user": {"username": "alice"},
            "objectRef": {"resource": "pods", "namespace": "default", "name": "p", "apiVersion": "v1"},
            "responseStatus": {"code": 201}, "stageTimestamp": "2026-01-01T00:00:00.000000Z",
            "requestReceivedTimestamp": "2026-01-01T00:00:00.000000Z",
            "requestObject": {"kind": "Pod", "spec": {"containers": [
                {"name": "c", "image": "nginx", "securityContext": {"privileged": privileged}}]}}}


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "rules.yaml").write_text(RULES)
    write_capture(tmp_path / "shadow.scap", ["/etc/shadow"])
    write_capture(tmp_path / "passwd.scap", ["/etc/passwd"])
    cases = {
        "rules": "rules.yaml",
        "cases": [
            {"name": "shadow capture", "input": {"capture": "shadow.scap"},
             "expect": [{"rule": "Shadow opened", "fields": {"proc.name": "cat", "fd.name": "/etc/shadow"}}],
             "forbid": ["Passwd opened"]},
            {"name": "passwd capture", "input": {"capture": "passwd.scap"},
             "expect": ["Passwd opened"], "forbid": ["Shadow opened"]},
            {"name": "privileged pod", "input": {"audit": [pod_event(True)]}, "expect": ["Privileged pod"]},
            {"name": "unprivileged pod", "input": {"audit": [pod_event(False)]}, "forbid": ["Privileged pod"]},
        ],
    }
    (tmp_path / "cases.yaml").write_text(json.dumps(cases))
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    rc = main(["--json", *args])
    return rc, json.loads(capsys.readouterr().out)


def test_passing_suite_reports_coverage(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, rep = run_json(capsys, str(suite / "cases.yaml"))
    assert rc == 0
    assert [c["status"] for c in rep["cases"]] == ["pass"] * 4
    shadow = rep["cases"][0]["alerts"]
    assert [a["rule"] for a in shadow] == ["Shadow opened"]
    assert shadow[0]["fields"] == {"proc.name": "cat", "fd.name": "/etc/shadow"}
    by_rule = {r["rule"]: r for r in rep["rules"]}
    assert by_rule["Shadow opened"]["status"] == "covered"
    assert by_rule["Privileged pod"]["status"] == "covered"
    assert by_rule["Never tested"]["status"] == "not covered"
    assert rep["summary"]["rules"] == 4 and rep["summary"]["rules_covered"] == 3


def test_require_coverage_fails_on_untested_rule(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main([str(suite / "cases.yaml"), "--require-coverage"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "Rules with no test (1): Never tested" in out
    assert "4 cases: 4 passed, 0 failed" in out


def test_wrong_expectations_fail(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = {"rules": "rules.yaml", "cases": [
        {"name": "wrong field", "input": {"capture": "shadow.scap"},
         "expect": [{"rule": "Shadow opened", "fields": {"proc.name": "less"}}]},
        {"name": "forbidden fires", "input": {"capture": "shadow.scap"}, "forbid": ["Shadow opened"]},
        {"name": "nothing may fire", "input": {"audit": [pod_event(True)]}, "forbid": ["*"]},
        {"name": "unknown rule", "input": {"audit": [pod_event(False)]}, "expect": ["No such rule"]},
    ]}
    (suite / "bad.yaml").write_text(json.dumps(cases))
    rc, rep = run_json(capsys, str(suite / "bad.yaml"))
    assert rc == 1
    st = {c["name"]: c for c in rep["cases"]}
    assert all(c["status"] == "fail" for c in st.values())
    assert "it fired 1 time(s) but with {'proc.name': 'cat'}" in st["wrong field"]["problems"][0]
    assert st["forbidden fires"]["problems"][0].startswith("forbidden rule 'Shadow opened' fired 1 time(s)")
    assert "no alert may fire, but 1 did" in st["nothing may fire"]["problems"][0]
    assert any("not defined in the loaded rules" in p for p in st["unknown rule"]["problems"])
    assert {r["rule"]: r["status"] for r in rep["rules"]}["Shadow opened"] == "FAIL"


def test_pending_case_is_never_a_pass(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = {"rules": "rules.yaml", "cases": [
        {"name": "known gap", "pending": "feature missing", "input": {"capture": "passwd.scap"},
         "expect": ["Shadow opened"]}]}
    (suite / "pending.yaml").write_text(json.dumps(cases))
    rc, rep = run_json(capsys, str(suite / "pending.yaml"))
    assert rc == 0
    assert rep["cases"][0]["status"] == "pending"
    assert {r["rule"]: r["status"] for r in rep["rules"]}["Shadow opened"] == "pending"
    assert main([str(suite / "pending.yaml"), "--fail-on-skip"]) == 1


def test_missing_capture_is_skipped_not_passed(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = {"rules": "rules.yaml", "cases": [
        {"name": "gone", "input": {"capture": "missing.scap"}, "expect": ["Shadow opened"]}]}
    (suite / "skip.yaml").write_text(json.dumps(cases))
    rc, rep = run_json(capsys, str(suite / "skip.yaml"))
    assert rc == 0 and rep["cases"][0]["status"] == "skip"
    assert {r["rule"]: r["status"] for r in rep["rules"]}["Shadow opened"] == "skipped"
    assert main([str(suite / "skip.yaml"), "--fail-on-skip"]) == 1


def test_rules_that_fail_to_load_are_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.yaml").write_text("- rule: x\n  desc: y\n  condition: proc.nosuchfield = 1\n"
                                          "  output: z\n  priority: INFO\n")
    (tmp_path / "c.yaml").write_text(json.dumps({"rules": "broken.yaml", "cases": [
        {"name": "n", "input": {"audit": [pod_event(True)]}, "forbid": ["x"]}]}))
    rc, rep = run_json(capsys, str(tmp_path / "c.yaml"))
    assert rc == 1
    assert rep["cases"][0]["status"] == "error"
    assert "nosuchfield" in rep["cases"][0]["problems"][0]


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.yaml")]) == 2
    (tmp_path / "bad.yaml").write_text("cases:\n  - name: x\n    input: {host: 'true', capture: a.scap}\n"
                                       "    forbid: [y]\n")
    assert main([str(tmp_path / "bad.yaml")]) == 2
    assert "needs exactly one of" in capsys.readouterr().err


def test_directory_scan_skips_rules_files(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, rep = run_json(capsys, str(suite))
    assert rc == 0
    assert len(rep["cases"]) == 4          # rules.yaml beside the cases is not read as a case file
