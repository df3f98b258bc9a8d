"""lanner against real Falco 0.44.1 on every reference capture, field by field.

Two checks per capture in ``../shared/captures``:

- the recorded expectations (``data/falco_golden.jsonl.gz``: what the reference Falco printed for the
  probe rules of ``data/falco_diff_rules.yaml``) — needs only the captures;
- the live oracle: the reference Falco in ``../shared/falco`` replays the capture now, with those rules
  and the diff harness's rules, and lanner must raise the same alerts with the same field values.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from tests.conftest import SHARED, shared_path
from tests.fields import falco_oracle as O

CAPTURES = sorted(p.name for p in (SHARED / "captures").glob("*.scap")) or ["<no captures>"]


def _capture(name: str) -> Path:
    return shared_path("captures", name)


@cache
def _lanner(name: str, with_diff_rules: bool) -> list[list]:
    rules = [O.RULES]
    if with_diff_rules:
        rules.append(shared_path("compat", "diff", "rules.yaml"))
    return [O.compact(a) for a in O.replay(O.lanner_cmd(), _capture(name), rules)]


@cache
def _golden() -> dict[str, list[list]]:
    return O.load_golden()


def _ours(alerts: list[list]) -> list[list]:
    names = {"fd_fields", "proc_fields", "args_fields"}
    return [a for a in alerts if a[1] in names]


@pytest.mark.parametrize("name", CAPTURES)
def test_fields_match_recorded_falco_alerts(name):
    _capture(name)
    expected = _golden().get(name)
    if expected is None:
        pytest.skip(f"no recorded Falco alerts for {name} (refresh with python -m tests.fields.falco_oracle "
                    f"--write-golden)")
    got = _ours(_lanner(name, True))
    diffs = O.differences(expected, got)
    assert not diffs, f"{name}: {len(expected)} Falco alerts, differences:\n" + "\n".join(diffs)


def test_recorded_alerts_cover_every_probe_rule():
    rules_seen = {a[1] for alerts in _golden().values() for a in alerts}
    assert rules_seen == {"fd_fields", "proc_fields", "args_fields"}
    assert sum(len(a) for a in _golden().values()) > 3000


def test_comparison_reports_each_kind_of_difference():
    e = ["2020-01-01T00:00:00.000000001Z", "fd_fields", "Debug", {"fd.name": "/etc/passwd", "fd.num": 3}]
    same = [e[0], e[1], e[2], dict(e[3])]
    assert O.differences([e], [same]) == []
    changed = [e[0], e[1], e[2], {"fd.name": "/etc/shadow", "fd.num": 3}]
    assert O.differences([e], [changed]) == [
        "fd_fields @ 2020-01-01T00:00:00.000000001Z: fd.name: falco='/etc/passwd' lanner='/etc/shadow'",
        "fd_fields @ 2020-01-01T00:00:00.000000001Z: raised by lanner only"]
    assert O.differences([e], []) == ["fd_fields @ 2020-01-01T00:00:00.000000001Z: missing"]
    assert O.differences([], [same]) == ["fd_fields @ 2020-01-01T00:00:00.000000001Z: raised by lanner only"]
    assert "priority" in O.differences([e], [[e[0], e[1], "Informational", dict(e[3])]])[0]


@pytest.mark.parametrize("name", CAPTURES)
def test_fields_match_falco_replaying_now(name):
    cap = _capture(name)
    reason = O.falco_usable()
    if reason:
        pytest.skip(reason)
    rules = [O.RULES, shared_path("compat", "diff", "rules.yaml")]
    expected = [O.compact(a) for a in O.replay([str(O.FALCO_REF)], cap, rules)]
    diffs = O.differences(expected, _lanner(name, True))
    assert not diffs, f"{name}: {len(expected)} Falco alerts, differences:\n" + "\n".join(diffs)
