"""Least privilege (issue 19 item 5): live capture as a non-root user holding only CAP_BPF, CAP_PERFMON,
CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH raises an alert, and /proc/<pid>/status of lanner then shows
exactly those (extra ones granted are dropped, ambient and inheritable cleared); as root every other
capability is dropped from all sets, the bounding set included."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from lanner import privileges
from tests.conftest import require_root, require_tool

ROOT = Path(__file__).resolve().parent.parent
NEEDED = {"bpf", "perfmon", "sys_ptrace", "dac_read_search"}
RULES = """
- rule: shadow read
  desc: test
  condition: evt.type in (open, openat, openat2) and evt.is_open_read=true and fd.name = /etc/shadow
  output: "shadow read pid=%proc.pid cmd=%proc.cmdline"
  priority: WARNING
"""


def test_capability_names_and_masks() -> None:
    assert privileges.names_of(0xC000080004) == NEEDED
    sets = privileges.capability_sets()
    assert set(sets) == {"inheritable", "permitted", "effective", "bounding", "ambient"}


def status_caps(pid: int) -> dict[str, set[str]]:
    return privileges.capability_sets(pid)


def start(cmd: list[str], world_dir: Path) -> subprocess.Popen:
    p = subprocess.Popen(cmd, cwd=str(world_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 60
    seen: list[str] = []
    while time.monotonic() < end:
        r, _, _ = select.select([p.stderr], [], [], 0.5)
        if r:
            line = p.stderr.readline()
            seen.append(line)
            if "live: seeded" in line:
                return p
        if p.poll() is not None:
            break
    p.kill()
    pytest.fail("lanner did not start live capture:\n" + "".join(seen[-20:]))


def wait_alert(p: subprocess.Popen, timeout: float = 30.0) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, check=True)
        r, _, _ = select.select([p.stdout], [], [], 1.0)
        while r:
            line = p.stdout.readline()
            if not line:
                break
            try:
                doc = json.loads(line)
            except ValueError:
                doc = {}
            if doc.get("rule") == "shadow read":
                return doc
            r, _, _ = select.select([p.stdout], [], [], 0)
    pytest.fail("no alert for cat /etc/shadow")


def stop(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGTERM)
    try:
        p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()


@pytest.fixture
def world_dir():
    d = Path(tempfile.mkdtemp(prefix="lanner-lp-"))
    d.chmod(0o755)
    (d / "rules.yaml").write_text(RULES)
    (d / "rules.yaml").chmod(0o644)
    yield d
    for f in d.iterdir():
        f.unlink()
    d.rmdir()


def lanner_cmd(rules: Path) -> list[str]:
    return [sys.executable, "-m", "lanner", "-r", str(rules), "-v", "-o", "engine.kind=modern_ebpf",
            "-o", "json_output=true", "-o", "stdout_output.enabled=true", "-o", "webserver.enabled=false"]


def test_live_capture_as_nobody_with_four_capabilities(world_dir: Path) -> None:
    require_root()
    require_tool("setpriv")
    probe = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable,
                            "-c", "import lanner.run.app"], cwd=str(world_dir), capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"user nobody cannot import lanner from {ROOT} (directory permissions): {probe.stderr[-200:]}")
    granted = "+bpf,+perfmon,+sys_ptrace,+dac_read_search,+net_raw,+chown"
    cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", f"--inh-caps={granted}",
           f"--ambient-caps={granted}", *lanner_cmd(world_dir / "rules.yaml")]
    p = start(cmd, world_dir)
    try:
        alert = wait_alert(p)
        assert alert["priority"] == "Warning"
        assert "shadow read pid=" in alert["output"] and "cat /etc/shadow" in alert["output"]
        with open(f"/proc/{p.pid}/status") as f:
            uid = next(line.split()[1] for line in f if line.startswith("Uid:"))
        assert uid == "65534"
        caps = status_caps(p.pid)
        assert caps["effective"] == NEEDED and caps["permitted"] == NEEDED
        assert caps["ambient"] == set() and caps["inheritable"] == set()
        for task in os.listdir(f"/proc/{p.pid}/task"):          # every thread, not just the main one
            assert privileges.capability_sets(f"{p.pid}/task/{task}")["effective"] == NEEDED
    finally:
        stop(p)


def test_live_capture_as_root_drops_everything_else(world_dir: Path) -> None:
    require_root()
    if "setpcap" not in privileges.capability_sets()["effective"]:
        pytest.skip("this root has no CAP_SETPCAP: the bounding set cannot be reduced")
    p = start(lanner_cmd(world_dir / "rules.yaml"), world_dir)
    try:
        wait_alert(p)
        caps = status_caps(p.pid)
        assert caps["effective"] == NEEDED and caps["permitted"] == NEEDED and caps["bounding"] == NEEDED
        assert caps["ambient"] == set() and caps["inheritable"] == set()
    finally:
        stop(p)


@pytest.mark.parametrize("effective,fatal,partial", [
    (NEEDED, [], []),
    ({"sys_admin", "sys_ptrace"}, [], ["CAP_DAC_READ_SEARCH"]),      # an engine granting SYS_ADMIN for BPF
    ({"bpf", "sys_ptrace", "dac_read_search"}, ["CAP_PERFMON"], []),
    (set(), ["CAP_BPF", "CAP_PERFMON"], ["CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH"]),
])
def test_what_live_capture_misses(monkeypatch: pytest.MonkeyPatch, effective: set[str], fatal: list[str],
                                  partial: list[str]) -> None:
    monkeypatch.setattr(privileges, "capability_sets", lambda pid="self": {"effective": set(effective)})
    assert privileges.missing_for_live_capture() == (fatal, partial)
