"""Start-up checks: ``engine.kind`` values lanner does not provide are refused with what replaces them,
and ``--dry-run`` fails on every configuration a real start refuses (short of opening sources)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import shared_path

RULE = "- rule: r\n  desc: d\n  condition: evt.type = openat\n  output: o %proc.name\n  priority: INFO\n"


def lanner(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lanner", "-o", "log_stderr=false", *args], capture_output=True,
                          text=True, timeout=90, stdin=subprocess.DEVNULL)


@pytest.fixture
def rules(tmp_path: Path) -> str:
    p = tmp_path / "rules.yaml"
    p.write_text(RULE)
    return str(p)


def test_dry_run_passes_a_good_configuration(rules: str) -> None:
    r = lanner("-r", rules, "--dry-run")
    assert (r.returncode, r.stderr) == (0, "")


@pytest.mark.parametrize("kind, says", [
    ("kmod", "lanner has no kernel module: its eBPF probe replaces Falco's kmod driver"),
    ("gvisor", "gVisor is not supported"),
    ("ebpf", "the legacy eBPF probe is gone"),
])
def test_engine_kinds_lanner_lacks_are_refused(rules: str, kind: str, says: str) -> None:
    for flag in ("--dry-run", "--version"):
        r = lanner("-r", rules, "-o", f"engine.kind={kind}", flag)
        assert r.returncode == 1, flag
        assert r.stderr.startswith("Error: Error reading config file (")
        assert f"engine.kind '{kind}' is not available in lanner: {says}" in r.stderr


def test_unknown_engine_kind_is_falcos_error(rules: str) -> None:
    r = lanner("-r", rules, "-o", "engine.kind=bogus", "--dry-run")
    assert r.returncode == 1 and r.stderr.rstrip().endswith("engine.kind 'bogus' is not a valid kind.")


@pytest.mark.parametrize("option, error", [
    ("load_plugins[]=okta", "Error: Cannot load plugin 'okta': plugin config not found for given name\n"),
    ("engine.kind=replay", "Error: engine.kind is 'replay' but no engine.replay.capture_file specified.\n"),
])
def test_dry_run_fails_where_a_start_fails(rules: str, option: str, error: str) -> None:
    r = lanner("-r", rules, "-o", option, "--dry-run")
    assert (r.returncode, r.stderr) == (1, error)


def test_dry_run_checks_capture_settings(rules: str) -> None:
    r = lanner("-r", rules, "-o", "capture.enabled=true", "-o", "capture.mode=sometimes", "--dry-run")
    assert (r.returncode, r.stderr) == (1, "Error: Error reading config file: capture.mode 'sometimes' is not "
                                           "valid (rules, all_rules)\n")


def test_dry_run_checks_the_sources(rules: str) -> None:
    r = lanner("-r", rules, "--enable-source", "k8s_audit", "--dry-run")
    assert (r.returncode, r.stderr) == (1, "Error: Attempted enabling an unknown event source: k8s_audit\n")
    r = lanner("-r", rules, "--disable-source", "syscall", "--dry-run")
    assert (r.returncode, r.stderr) == (1, "Error: Must enable at least one event source\n")


def test_no_rules_error_names_the_config_file(tmp_path: Path) -> None:
    falco_yaml = shared_path("falco", "falco.yaml")
    r = lanner("-c", str(falco_yaml), "-o", "rules_files[]=/nonexistent/rules.yaml", "--dry-run")
    assert r.returncode == 1
    assert r.stderr.rstrip().endswith("a rules_files entry in falco.yaml")
    own = tmp_path / "site.yaml"
    own.write_text("rules_files: [/nonexistent/rules.yaml]\n")
    r = lanner("-c", str(own), "--dry-run")
    assert r.stderr.rstrip().endswith("a rules_files entry in site.yaml")
