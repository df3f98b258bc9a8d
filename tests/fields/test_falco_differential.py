"""lanner against real Falco 0.44.1 on every reference capture, field by field.

Two checks per capture in ``../shared/captures`` and for the state-walk capture this suite writes
(``synthetic_capture.py``: paths, descriptors, sockets and threads the reference captures leave out):

- the recorded expectations (``data/falco_golden.jsonl.gz``: what the reference Falco printed for the
  probe rules of ``data/falco_diff_rules.yaml``) — needs only the captures;
- the live oracle: the reference Falco in ``../shared/falco`` replays the capture now, with those rules
  and the diff harness's rules, and lanner must raise the same alerts with the same field values.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path

import pytest

from tests.conftest import SHARED, shared_path
from tests.fields import falco_oracle as O
from tests.fields import synthetic_capture as S

CAPTURES = sorted(p.name for p in (SHARED / "captures").glob("*.scap")) + [S.NAME]


@cache
def _synthetic() -> Path:
    return O.synthetic_capture(Path(tempfile.mkdtemp(prefix="lanner-walk-")))


def _capture(name: str) -> Path:
    return _synthetic() if name == S.NAME else shared_path("captures", name)


def _rules() -> list[Path]:
    # the diff harness's rules first: Falco's evt.abspath (in ours, last) changes later fd fields
    return [shared_path("compat", "diff", "rules.yaml"), O.RULES]


@cache
def _lanner(name: str) -> list[list]:
    return [O.compact(a) for a in O.replay(O.lanner_cmd(), _capture(name), _rules())]


@cache
def _golden() -> dict[str, list[list]]:
    return O.load_golden()


_OUR_RULES = {"fd_fields", "proc_fields", "args_fields", "fdlist_fields", "abspath_fields"}


def _ours(alerts: list[list]) -> list[list]:
    return [a for a in alerts if a[1] in _OUR_RULES]


@pytest.mark.parametrize("name", CAPTURES)
def test_fields_match_recorded_falco_alerts(name):
    _capture(name)
    expected = _golden().get(name)
    if expected is None:
        pytest.skip(f"no recorded Falco alerts for {name} (refresh with python -m tests.fields.falco_oracle "
                    f"--write-golden)")
    got = _ours(_lanner(name))
    diffs = O.differences(expected, got)
    assert not diffs, f"{name}: {len(expected)} Falco alerts, differences:\n" + "\n".join(diffs)


def test_recorded_alerts_cover_every_probe_rule():
    rules_seen = {a[1] for alerts in _golden().values() for a in alerts}
    assert rules_seen == _OUR_RULES and S.NAME in _golden()
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
    expected = [O.compact(a) for a in O.replay([str(O.FALCO_REF)], cap, _rules())]
    diffs = O.differences(expected, _lanner(name))
    assert not diffs, f"{name}: {len(expected)} Falco alerts, differences:\n" + "\n".join(diffs)
