"""The issue-15 scenarios under ``lanner -o engine.kind=userspace -- sh scenario.sh`` with the upstream
stable rules: each alerts with the fields the live probe gives; and the same scenario file watched by the
live probe gives the same alert set (rule, priority and every output field but ids and the launcher)."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from tests.conftest import shared_path
from tests.sources.userspace import scenario as S


@pytest.fixture
def rules(tmp_path):
    local = tmp_path / "local_rules.yaml"
    local.write_text(S.LOCAL_RULES)
    return [shared_path("upstream", "rules", "falco_rules.yaml"), local]


def one(alerts, rule):
    found = [a for a in alerts if a["rule"] == rule]
    assert len(found) == 1, (rule, [a["rule"] for a in alerts])
    return found[0]["output_fields"]


def test_scenarios_alert_under_the_userspace_driver(tmp_path, rules):
    if os.geteuid() != 0:
        pytest.skip("reading /etc/shadow needs root")
    d = S.make_dir(tmp_path)
    with S.peers() as (port, target):
        r, alerts = S.run_userspace(d, rules, port, target)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout == "scenario done\n"
    assert {a["rule"] for a in alerts} >= S.SCENARIO_RULES, [a["rule"] for a in alerts]
    script = f"sh {d}/scenario.sh {d} {port} {target}"
    f = one(alerts, "Read sensitive file untrusted")
    assert (f["fd.name"], f["proc.name"], f["proc.pname"], f["user.name"]) == ("/etc/shadow", "cat", "sh", "root")
    assert f["proc.cmdline"] == f"cat /etc/shadow {d}/scenario.sh" and f["proc.exepath"] == "/usr/bin/cat"
    assert f["proc.aname[2]"] in ("lanner", "python3") or f["proc.aname[2]"].startswith("python")
    f = one(alerts, "Execution from /dev/shm")
    assert f["proc.exepath"] == f"/dev/shm/{d.name}-true" and f["proc.pcmdline"] == script
    assert f["evt.res"] == "SUCCESS" and f["proc.cwd"] == f"{d}/"
    f = one(alerts, "Hidden file created")
    assert f["fd.name"] == f"{d}/.hidden" and f["proc.name"] == "touch" and "O_F_CREATED" in f["evt.arg.flags"]
    f = one(alerts, "Loopback connection")
    assert f["fd.rport"] == port and f["fd.name"].endswith(f"->127.0.0.1:{port}") and f["proc.name"] == "python3"
    f = one(alerts, "PTRACE attached to process")
    assert f["proc.cmdline"] == f"python3 {d}/helper.py ptrace {target}" and f["evt.type"] == "ptrace"
    f = one(alerts, "Run shell untrusted")
    assert (f["proc.name"], f["proc.pname"], f["proc.cmdline"]) == ("sh", "nginx", "sh -c true")
    assert f["proc.pexepath"] == f"{d}/nginx" and f["proc.aname[2]"] == "sh"


def test_same_alerts_as_the_live_probe(tmp_path, rules):
    S.probe_available()
    d = S.make_dir(tmp_path)
    with S.peers() as (port, target):
        r, user_alerts = S.run_userspace(d, rules, port, target)
        assert r.returncode == 0, r.stderr[-3000:]
        probe_alerts = S.run_probe(d, rules, port, target, S.SCENARIO_RULES)
        if not {a["rule"] for a in probe_alerts} >= S.SCENARIO_RULES:   # a loaded host can make the probe drop
            d2 = S.make_dir(tmp_path)
            r, user_alerts = S.run_userspace(d2, rules, port, target)
            assert r.returncode == 0, r.stderr[-3000:]
            probe_alerts = S.run_probe(d2, rules, port, target, S.SCENARIO_RULES)
    user = Counter(S.key(a) for a in user_alerts)
    probe = Counter(S.key(a) for a in probe_alerts)
    assert {k[0] for k in probe} >= S.SCENARIO_RULES, sorted(k[0] for k in probe)
    only_user = user - probe
    only_probe = probe - user
    assert not only_user and not only_probe, (sorted(only_user), sorted(only_probe))
