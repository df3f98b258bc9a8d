"""Capture on alert: a rule with ``capture: true`` fires during a replay, lanner writes a ``.scap`` from the
triggering event on, and that file replays to the same alert in lanner (and in Falco when falco-ref is
available)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lanner.events.syscall import SyscallEvent
from lanner.run.capture import capture_path
from lanner.sources.scap import MachineInfo, ScapReader, ScapWriter, ThreadRecord
from tests.conftest import SHARED

RULES = """
- rule: Shadow read
  desc: somebody read the shadow file
  condition: evt.type in (open, openat) and evt.is_open_read = true and fd.name = /etc/shadow
  output: shadow read by %proc.name (pid=%proc.pid file=%fd.name exe=%proc.exepath)
  priority: WARNING
  capture: true
  capture_duration: 2000
- rule: Hosts read
  desc: somebody read the hosts file
  condition: evt.type in (open, openat) and evt.is_open_read = true and fd.name = /etc/hosts
  output: hosts read by %proc.name (file=%fd.name)
  priority: NOTICE
"""
TS = 1_700_000_000_000_000_000
SECOND = 1_000_000_000


def _open(i: int, name: str, dt: int) -> SyscallEvent:
    return SyscallEvent.from_values(0, TS + dt, 42, 307, [3 + i, -100, name, 1, 0, 0x803, 99 + i])


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    """hosts at 0 s (no capture), shadow at 1 s (starts a 2 s capture), hosts at 2 s (inside), hosts at 5 s
    (after the deadline: not captured)."""
    path = tmp_path / "in.scap"
    with ScapWriter(str(path)) as w:
        w.write_metadata(MachineInfo(2, 1 << 30, 0, "testhost"),
                         threads=[ThreadRecord(1, 1, 0, comm="init", exe="/sbin/init", exepath="/sbin/init"),
                                  ThreadRecord(42, 42, 1, comm="cat", exe="cat", exepath="/usr/bin/cat",
                                               args=["/etc/shadow"], cwd="/root/")])
        for i, (name, dt) in enumerate([("/etc/hosts", 0), ("/etc/shadow", SECOND), ("/etc/hosts", 2 * SECOND),
                                        ("/etc/hosts", 5 * SECOND)]):
            w.write(_open(i, name, dt))
    return path


def lanner(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lanner", "-o", "log_stderr=true", "-o", "json_output=true", *args],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def alerts(stdout: str) -> list[tuple[str, str]]:
    return [(a["rule"], a["output"]) for a in map(json.loads, (ln for ln in stdout.splitlines()
                                                              if ln.startswith("{")))]


def test_capture_on_alert_replays_to_the_same_alert(tmp_path: Path, capture: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    prefix = tmp_path / "caps" / "lanner"
    r = lanner("-r", str(rules), "-e", str(capture), "-o", "capture.enabled=true",
               "-o", f"capture.path_prefix={prefix}")
    assert r.returncode == 0, r.stderr
    first = alerts(r.stdout)
    assert [a[0] for a in first] == ["Hosts read", "Shadow read", "Hosts read", "Hosts read"]
    files = sorted((tmp_path / "caps").iterdir())
    assert [str(f) for f in files] == [capture_path(str(prefix), TS + SECOND, 2)]
    assert f"Capture started: {files[0]}" in r.stderr
    reader = ScapReader(str(files[0]))
    events = [(ev.ts, ev.type) for ev in reader if not ev.hidden]
    reader.close()
    assert events == [(TS + SECOND, 307), (TS + 2 * SECOND, 307)]
    replay = lanner("-r", str(rules), "-e", str(files[0]))
    assert replay.returncode == 0, replay.stderr
    assert alerts(replay.stdout) == first[1:3]
    falco = SHARED / "falco" / "falco-ref"
    if falco.exists():
        f = subprocess.run([str(falco), "-o", "engine.kind=replay", "-o", f"engine.replay.capture_file={files[0]}",
                            "-o", "json_output=true", "-r", str(rules)], capture_output=True, text=True, timeout=300)
        assert f.returncode == 0, f.stderr[-3000:]
        assert alerts(f.stdout) == first[1:3]


def test_all_rules_mode_and_disabled(tmp_path: Path, capture: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    prefix = tmp_path / "all" / "cap"
    r = lanner("-r", str(rules), "-e", str(capture), "-o", "capture.enabled=true", "-o", "capture.mode=all_rules",
               "-o", f"capture.path_prefix={prefix}", "-o", "capture.default_duration=500")
    assert r.returncode == 0, r.stderr
    # hosts at 0 s (0.5 s), shadow at 1 s (2 s: hosts at 2 s inside), hosts at 5 s (a new file)
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == sorted(
        Path(capture_path(str(prefix), TS + dt, n)).name for dt, n in ((0, 1), (SECOND, 2), (5 * SECOND, 4)))
    off = tmp_path / "off" / "cap"
    r = lanner("-r", str(rules), "-e", str(capture), "-o", f"capture.path_prefix={off}")
    assert r.returncode == 0 and not (tmp_path / "off").exists()
    r = lanner("-r", str(rules), "-e", str(capture), "-o", "capture.enabled=true", "-o", "capture.mode=some")
    assert r.returncode == 1 and "capture.mode 'some' is not valid" in r.stderr


def test_capture_carries_the_fds_opened_before_it(tmp_path: Path) -> None:
    """A descriptor opened before the capture started is in the capture's fd list: its close, inside the
    capture, still names the file on replay."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES + """
