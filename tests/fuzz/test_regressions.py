"""Every crash the fuzzers found, kept as golden data and replayed on every run (data/regressions.yaml):
each input must now give a result or its parser's clean error."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from tests.fuzz import targets

CASES = yaml.safe_load((Path(__file__).parent / "data" / "regressions.yaml").read_text()) or []


def _input(case: dict) -> object:
    if "base64" in case:
        return base64.b64decode(case["base64"])
    if "text" in case:
        return case["text"] if case["target"] in ("condition", "rules") else case["text"].encode()
    raise AssertionError(f"case {case['name']} has no input")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_regression(case: dict) -> None:
    targets.TARGETS[case["target"]](_input(case))
