"""Every flag of ``lanner --help`` does what it says: informational flags print and exit without opening
any event source, run flags are accepted by a run (a short replay, so nothing waits on the probe), and
numeric flags refuse what is not a number with a clear error."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jsonschema
import pytest
import yaml

from lanner.events.syscall import SyscallEvent
from lanner.sources.scap import MachineInfo, ScapWriter, ThreadRecord
from tests.conftest import shared_path

RULES = """
- rule: Shadow read
  desc: somebody read the shadow file
  condition: evt.type in (open, openat) and fd.name = /etc/shadow
  output: shadow read by %proc.name (file=%fd.name)
  priority: WARNING
  tags: [filesystem]
"""
OPENED = re.compile(r"Opening '|Replaying events from")

# flag -> extra arguments; informational flags must exit without opening a source.
INFO = {
    "help": [], "config-schema": [], "rule-schema": [], "ignored-events": [], "describe-all": [],
    "describe": ["Shadow read"], "list": [], "list-events": [], "list-plugins": [], "plugin-info": ["k8saudit"],
    "markdown": ["--list-events"], "format": ["markdown", "--list-events"], "names-only": ["--list"],
    "support": [], "validate": ["RULES"], "version": [], "page-size": [], "dry-run": [],
}
# flag -> extra arguments; these change a run, which here is a replay of a two-event capture.
RUN = {
    "config": ["CONFIG"], "disable-source": ["k8s_audit"], "enable-source": ["syscall"], "duration": ["5"],
    "option": ["json_output=true"], "print": ["extra"], "pidfile": ["PIDFILE"], "rules": ["RULES"],
    "unbuffered": [], "verbose": [], "trace-file": ["CAPTURE"], "all-events": [], "disable-rule": ["nothing"],
    "disable-tag": ["nothing"], "only-tag": ["filesystem"],
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("flags")
    (d / "rules.yaml").write_text(RULES)
    (d / "lanner.yaml").write_text("log_level: info\nlog_stderr: true\nstdout_output:\n  enabled: true\n")
    ts = 1_700_000_000_000_000_000
    with ScapWriter(str(d / "cat.scap")) as w:
        w.write_metadata(MachineInfo(2, 1 << 30, 0, "testhost"),
                         threads=[ThreadRecord(42, 42, 1, comm="cat", exe="cat", exepath="/usr/bin/cat")])
        w.write(SyscallEvent.from_values(0, ts, 42, 307, [3, -100, "/etc/shadow", 1, 0, 0x803, 99]))
    return {"RULES": str(d / "rules.yaml"), "CONFIG": str(d / "lanner.yaml"), "CAPTURE": str(d / "cat.scap"),
            "PIDFILE": str(d / "lanner.pid")}


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    # A flag that wrongly starts a live capture would run until killed: the timeout fails the test.
    return subprocess.run([sys.executable, "-m", "lanner", *argv], capture_output=True, text=True, timeout=90,
                          stdin=subprocess.DEVNULL)


def _help_flags() -> set[str]:
    out = _run(["--help"]).stdout
    return set(re.findall(r"^\s+(?:-\w, )?--([\w-]+)", out, re.M))


def test_every_help_flag_is_classified() -> None:
    assert _help_flags() == set(INFO) | set(RUN)


def test_informational_flags_exit_without_a_capture(files: dict[str, str]) -> None:
    def one(flag: str) -> tuple[str, subprocess.CompletedProcess]:
        extra = [files.get(a, a) for a in INFO[flag]]
        return flag, _run(["-o", "log_level=info", "-r", files["RULES"], f"--{flag}", *extra])
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, INFO))
    for flag, r in results:
        assert r.returncode == 0, (flag, r.stderr[-2000:])
        assert not OPENED.search(r.stdout + r.stderr), (flag, r.stderr[-2000:])
        if flag != "dry-run":
            assert r.stdout.strip(), flag


def test_run_flags_run(files: dict[str, str]) -> None:
    def one(flag: str) -> tuple[str, subprocess.CompletedProcess]:
        extra = [files.get(a, a) for a in RUN[flag]]
        base = ["-o", "log_level=info", "-r", files["RULES"]]
        if flag != "trace-file":
            base += ["-e", files["CAPTURE"]]
        return flag, _run([*base, f"--{flag}", *extra])
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, RUN))
    for flag, r in results:
        assert r.returncode == 0, (flag, r.stderr[-2000:])
        assert "Replaying events from the capture file" in r.stderr, flag
        assert "Opening '" not in r.stderr, flag
        assert "shadow read by cat" in r.stdout, flag
    assert Path(files["PIDFILE"]).read_text().isdigit()


@pytest.mark.parametrize("value", ["abc", "1.5", "", "2147483648", "5s"])
def test_numeric_flag_refuses_non_numbers(value: str) -> None:
    r = _run(["-M", value, "--version"])
    assert r.returncode == 1
    assert r.stderr == f"Error: Argument \u2018{value}\u2019 failed to parse\n"


def test_numeric_flag_takes_cxxopts_integers() -> None:
    for value in ("0x10", "-5", "7"):
        assert _run(["-M", value, "--page-size"]).returncode == 0, value


def test_config_schema_validates_falcos_own_config() -> None:
    r = _run(["--config-schema"])
    assert r.returncode == 0
    schema = json.loads(r.stdout)
    jsonschema.Draft6Validator.check_schema(schema)
    falco_yaml = yaml.safe_load(shared_path("falco", "falco.yaml").read_text())
    assert list(jsonschema.Draft6Validator(schema).iter_errors(falco_yaml)) == []
    bad = {**falco_yaml, "stdout_output": {"enabeld": True}}
    errors = list(jsonschema.Draft6Validator(schema).iter_errors(bad))
    assert len(errors) == 1 and "enabeld" in errors[0].message
