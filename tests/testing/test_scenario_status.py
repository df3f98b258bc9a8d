"""``lanner test`` on live host scenarios: a scenario that does not run as written is an error, never the
silence a must-not-fire case would take as a pass (needs root for the probe)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_root

RULES = """\
- rule: Marker file written
  desc: a file named lanner-marker opened for writing
  condition: evt.type in (open, openat, openat2) and evt.is_open_write = true and fd.name endswith /lanner-marker
  output: "marker written (proc=%proc.name file=%fd.name)"
  priority: WARNING
"""

CASES = """\
rules: rules.yaml
cases:
  - name: fires
    input: {host: "echo x > lanner-marker"}
    expect: [Marker file written]
  - name: near-miss whose script fails
    input: {host: "echo x > other-file; exit 3"}
    forbid: [Marker file written]
  - name: near-miss that is meant to fail
    input: {host: "echo x > other-file; exit 3", expect_exit: 3}
    forbid: [Marker file written]
  - name: expected to fail but succeeds
    input: {host: "true", expect_exit: [1, 2]}
    forbid: [Marker file written]
"""


def test_failing_scenario_is_an_error_and_fails_the_command(tmp_path: Path) -> None:
    require_root()
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "cases.yaml").write_text(CASES)
    p = subprocess.run([sys.executable, "-m", "lanner", "test", "--json", str(tmp_path / "cases.yaml")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    rep = json.loads(p.stdout)
    got = {c["name"]: (c["status"], c["exit_status"]) for c in rep["cases"]}
    assert got == {"fires": ("pass", 0), "near-miss whose script fails": ("error", 3),
                   "near-miss that is meant to fail": ("pass", 3), "expected to fail but succeeds": ("error", 0)}
    problems = {c["name"]: c["problems"] for c in rep["cases"]}
    assert problems["near-miss whose script fails"] == [
        "scenario did not run as written: exit status 3, expected 0 "
        "(set input.expect_exit when a failing script is the point)"]
    s = rep["summary"]
    assert (s["pass"], s["fail"], s["error"], s["ok"]) == (2, 0, 2, False)


def test_text_summary_counts_errors_apart(tmp_path: Path) -> None:
    require_root()
    (tmp_path / "rules.yaml").write_text(RULES)
    (tmp_path / "cases.yaml").write_text(CASES)
    p = subprocess.run([sys.executable, "-m", "lanner", "test", "-k", "near-miss", str(tmp_path / "cases.yaml")],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stdout[-3000:] + p.stderr[-3000:]
    lines = p.stdout.splitlines()
    assert [ln.split("  [")[0] for ln in lines if ln.startswith(("PASS", "FAIL", "ERROR"))] == [
        "ERROR near-miss whose script fails", "PASS  near-miss that is meant to fail"]
    assert "2 cases: 1 passed, 0 failed, 1 errors, 0 skipped, 0 pending" in p.stdout
