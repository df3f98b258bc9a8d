"""Several event sources in one lanner process (issue 7), run as a user runs it: live syscalls plus the
k8s_audit webhook (``load_plugins: [k8saudit, json]``, ``open_params`` on a free loopback port), the
default rules (no ``-r``). An audit event posted to the webhook and a syscall that a default rule
catches, fired at the same time, both alert. ``--disable-source k8s_audit`` leaves the webhook closed
while syscalls still alert; ``--enable-source k8s_audit`` opens only the webhook (no BPF program);
``--enable-source`` with an unknown name is Falco's fatal error, exit 1.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

from tests.conftest import ROOT, shared_path
from tests.e2e.harness import LannerProcess, bpf_ids, free_port, require_live, user_config

AUDIT_RULE = "K8s Privileged Pod Created"
SYSCALL_RULE = "Read Shadow or Sudoers File"


def _config(tmp: Path, port: int) -> Path:
    return user_config(tmp, load_plugins=["k8saudit", "json"], plugins=[
        {"name": "k8saudit", "library_path": "libk8saudit.so", "init_config": "",
         "open_params": f"http://127.0.0.1:{port}/k8s-audit"},
        {"name": "json", "library_path": "libjson.so", "init_config": ""}])


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_port(port: int, lanner: LannerProcess, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if _port_open(port):
            return
        assert lanner.proc.poll() is None, "lanner exited\n" + lanner.describe()
        time.sleep(0.1)
    raise AssertionError(f"webhook port {port} not listening after {timeout}s\n" + lanner.describe())


def _post(port: int, body: bytes) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/k8s-audit", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def _read_shadow(nonce: str) -> None:
    # cat opens /etc/shadow, then fails on the second (absent) name: the nonce marks our own alert
    subprocess.run(["cat", "/etc/shadow", f"/nonexistent-{nonce}"], capture_output=True, timeout=10)


def _shadow_alert(nonce: str):
    return lambda a: a.get("rule") == SYSCALL_RULE and nonce in str(a["output_fields"].get("proc.cmdline"))


def test_syscall_and_k8s_audit_in_one_process(tmp_path):
    require_live()
    body = shared_path("k8s_audit", "create_nginx_pod_privileged.json").read_bytes()
    port = free_port()
    lanner = LannerProcess(["-c", str(_config(tmp_path, port)), "-v"], tmp_path / "lanner.log")
    try:
        lanner.wait_live(60)
        _wait_port(port, lanner)
        assert lanner.wait_log("Enabled event sources: syscall, k8s_audit", 5), lanner.describe()
        nonce = uuid.uuid4().hex[:10]
        status: list[int] = []
        poster = threading.Thread(target=lambda: status.append(_post(port, body)))
        poster.start()
        _read_shadow(nonce)
        poster.join(15)
        assert status == [200]
        audit = lanner.wait_alert(lambda a: a.get("rule") == AUDIT_RULE, 15)
        sysc = lanner.wait_alert(_shadow_alert(nonce), 15)
        assert audit is not None, f"no '{AUDIT_RULE}' alert\n" + lanner.describe()
        assert sysc is not None, f"no '{SYSCALL_RULE}' alert\n" + lanner.describe()
        rc = lanner.stop()
    finally:
        lanner.kill()
    assert rc == 0, lanner.describe()
    assert audit["source"] == "k8s_audit" and sysc["source"] == "syscall"
    assert audit["priority"] == "Warning"
    assert audit["output_fields"]["ka.target.namespace"] == "default"
    assert "nginx" in str(audit["output_fields"]["ka.req.pod.containers.image"])
    assert sysc["output_fields"]["fd.name"] == "/etc/shadow"
    assert not lanner.leftover_bpf()
    assert not _port_open(port), "webhook still listening after lanner exited"


def test_disable_source_k8s_audit(tmp_path):
    require_live()
    port = free_port()
    lanner = LannerProcess(["-c", str(_config(tmp_path, port)), "-v", "--disable-source", "k8s_audit"],
                           tmp_path / "lanner.log")
    try:
        lanner.wait_live(60)
        assert lanner.wait_log("Enabled event sources: syscall\n", 5), lanner.describe()
        nonce = uuid.uuid4().hex[:10]
        _read_shadow(nonce)
        assert lanner.wait_alert(_shadow_alert(nonce), 15) is not None, lanner.describe()
        assert not _port_open(port), "k8s_audit disabled, yet its webhook port accepts connections"
        rc = lanner.stop()
    finally:
        lanner.kill()
    assert rc == 0, lanner.describe()
    assert not lanner.leftover_bpf()


def test_enable_source_k8s_audit_only(tmp_path):
    body = shared_path("k8s_audit", "create_nginx_pod_privileged.json").read_bytes()
    port = free_port()
    lanner = LannerProcess(["-c", str(_config(tmp_path, port)), "--enable-source", "k8s_audit"],
                           tmp_path / "lanner.log")
    try:
        _wait_port(port, lanner)
        assert _post(port, body) == 200
        assert lanner.wait_alert(lambda a: a.get("rule") == AUDIT_RULE, 15) is not None, lanner.describe()
        progs, _ = bpf_ids(lanner.proc.pid)
        assert not progs, f"syscall source not enabled, yet BPF programs are loaded: {progs}"
        rc = lanner.stop()
    finally:
        lanner.kill()
    assert rc == 0, lanner.describe()
    assert "Enabled event sources: k8s_audit\n" in lanner.log()


def test_enable_unknown_source_is_fatal(tmp_path):
    port = free_port()
    p = subprocess.run([sys.executable, "-m", "lanner", "-c", str(_config(tmp_path, port)),
                        "--enable-source", "nosuchsource"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1, (p.returncode, p.stderr[-2000:])
    assert "Error: Attempted enabling an unknown event source: nosuchsource" in p.stderr
    assert not _port_open(port)
