"""HTTP/1.1 over a unix stream socket, with the standard library only.

The Docker Engine API and podman's compatible API listen on unix sockets; ``http.client`` only needs its
``connect`` replaced. Every call is bounded by a timeout so a hung runtime cannot stall a worker forever.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from typing import Any

from lanner.core.errors import HttpError


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


def get_json(path: str, url: str, timeout: float) -> Any:
    """GET ``url`` from the server on unix socket ``path`` and decode its JSON body."""
    conn = UnixHTTPConnection(path, timeout)
    try:
        conn.request("GET", url, headers={"Host": "localhost", "Accept": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status // 100 != 2:
        raise HttpError(f"GET {url} on {path}: HTTP {resp.status}: {body[:200]!r}", status=resp.status)
    try:
        return json.loads(body)
    except ValueError as e:
        raise HttpError(f"GET {url} on {path}: answer is not JSON: {e}", status=resp.status) from None


def stream_json_lines(path: str, url: str, connect_timeout: float,
                      read_timeout: float | None) -> tuple[UnixHTTPConnection, Iterator[Any]]:
    """Open a long-lived GET (``/events``) and yield one decoded JSON object per line.

    Returns a ``(connection, generator)`` pair so the caller can close the connection to stop it.
    """
    conn = UnixHTTPConnection(path, connect_timeout)
    conn.request("GET", url, headers={"Host": "localhost"})
    resp = conn.getresponse()
    if resp.status // 100 != 2:
        body = resp.read()
        conn.close()
        raise HttpError(f"GET {url} on {path}: HTTP {resp.status}: {body[:200]!r}", status=resp.status)
    if conn.sock is not None:
        conn.sock.settimeout(read_timeout)

    def lines() -> Iterator[Any]:
        buf = b""
        while True:
            chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(1)
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.strip()
                if line:
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue

    return conn, lines()
