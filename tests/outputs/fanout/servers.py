"""Helpers for the fan-out target tests: free loopback ports, waiting for a server, running a pipeline,
a one-connection TCP (or TLS) receiver."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
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


def tcp_receiver(ctx: ssl.SSLContext | None = None, sep: bytes = b"\n",
                 count: int = 1) -> tuple[socket.socket, list[bytes], threading.Thread]:
    """A loopback listener whose thread takes one connection (TLS with ``ctx``) and keeps what arrives
    until ``count`` separators ``sep`` (or the peer closes) in ``got``: (listener, got, thread)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(30)
    got: list[bytes] = []

    def accept() -> None:
        conn, _ = srv.accept()
        if ctx is not None:
            conn = ctx.wrap_socket(conn, server_side=True)
        conn.settimeout(30)
        buf = b""
        while buf.count(sep) < count:
            chunk = conn.recv(65536)
            if not chunk:
                break
            buf += chunk
        got.append(buf)
        conn.close()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    return srv, got, t


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
