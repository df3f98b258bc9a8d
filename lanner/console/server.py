"""The standalone console's HTTP(S) server: one thread per connection (long-poll requests wait without
starving the others), every request handed to :class:`lanner.console.web.ConsoleApp`."""

from __future__ import annotations

import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from lanner.console.web import ConsoleApp
from lanner.core.errors import LannerError


class ServerError(LannerError):
    """The server could not start (address in use, bad certificate); the message says which."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lanner-console"
    timeout = 60
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def setup(self) -> None:
        super().setup()
        try:      # headers and body are two writes: without this each reply waits for a delayed ACK
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def _serve(self) -> None:
        body = b""
        n = self.headers.get("Content-Length")
        if n:
            try:
                size = int(n)
            except ValueError:
                size = -1
            if size < 0 or size > self.server.app.max_body:
                self.send_response(413)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                return
            body = self.rfile.read(size)
        if self.path == "/healthz":
            status, hdrs, data = 200, [("Content-Type", "application/json")], b'{"status": "ok"}'
        else:
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, hdrs, data = self.server.app.handle(self.command, self.path, headers, body)
        self.send_response(status)
        for k, v in hdrs:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256          # many agents, each opening a connection per alert
    app: ConsoleApp

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class ConsoleServer:
    def __init__(self, app: ConsoleApp, address: str = "127.0.0.1", port: int = 8766, *,
                 tls_cert: str = "", tls_key: str = "") -> None:
        self.app = app
        fam = socket.AF_INET6 if ":" in address else socket.AF_INET

        class Server(_Server):
            address_family = fam

        try:
            self.httpd = Server((address, port), _Handler)
        except OSError as e:
            raise ServerError(f"cannot listen on {address}:{port}: {e.strerror}") from None
        self.httpd.app = app
        self.tls = bool(tls_cert)
        if tls_cert:
            try:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(tls_cert, tls_key or tls_cert)
            except (OSError, ssl.SSLError) as e:
                self.httpd.server_close()
                raise ServerError(f"cannot load TLS certificate {tls_cert}: {e}") from None
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="console-http", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
