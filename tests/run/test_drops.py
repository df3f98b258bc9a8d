"""syscall_event_drops during replay: simulate_drops drives the same drop monitor as live drops, with
Falco's counts (golden cases in tests/data/drop_cases.yaml, numbers taken from real Falco 0.44.1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lanner.config import Config
from lanner.run.drops import DropMonitor, TokenBucket
from tests.conftest import shared_path

CASES = yaml.safe_load((Path(__file__).parent.parent / "data" / "drop_cases.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_replay_drop_case(case: dict, tmp_path: Path) -> None:
    capture = shared_path("captures", case["capture"])
    rules = tmp_path / "rules.yaml"
    rules.write_text("- rule: never\n  desc: d\n  condition: evt.type=open and proc.name=nosuchproc\n"
                     "  output: x\n  priority: WARNING\n")
    conf = tmp_path / "falco.yaml"
    conf.write_text(yaml.safe_dump({"stdout_output": {"enabled": True}, "log_stderr": True, "log_syslog": False,
                                    "log_level": case.get("log_level", "info"),
                                    "syscall_event_drops": {"simulate_drops": True, **case["drops"]}}))
    args = [sys.executable, "-m", "lanner", "-c", str(conf), "-r", str(rules), "-e", str(capture)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert r.returncode == case["exit"], r.stderr
    assert f"   - event drop detected: {case['detected']} occurrences\n" in r.stderr
    assert f"   - num times actions taken: {case['taken']}\n" in r.stderr
    msg = "Falco internal: syscall event drop. 1 system calls dropped in last second."
    log_lines = [ln for ln in r.stderr.splitlines() if ln.endswith(": " + msg)]
    if "logged" in case:
        assert len(log_lines) == case["logged"]
    if "skipped" in case:
        assert r.stderr.count("token bucket depleted, skipping actions") == case["skipped"]
    if "alerted" in case:
        alerts = [ln for ln in r.stdout.splitlines() if f"Debug {msg}" in ln]
        assert len(alerts) == case["alerted"]
        assert 'n_drops="1"' in alerts[0] and 'n_drops_buffer_total="0"' in alerts[0] and 'ebpf_enabled="0"' in alerts[0]
    for text in case.get("stderr", []):
        assert text in r.stderr


def test_token_bucket_stamps_before_its_start_refill_it() -> None:
    """Falco's bucket counts time as unsigned nanoseconds: a claim stamped before the bucket's start (a
    capture's events against the wall clock) refills it to the brim, a negative rate empties it."""
    b = TokenBucket(rate=0.03, max_burst=2, now_ns=10**18)
    assert b.claim(1, 5) and b.claim(1, 6) and not b.claim(1, 7)
    drained = TokenBucket(rate=-1, max_burst=5, now_ns=10**18)
    assert not drained.claim(1, 5)


def test_monitor_reads_settings_from_the_loaded_config() -> None:
    m = DropMonitor(Config({"syscall_event_drops": {"actions": ["log", "ignore"], "threshold": 0.5}}))
    assert m.actions == ["log"] and m.threshold == 0.5
    assert DropMonitor(Config({})).actions == []
