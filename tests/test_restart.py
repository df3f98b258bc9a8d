"""Hot restart (SIGHUP / watch_config_files): a dry run first; broken files keep the running setup and
raise Falco's internal alert, valid ones re-run lanner in-process with the new rules."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

RULE = """
- rule: {name}
  desc: test
  condition: ka.verb = create and ka.target.resource = {resource}
  output: {name} %ka.target.name
  priority: WARNING
  source: k8s_audit
"""
EVENT = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request", "auditID": "a1",
         "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/default/configmaps", "verb": "create",
         "user": {"username": "alice"}, "objectRef": {"resource": "configmaps", "namespace": "default",
                                                       "name": "cm1", "apiVersion": "v1"},
         "responseStatus": {"code": 201}, "requestReceivedTimestamp": "2024-01-01T00:00:00.000000Z",
         "stageTimestamp": "2024-01-01T00:00:00.100000Z"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(port: int) -> None:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/k8s-audit", data=json.dumps(EVENT).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    urllib.request.urlopen(req, timeout=5).read()


def wait_for(lines: list[str], text: str, timeout: float = 15) -> bool:
    end = time.time() + timeout
    while time.time() < end:
        if any(text in ln for ln in list(lines)):
            return True
        time.sleep(0.1)
    return False


def start(tmp_path: Path, watch: bool) -> tuple[subprocess.Popen, list[str], Path, int]:
    port = free_port()
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE.format(name="Old rule", resource="configmaps"))
    cfg = tmp_path / "lanner.yaml"
    cfg.write_text(f"""
engine: {{kind: nodriver}}
load_plugins: [k8saudit, json]
plugins:
  - {{name: k8saudit, library_path: libk8saudit.so, open_params: "http://127.0.0.1:{port}/k8s-audit"}}
  - {{name: json, library_path: libjson.so}}
rules_files: [{rules}]
stdout_output: {{enabled: true}}
log_stderr: true
log_syslog: false
watch_config_files: {str(watch).lower()}
""")
    p = subprocess.Popen([sys.executable, "-m", "lanner", "-c", str(cfg)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: [lines.append(ln) for ln in p.stdout], daemon=True).start()
    return p, lines, rules, port


def test_sighup_restart_dry_run(tmp_path: Path) -> None:
    p, lines, rules, port = start(tmp_path, watch=False)
    try:
        assert wait_for(lines, "Enabled event sources: k8s_audit")
        for _ in range(50):
            try:
                post(port)
                break
            except OSError:
                time.sleep(0.1)
        assert wait_for(lines, "Warning Old rule cm1")
        rules.write_text("- rule: broken\n  desc: d\n  condition: ka.nosuchfield = x\n  output: o\n  priority: INFO\n"
                         "  source: k8s_audit\n")
        os.kill(p.pid, signal.SIGHUP)
        assert wait_for(lines, "Critical Falco internal: hot restart failure")
        post(port)
        end = time.time() + 15
        while sum("Old rule cm1" in ln for ln in list(lines)) < 2 and time.time() < end:
            time.sleep(0.1)
        assert sum("Old rule cm1" in ln for ln in lines) == 2, "the running setup must keep going"
        rules.write_text(RULE.format(name="New rule", resource="configmaps"))
        os.kill(p.pid, signal.SIGHUP)
        end = time.time() + 20
        while sum("Enabled event sources" in ln for ln in list(lines)) < 2 and time.time() < end:
            time.sleep(0.1)
        assert sum("Enabled event sources" in ln for ln in lines) == 2, "".join(lines[-20:])
        assert any("Events detected: 2" in ln for ln in lines)
        for _ in range(50):
            try:
                post(port)
                break
            except OSError:
                time.sleep(0.1)
        assert wait_for(lines, "Warning New rule cm1"), "".join(lines[-20:])
        assert p.poll() is None
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(15)
    assert p.returncode == 0


def test_watch_config_files_restarts_on_change(tmp_path: Path) -> None:
    p, lines, rules, port = start(tmp_path, watch=True)
    try:
        assert wait_for(lines, "Enabled event sources: k8s_audit")
        # the watcher polls from its first snapshot, taken at some point after start: write until it
        # reports the change (each write moves the mtime) rather than sleeping past its first poll
        end = time.time() + 60
        while time.time() < end:
            rules.write_text(RULE.format(name="Watched rule", resource="configmaps"))
            if wait_for(lines, "config or rules file changed, restarting", timeout=3):
                break
        end = time.time() + 30
        while sum("Enabled event sources" in ln for ln in list(lines)) < 2 and time.time() < end:
            time.sleep(0.1)
        assert any("config or rules file changed, restarting" in ln for ln in lines), "".join(lines[-10:])
        for _ in range(50):
            try:
                post(port)
                break
            except OSError:
                time.sleep(0.1)
        assert wait_for(lines, "Warning Watched rule cm1"), "".join(lines[-20:])
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(15)
    assert p.returncode == 0
