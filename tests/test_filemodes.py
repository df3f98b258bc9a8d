"""Files and sockets lanner creates get explicit modes, whatever the umask (issue 19 item 5): alert files,
metrics snapshots and the pidfile 0600, the gRPC unix socket 0660 by default; configurable; an existing
file keeps its mode."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from lanner.config import Config, ConfigError
from lanner.filemodes import parse_mode
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from tests.outputs.helpers import make_alert


def mode(p: Path | str) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0)          # the worst case: nothing masked
    yield
    os.umask(old)


def pipeline(cfg: dict) -> OutputPipeline:
    return OutputPipeline.from_config(Config(data=cfg), AlertFormatter(hostname="h"))


def test_file_output_created_0600(tmp_path: Path, open_umask: None) -> None:
    f = tmp_path / "alerts.txt"
    p = pipeline({"file_output": {"enabled": True, "filename": str(f)}})
    p.submit(make_alert())
    p.close()
    assert mode(f) == 0o600 and f.read_text().count("\n") == 1


def test_file_mode_configurable_and_existing_file_kept(tmp_path: Path, open_umask: None) -> None:
    f = tmp_path / "alerts.txt"
    p = pipeline({"file_output": {"enabled": True, "filename": str(f)}, "security": {"file_mode": "0640"}})
    p.submit(make_alert())
    p.close()
    assert mode(f) == 0o640
    os.chmod(f, 0o604)
    p = pipeline({"file_output": {"enabled": True, "filename": str(f)}})
    p.submit(make_alert())
    p.close()
    assert mode(f) == 0o604 and f.read_text().count("\n") == 2


@pytest.mark.parametrize("value,expected", [("0600", 0o600), ("640", 0o640), (384, 0o600), (640, 0o640),
                                            (None, 0o600)])
def test_parse_mode(value: object, expected: int) -> None:
    assert parse_mode(value, "security.file_mode", 0o600) == expected


def test_bad_mode_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="security.file_mode"):
        pipeline({"file_output": {"enabled": True, "filename": str(tmp_path / "a")},
                  "security": {"file_mode": "rw-r--r--"}})


def test_grpc_unix_socket_0660(open_umask: None) -> None:
    with tempfile.TemporaryDirectory(prefix="lg") as d:
        sock = f"{d}/falco.sock"
        p = pipeline({"grpc": {"enabled": True, "bind_address": f"unix://{sock}", "threadiness": 1}})
        try:
            assert stat.S_ISSOCK(os.stat(sock).st_mode) and mode(sock) == 0o660
        finally:
            p.close()


def test_pidfile_and_metrics_file_0600(tmp_path: Path) -> None:
    pid = tmp_path / "lanner.pid"
    metrics = tmp_path / "metrics.json"
    rules = tmp_path / "r.yaml"
    rules.write_text("- rule: r\n  desc: d\n  condition: ka.verb = create\n  output: o\n  priority: INFO\n"
                     "  source: k8s_audit\n")
    cmd = [sys.executable, "-c", "import os, sys; os.umask(0); from lanner.cli import main; sys.exit(main())",
           "-r", str(rules), "-o", "engine.kind=nodriver", "-o", "webserver.enabled=false", "--pidfile", str(pid),
           "-o", "load_plugins[0]=k8saudit", "-o", "plugins[0].name=k8saudit", "-o", "plugins[0].library_path=x.so",
           "-o", "plugins[0].open_params=http://127.0.0.1:0/k8s-audit",
           "-o", "metrics.enabled=true", "-o", "metrics.interval=1s", "-o",
           f"metrics.output_file={metrics}"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (metrics.exists() and metrics.read_text().count("\n")):
            assert p.poll() is None, p.stderr.read()[-2000:]
            time.sleep(0.1)
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err[-2000:]
    assert mode(pid) == 0o600 and pid.read_text().strip().isdigit()
    assert mode(metrics) == 0o600 and metrics.read_text().count("\n") >= 1
