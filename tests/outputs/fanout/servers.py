"""Helpers for the fan-out target tests: free loopback ports, waiting for a server, running a pipeline."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterable

from lanner.config import Config
from lanner.core.alert import Alert
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


def run(targets: list[dict], alerts: Iterable[Alert]) -> OutputPipeline:
    """A pipeline with only these fan-out targets; every alert submitted, then closed (drained)."""
    p = OutputPipeline.from_config(Config(data={"fanout": targets}), AlertFormatter(hostname="node1"))
    for a in alerts:
        p.submit(a)
    p.close()
    return p


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
