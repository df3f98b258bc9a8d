"""The issue-15 scenario file (data/scenario.sh) run under the userspace driver or beside the live probe,
and the alerts it gives, reduced to what must be equal between the two drivers."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

#: rules of our own for the two scenarios the stable ruleset has no rule for
LOCAL_RULES = """
- rule: Hidden file created
  desc: a dot file created for writing
  condition: open_write and evt.arg.flags contains O_CREAT and fd.name contains "/."
  output: Hidden file created | file=%fd.name flags=%evt.arg.flags process=%proc.name command=%proc.cmdline parent=%proc.pname pcmdline=%proc.pcmdline
  priority: NOTICE
- rule: Loopback connection
  desc: a TCP connection to 127.0.0.1
  condition: evt.type = connect and evt.arg.res = 0 and fd.typechar = 4 and fd.sip = 127.0.0.1
  output: Loopback connection | connection=%fd.name rport=%fd.rport process=%proc.name command=%proc.cmdline parent=%proc.pname
  priority: NOTICE
"""

SCENARIO_RULES = {"Read sensitive file untrusted", "Execution from /dev/shm", "Hidden file created",
                  "Loopback connection", "PTRACE attached to process", "Run shell untrusted"}

#: fields that name the launcher of the scenario (pytest or lanner), or ids that differ from run to run
_VOLATILE = re.compile(r"^(proc\.aname\[[3-9]\]|proc\.(pid|ppid|vpid|tid)|evt\.(time.*|rawtime.*|num)|fd\.sport)$")


def make_dir(tmp_path: Path) -> Path:
    d = tmp_path / f"h15-{uuid.uuid4().hex[:10]}"
    d.mkdir()
    for n in ("scenario.sh", "helper.py"):
        shutil.copy(DATA / n, d / n)
    return d


@contextmanager
def peers() -> Iterator[tuple[int, int]]:
    """A loopback listener (its port) and a process to ptrace-attach to (its pid), both outside the trace."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    target = subprocess.Popen(["sleep", "120"])
    try:
        yield srv.getsockname()[1], target.pid
    finally:
        target.kill()
        target.wait()
        srv.close()


def lanner_base(rules: list[Path], out: Path) -> list[str]:
    args = [sys.executable, "-m", "lanner"]
    for r in rules:
        args += ["-r", str(r)]
    return args + ["-o", "stdout_output.enabled=false", "-o", "file_output.enabled=true", "-o",
                   f"file_output.filename={out}", "-o", "json_output=true", "-o",
                   "json_include_output_fields_property=true", "-o", "webserver.enabled=false"]


def read_alerts(out: Path, marker: str | None = None) -> list[dict]:
    if not out.exists():
        return []
    alerts = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    if marker is None:
        return alerts
    return [a for a in alerts if marker in json.dumps(a["output_fields"])]


def run_userspace(d: Path, rules: list[Path], port: int, target: int) -> tuple[subprocess.CompletedProcess, list]:
    out = d.parent / "userspace-alerts.json"
    cmd = lanner_base(rules, out) + ["-o", "engine.kind=userspace", "-o", "log_stderr=false", "--",
                                     "sh", str(d / "scenario.sh"), str(d), str(port), str(target)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL, cwd=d)
    return r, read_alerts(out)


def run_probe(d: Path, rules: list[Path], port: int, target: int, expect: set[str]) -> list[dict]:
    """The live probe watching the host while the scenario runs as a plain child of this test; the alerts
    of the scenario's processes (their command lines carry the scenario directory)."""
    out = d.parent / "probe-alerts.json"
    cmd = lanner_base(rules, out) + ["-v", "-o", "engine.kind=modern_ebpf"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 400       # a changed probe source is rebuilt (clang) first: slow under load
        while time.monotonic() < end:
            ready, _, _ = select.select([p.stderr], [], [], 0.5)
            if ready and "live: seeded" in p.stderr.readline():
                break
            if p.poll() is not None:
                pytest.fail(f"lanner with the probe exited: {p.stderr.read()[-2000:]}")
        else:
            pytest.fail("lanner with the probe did not start")
        subprocess.run(["sh", str(d / "scenario.sh"), str(d), str(port), str(target)], cwd=d, timeout=120,
                       stdout=subprocess.DEVNULL, check=True)
        end = time.monotonic() + 30
        while time.monotonic() < end and not expect <= {a["rule"] for a in read_alerts(out, str(d))}:
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return read_alerts(out, str(d))


def key(alert: dict) -> tuple:
    """An alert as (rule, priority, sorted stable fields): what both drivers must agree on."""
    f = {k: v for k, v in alert["output_fields"].items() if not _VOLATILE.match(k)}
    if isinstance(f.get("fd.name"), str):
        f["fd.name"] = re.sub(r":\d+->", ":*->", f["fd.name"])  # the ephemeral source port
    return alert["rule"], alert["priority"], tuple(sorted((k, json.dumps(v)) for k, v in f.items()))


def probe_available() -> None:
    if os.geteuid() != 0:
        pytest.skip("the live probe needs root")