- rule: Hosts closed
  desc: the hosts file descriptor was closed
  condition: evt.type = close and fd.name = /etc/hosts
  output: hosts closed by %proc.name (fd=%fd.num file=%fd.name)
  priority: NOTICE
""")
    path = tmp_path / "in.scap"
    with ScapWriter(str(path)) as w:
        w.write_metadata(MachineInfo(2, 1 << 30, 0, "testhost"),
                         threads=[ThreadRecord(42, 42, 1, comm="cat", exe="cat", exepath="/usr/bin/cat")])
        w.write(_open(0, "/etc/hosts", 0))
        w.write(_open(1, "/etc/shadow", SECOND))
        w.write(SyscallEvent.from_values(0, TS + SECOND + 1000, 42, 5, [0, 3]))
    prefix = tmp_path / "caps" / "c"
    r = lanner("-r", str(rules), "-e", str(path), "-o", "capture.enabled=true", "-o", f"capture.path_prefix={prefix}")
    assert r.returncode == 0, r.stderr
    first = alerts(r.stdout)
    assert [a[0] for a in first] == ["Hosts read", "Shadow read", "Hosts closed"]
    (cap,) = (tmp_path / "caps").iterdir()
    replay = lanner("-r", str(rules), "-e", str(cap))
    assert alerts(replay.stdout) == first[1:]
    falco = SHARED / "falco" / "falco-ref"
    if falco.exists():
        f = subprocess.run([str(falco), "-o", "engine.kind=replay", "-o", f"engine.replay.capture_file={cap}",
                            "-o", "json_output=true", "-r", str(rules)], capture_output=True, text=True, timeout=300)
        assert f.returncode == 0, f.stderr[-3000:]
        assert alerts(f.stdout) == first[1:]


def test_max_file_size_stops_the_capture(tmp_path: Path) -> None:
    """``max_file_size_mb`` is a hard cap on the (compressed) file: the capture stops near it although the
    rule's duration has not passed, and the file it leaves is a complete capture."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    path = tmp_path / "in.scap"
    with ScapWriter(str(path)) as w:
        w.write_metadata(MachineInfo(2, 1 << 30, 0, "testhost"),
                         threads=[ThreadRecord(42, 42, 1, comm="cat", exe="cat", exepath="/usr/bin/cat")])
        w.write(_open(0, "/etc/shadow", 0))
        for i in range(1200):    # ~2 MiB of compressed names, all within the rule's 2 s
            w.write(_open(1 + i % 900, "/tmp/" + os.urandom(2000).hex(), 1000 + i))
    prefix = tmp_path / "caps" / "c"
    r = lanner("-r", str(rules), "-e", str(path), "-o", "capture.enabled=true", "-o", f"capture.path_prefix={prefix}",
               "-o", "capture.max_file_size_mb=1")
    assert r.returncode == 0, r.stderr
    (cap,) = (tmp_path / "caps").iterdir()
    assert "stopped at max_file_size_mb (1 MB)" in r.stderr
    size = cap.stat().st_size
    assert 1 << 20 <= size < 2 << 20
    reader = ScapReader(str(cap))
    n = sum(1 for ev in reader if not ev.hidden)
    reader.close()
    assert 1 < n < 1201
