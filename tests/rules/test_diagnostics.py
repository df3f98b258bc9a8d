"""Rule-loading diagnostics exactly as Falco reports them: `-V` text and JSON (code, message, location chain,
snippet) for golden cases recorded from real Falco 0.44.1 (tests/data/diagnostic_cases.yaml)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CASES = yaml.safe_load((Path(__file__).parent.parent / "data" / "diagnostic_cases.yaml").read_text())


def validate(tmp_path: Path, rules: str, *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "case.yaml").write_text(rules)
    return subprocess.run([sys.executable, "-m", "lanner", "-o", "log_stderr=false", "-V", "case.yaml", *extra],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_validate_text(case: dict, tmp_path: Path) -> None:
    r = validate(tmp_path, case["rules"])
    assert r.returncode == case["exit"], r.stderr
    assert r.stdout == case["stdout"]
    if case["exit"]:
        assert r.stderr == "Error: " + case["stdout"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_validate_json(case: dict, tmp_path: Path) -> None:
    r = validate(tmp_path, case["rules"], "-o", "json_output=true")
    res = json.loads(r.stdout.splitlines()[0])["falco_load_results"][0]
    got = []
    for kind in ("errors", "warnings"):
        for e in res[kind]:
            locs = [f"{loc['item_type']} '{loc['item_name']}' {loc['position']['name']}:{loc['position']['line']}:"
                    f"{loc['position']['column']}:{loc['position']['offset']}" for loc in e["context"]["locations"]]
            got.append({"code": e["code"], "message": e["message"], "locations": locs,
                        "snippet": e["context"]["snippet"]})
    assert got == case["json"]
