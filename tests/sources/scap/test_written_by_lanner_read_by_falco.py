"""Captures written by lanner, read back by an independent reader: real Falco (libscap), when
../shared/falco is present.

Each reference capture is read by lanner and written again by lanner's writer; Falco replaying the
rewritten file must raise exactly the alerts it raises on the original (compat/diff's many-field
rules), every field equal. A capture written from scratch (no reader involved) must give Falco the thread,
machine and event values it was written with.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from lanner.events.syscall import SyscallEvent
from lanner.sources.scap import ScapWriter, read_capture
from lanner.sources.scap.records import MachineInfo, ThreadRecord
from tests.conftest import shared_path


def falco(capture: Path, rules: Path) -> list[dict]:
    exe = shared_path("falco", "falco-ref")
    p = subprocess.run([str(exe), "-o", "engine.kind=replay", "-o", f"engine.replay.capture_file={capture}",
                        "-o", "json_output=true", "-o", "rule_matching=all", "-o", "priority=debug", "-r", str(rules)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return [json.loads(ln) for ln in p.stdout.splitlines() if ln.startswith("{")]


def comparable(alerts: list[dict]) -> list[tuple]:
    return sorted((a["time"], a["rule"], a["priority"], a["output"], json.dumps(a["output_fields"], sort_keys=True))
                  for a in alerts)


CAPTURES = ["cat_write.scap", "connect_localhost.scap", "curl_google.scap", "curl_google_comments.scap", "empty.scap",
            "open-multiple-files.scap", "ping_sendto.scap", "single_ipv6_conn.scap", "syscall.scap",
            "test_ipv6_client.scap"]
WITH_ALERTS = {"cat_write.scap", "connect_localhost.scap", "curl_google.scap", "ping_sendto.scap", "syscall.scap"}


@pytest.mark.parametrize("name", CAPTURES)
def test_falco_replays_a_capture_lanner_rewrote(tmp_path: Path, name: str) -> None:
    original = shared_path("captures", name)
    rules = shared_path("compat", "diff", "rules.yaml")
    r, evs = read_capture(original)
    out = tmp_path / name
    with ScapWriter(out) as w:
        w.write_from_reader(r)
        for e in evs:
            w.write(e)
    want = comparable(falco(original, rules))
    assert comparable(falco(out, rules)) == want
    if name in WITH_ALERTS:
        assert len(want) >= 1


RULES = """\
- rule: shadow opened
  desc: a capture written from scratch
  condition: evt.type = openat and fd.name = /etc/shadow
  output: >-
    shadow opened (proc=%proc.name exe=%proc.exepath args=%proc.args cwd=%proc.cwd pid=%proc.pid
    ppid=%proc.ppid fd=%fd.num flags=%evt.arg.flags res=%evt.res)
  priority: WARNING
"""


def test_falco_reads_a_capture_written_from_scratch(tmp_path: Path) -> None:
    cap = tmp_path / "scratch.scap"
    with ScapWriter(str(cap)) as w:
        w.write_metadata(MachineInfo(hostname="written-by-lanner"),
                         threads=[ThreadRecord(tid=4242, pid=4242, ptid=1, comm="cat", exe="cat",
                                               exepath="/usr/bin/cat", args=["/etc/shadow"], cwd="/root/")])
        for i, name in enumerate(["/etc/passwd", "/etc/shadow"]):
            w.write(SyscallEvent.from_values(i + 1, 1_700_000_000_000_000_000 + i, 4242, 307,
                                             [3 + i, -100, name, 1, 0, 0, 1000 + i]))
    (tmp_path / "rules.yaml").write_text(RULES)
    [alert] = falco(cap, tmp_path / "rules.yaml")
    assert alert["rule"] == "shadow opened" and alert["time"] == "2023-11-14T22:13:20.000000001Z"
    f = alert["output_fields"]
    assert {k: f[k] for k in ("proc.name", "proc.exepath", "proc.args", "proc.cwd", "proc.pid", "proc.ppid", "fd.num",
                              "evt.arg.flags", "evt.res")} == {
        "proc.name": "cat", "proc.exepath": "/usr/bin/cat", "proc.args": "/etc/shadow", "proc.cwd": "/root/",
        "proc.pid": 4242, "proc.ppid": None, "fd.num": 4, "evt.arg.flags": "O_RDONLY", "evt.res": "SUCCESS"}
