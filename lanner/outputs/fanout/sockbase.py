"""A persistent TCP (optionally TLS) connection for line/length-framed protocols (Redis, NATS, Kafka)."""

from __future__ import annotations

import socket
import ssl
from typing import Any

from lanner.outputs.fanout.base import TransientError
from lanner.outputs.fanout.httpbase import tls_from


class Conn:
    def __init__(self, host: str, port: int, *, timeout: float, tls: bool = False,
                 options: dict[str, Any] | None = None) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.tls = tls
        self.options = options or {}
        self.sock: socket.socket | None = None
        self._buf = b""

    def open(self) -> bool:
        """Connect if needed; True when a new connection was made (caller then handshakes)."""
        if self.sock is not None:
            return False
        try:
            s = socket.create_connection((self.host, self.port), timeout=self.timeout)
            if self.tls:
                s = tls_from(self.options).context().wrap_socket(s, server_hostname=self.host)
        except (OSError, ssl.SSLError) as e:
            raise TransientError(f"cannot connect to {self.host}:{self.port}: {e}") from None
        self.sock = s
        self._buf = b""
        return True

    def send(self, data: bytes) -> None:
        assert self.sock is not None
        try:
            self.sock.sendall(data)
        except OSError as e:
            self.close()
            raise TransientError(f"{self.host}:{self.port}: send failed: {e}") from None

    def _fill(self) -> None:
        assert self.sock is not None
        try:
            chunk = self.sock.recv(65536)
        except OSError as e:
            self.close()
            raise TransientError(f"{self.host}:{self.port}: receive failed: {e}") from None
        if not chunk:
            self.close()
            raise TransientError(f"{self.host}:{self.port}: connection closed by peer")
        self._buf += chunk

    def readline(self) -> bytes:
        while b"\r\n" not in self._buf:
            self._fill()
        line, _, self._buf = self._buf.partition(b"\r\n")
        return line

    def readexact(self, n: int) -> bytes:
        while len(self._buf) < n:
            self._fill()
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self._buf = b""
