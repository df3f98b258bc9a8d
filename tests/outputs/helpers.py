"""Loopback receivers and fixtures for the output tests: certificates, a recording HTTP(S) server."""

from __future__ import annotations

import http.server
import json
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanner.core.alert import Alert
from lanner.core.priority import Priority


def make_alert(n: int = 0, priority: Priority = Priority.WARNING, rule: str = "Test rule",
               source: str = "syscall") -> Alert:
    return Alert(time_ns=1_767_621_801_123_456_789 + n, rule=rule, priority=priority, source=source,
                 message=f"alert number {n} proc=bash", output_fields={"proc.name": "bash", "n": n},
                 tags=("shell", "container"), hostname="node1")


@dataclass
class Pki:
    dir: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_pki(d: Path) -> Pki:
    """A test CA, a server cert for 127.0.0.1/localhost, a client cert, and an unrelated CA."""
    d.mkdir(parents=True, exist_ok=True)
    ext = d / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for ca in ("ca", "other"):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", str(d / f"{ca}.key"), "-out", str(d / f"{ca}.crt"), "-days", "2",
                 "-subj", f"/CN=lanner test {ca}")
    for who in ("server", "client"):
        _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-keyout", str(d / f"{who}.key"), "-out", str(d / f"{who}.csr"), "-subj", f"/CN={who}")
        _openssl("x509", "-req", "-in", str(d / f"{who}.csr"), "-CA", str(d / "ca.crt"), "-CAkey",
                 str(d / "ca.key"), "-CAcreateserial", "-out", str(d / f"{who}.crt"), "-days", "2",
                 "-extfile", str(ext))
    return Pki(d, d / "ca.crt", d / "server.crt", d / "server.key", d / "client.crt", d / "client.key",
               d / "other.crt")


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_cert: Any = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Behaviour:
    status: int = 200
    delay: float = 0.0
    response: bytes = b"ok"
    fail_first: int = 0          # answer 503 to the first N requests


@dataclass
class RecordingServer:
    """A threaded HTTP(S) server on 127.0.0.1 that records every request."""

    tls: ssl.SSLContext | None = None
    behaviour: Behaviour = field(default_factory=Behaviour)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _handle(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                cert = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
                b = rec.behaviour
                with rec.lock:
                    idx = len(rec.requests)
                    rec.requests.append(Request(self.command, self.path, dict(self.headers.items()), body, cert))
                if b.delay:
                    time.sleep(b.delay)
                status = 503 if idx < b.fail_first else b.status
                self.send_response(status)
                self.send_header("Content-Length", str(len(b.response)))
                self.end_headers()
                self.wfile.write(b.response)

            do_POST = do_PUT = do_GET = _handle

        self.lock = threading.Lock()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if self.tls is not None:
            self.httpd.socket = self.tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def wait_for(self, n: int, timeout: float = 30.0) -> list[Request]:
        end = time.monotonic() + timeout
        while time.monotonic() < end and len(self.requests) < n:
            time.sleep(0.01)
        return list(self.requests)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def server_tls(pki: Pki, require_client: bool = False) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    if require_client:
        ctx.load_verify_locations(cafile=str(pki.ca))
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
