"""Container metadata carried inside captures (event-model.md 8.4) reaches container.* fields in replay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lanner.events.syscall import SyscallEvent
from lanner.sources.scap import MachineInfo, ScapWriter, ThreadRecord

CID = "3ad7b26ded6d" + "a" * 52
RULE = """
- rule: Shell in container
  desc: t
  condition: evt.type = execve and container.id != host and proc.name = sh
  output: shell in %container.name (%container.id image=%container.image.repository pod=%k8s.pod.name ns=%k8s.ns.name)
  priority: NOTICE
"""


def test_container_json_event_feeds_metadata(tmp_path: Path) -> None:
    cap = tmp_path / "c.scap"
    doc = {"container": {"type": 0, "id": CID[:12], "full_id": CID, "name": "web", "image": "nginx:1.25",
                         "imagerepo": "docker.io/library/nginx", "imagetag": "1.25", "privileged": False,
                         "labels": {"io.kubernetes.pod.name": "web-1", "io.kubernetes.pod.namespace": "prod"}}}
    ts = 1_700_000_000_000_000_000
    with ScapWriter(str(cap)) as w:
        w.write_metadata(MachineInfo(2, 1 << 30, 0, "h"), threads=[
            ThreadRecord(1, 1, 0, comm="init", exe="/sbin/init", exepath="/sbin/init"),
            ThreadRecord(77, 77, 1, comm="runc", exe="runc", exepath="/usr/bin/runc",
                         cgroups=[f"cpu=/docker/{CID}"])])
        w.write(SyscallEvent.from_values(0, ts, 77, 324, [json.dumps(doc)]))
        execve = [0, "/bin/sh", b"", 77, 77, 1, "/", 1024, 0, 0, 0, 0, 0, "sh", f"cpu=/docker/{CID}\0".encode(),
                  b"", 34816, 77, 0, 0, 0, 0, 0, 1, 0, 0, 0, "/bin/sh", 77, 0, "/bin/sh"]
        w.write(SyscallEvent.from_values(0, ts + 1, 77, 293, execve))
    rules = tmp_path / "r.yaml"
    rules.write_text(RULE)
    r = subprocess.run([sys.executable, "-m", "lanner", "-e", str(cap), "-r", str(rules), "-o", "log_stderr=false"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if "shell in" in ln)
    assert "shell in web (3ad7b26ded6d image=docker.io/library/nginx pod=web-1 ns=prod)" in line
