"""An HTTP server that idle or slow clients cannot starve: one thread per connection, bounded.

The stdlib's pooled or single-threaded servers let a handful of idle keep-alive connections occupy every
worker, so a liveness probe times out and Kubernetes restarts the agent. Here every accepted connection
gets its own (daemon) thread, up to ``max_connections``; beyond that a new connection is closed at once
instead of queueing behind the others. Each connection's socket has a read timeout (``idle_timeout``),
so an idle or trickling client is dropped after that long without a byte, and the listen backlog is
``backlog`` (the stdlib's default is 5). TLS handshakes happen in the connection's thread, under the
same timeout. Used by the webserver (``/healthz``, ``/metrics``) and the k8saudit webhook.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_MAX_CONNECTIONS = 512
DEFAULT_IDLE_TIMEOUT_S = 10.0
DEFAULT_BACKLOG = 1024


class BoundedHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a connection cap, a per-connection read timeout and a real backlog."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    request_queue_size = DEFAULT_BACKLOG
    max_connections = DEFAULT_MAX_CONNECTIONS
    idle_timeout = DEFAULT_IDLE_TIMEOUT_S

    def __init__(self, address: Any, handler: type[BaseHTTPRequestHandler]) -> None:
        self._active = 0
        self._active_lock = threading.Lock()
        self.refused = 0
        super().__init__(address, handler)

    @property
    def active_connections(self) -> int:
        return self._active

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._active_lock:
            if self._active >= self.max_connections:
                self.refused += 1
                full = True
            else:
                self._active += 1
                full = False
        if full:
            self.shutdown_request(request)
            return
        try:
            request.settimeout(self.idle_timeout)
            super().process_request(request, client_address)
        except Exception:
            self._release()
            self.shutdown_request(request)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self) -> None:
        with self._active_lock:
            self._active -= 1

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass   # a client that hangs up or times out mid-request is not worth a traceback

    def shutdown_request(self, request: Any) -> None:
        try:
            request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_request(request)


def media_type(content_type: str | None) -> str:
    """``application/json; charset=utf-8`` -> ``application/json`` (lower case, parameters dropped)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()
