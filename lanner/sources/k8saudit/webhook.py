"""The audit webhook: an HTTP(S) endpoint the Kubernetes API server posts audit events to.

Opened by the k8saudit source from an open_params URL (``http://:9765/k8s-audit``,
``https://0.0.0.0:9765/k8s-audit``): its own listener, as the k8saudit plugin does, separate from the
``webserver.*`` endpoints. Only ``POST <path>`` with a JSON content type and a body of at most
``webhookMaxBatchSize`` bytes is accepted; the body (Event, EventList or array) is parsed in the request
thread so the client learns at once whether it was accepted:

====================================  ======
condition                             status
====================================  ======
accepted (bad events skipped, each    200
named in the body and on_error)
other path                            404
method other than POST                405
bearer token configured, not given     401
content type not application/json     400
body larger than the limit            413
body not JSON / not audit events      400
event queue full for 5 s              503
====================================  ======

Every failure is answered and logged; the server keeps serving. Connections are served by
:class:`lanner.httpserver.BoundedHTTPServer` (one thread each, bounded, 10 s read timeout), so idle or slow
clients cannot starve the others. lanner's own init_config keys add authentication: ``webhookBearerToken``
(or ``webhookBearerTokenFile``) requires ``Authorization: Bearer <token>``; ``webhookClientCA`` (https
only) requires a client certificate signed by that CA (mTLS).
"""

from __future__ import annotations

import hmac
import queue
import re
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from lanner.httpserver import DEFAULT_IDLE_TIMEOUT_S, BoundedHTTPServer, media_type
from lanner.sources.api import SourceError
from lanner.sources.k8saudit.parse import (
    DEFAULT_MAX_BATCH_SIZE,
    DEFAULT_MAX_EVENT_SIZE,
    AuditParseError,
    AuditRecord,
    loads,
    split_events,
    to_records,
)

QUEUE_TIMEOUT_S = 5.0


@dataclass
class CustomFieldHeader:
    """``customFieldsHeaders`` entry: copy an HTTP header (or regex groups of it) into every event."""

    header: str
    fields: list[str]
    pattern: re.Pattern[str] | None = None

    def values(self, headers: Any) -> dict[str, str]:
        v = headers.get(self.header)
        if v is None:
            return {}
        if self.pattern is None:
            return {self.fields[0]: v} if self.fields else {}
        m = self.pattern.search(v)
        if not m:
            return {}
        return {name: g for name, g in zip(self.fields, m.groups(), strict=False) if g is not None}


@dataclass
class WebhookStats:
    requests: int = 0
    rejected: int = 0
    events: int = 0
    event_errors: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookAddress:
    scheme: str
    host: str
    port: int
    path: str


def parse_url(url: str) -> WebhookAddress:
    """Split a k8saudit open_params URL; SourceError naming the parameter when it is unusable."""
    try:
        u = urlsplit(url.strip())
        port = u.port
    except ValueError as e:
        raise SourceError(f"k8saudit: invalid open_params {url!r}: {e}") from None
    if u.scheme not in ("http", "https"):
        raise SourceError(f'k8saudit: scheme "{u.scheme}" is not supported')
    if port is None:
        port = 443 if u.scheme == "https" else 80
    return WebhookAddress(u.scheme, u.hostname or "", port, u.path or "/")


class _Server(BoundedHTTPServer):
    webhook: AuditWebhook


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = DEFAULT_IDLE_TIMEOUT_S
    server_version = "lanner-k8saudit"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _reply(self, status: int, text: str = "") -> None:
        wh = self.server.webhook
        wh._count(status)
        body = (text + "\n").encode() if text else b""
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if status >= 400 and status != 404:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _not_post(self) -> None:
        if urlsplit(self.path).path != self.server.webhook.address.path:
            self._reply(404, "404 page not found")
        else:
            self._reply(405, f"{self.command} method not allowed")

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_post

    def do_POST(self) -> None:
        try:
            self._post()
        except (OSError, ssl.SSLError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001 - a request must never take the listener down unanswered
            self.server.webhook.on_error(f"webhook request from {self.client_address[0]}: internal error: "
                                         f"{type(e).__name__}: {e}")
            self._reply(500, "internal error")

    def _post(self) -> None:
        wh = self.server.webhook
        if urlsplit(self.path).path != wh.address.path:
            self._reply(404, "404 page not found")
            return
        if wh.bearer_token is not None and not self._authorized(wh.bearer_token):
            wh.on_error(f"webhook request from {self.client_address[0]}: missing or wrong bearer token")
            self._reply(401, "unauthorized")
            return
        if media_type(self.headers.get("Content-Type")) != "application/json":
            self._reply(400, "wrong Content Type")
            return
        body = self._read_body(wh.max_batch_size)
        if body is None:
            return
        try:
            events = split_events(loads(body))
        except AuditParseError as e:
            wh.on_error(f"webhook request from {self.client_address[0]}: {e}")
            self._reply(400, f"bad request: {e}")
            return
        extra: dict[str, str] = {}
        for cf in wh.custom_fields:
            extra.update(cf.values(self.headers))
        if extra:
            events = [{**ev, **extra} for ev in events]
        skipped: list[str] = []

        def bad_event(msg: str) -> None:
            skipped.append(msg)
            wh._event_error(msg)

        records = to_records(events, wh.max_event_size, bad_event, f"webhook request from {self.client_address[0]}: ")
        if not wh._enqueue(records):
            self._reply(503, "event queue full")
            return
        if skipped:
            lines = [m.split(": ", 1)[1] if ": " in m else m for m in skipped]
            self._reply(200, f"accepted {len(records)} events, skipped {len(skipped)}:\n" + "\n".join(lines))
            return
        self._reply(200)

    def _authorized(self, token: bytes) -> bool:
        got = self.headers.get("Authorization", "")
        scheme, _, value = got.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token)

    def _read_body(self, limit: int) -> bytes | None:
        te = self.headers.get("Transfer-Encoding", "").lower()
        if "chunked" in te:
            return self._read_chunked(limit)
        cl = self.headers.get("Content-Length")
        if cl is None:
            self._reply(411, "length required")
            return None
        try:
            n = int(cl)
            if n < 0:
                raise ValueError
        except ValueError:
            self._reply(400, "bad request: invalid Content-Length")
            return None
        if n > limit:
            self.server.webhook.on_error(
                f"webhook request from {self.client_address[0]}: body of {n} bytes exceeds webhookMaxBatchSize={limit}")
            self._drain(n)
            self._reply(413, "bad request: http: request body too large")
            return None
        data = self.rfile.read(n)
        if len(data) != n:
            self.close_connection = True
            return None
        return data

    def _drain(self, n: int) -> None:
        """Read (and drop) a refused body, up to 16 MiB, so the client sees the answer, not a reset."""
        left = min(n, 16 << 20)
        while left > 0:
            got = self.rfile.read(min(left, 65536))
            if not got:
                break
            left -= len(got)

    def _read_chunked(self, limit: int) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self._reply(400, "bad request: invalid chunk")
                return None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass
                return b"".join(parts)
            total += size
            if total > limit:
                self._reply(413, "bad request: http: request body too large")
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline(16)


class AuditWebhook:
    """One webhook listener; events come out of :meth:`get` in arrival order."""

    def __init__(self, url: str, *, ssl_certificate: str = "/etc/falco/falco.pem",
                 max_batch_size: int = DEFAULT_MAX_BATCH_SIZE, max_event_size: int = DEFAULT_MAX_EVENT_SIZE,
                 on_error: Callable[[str], None] = lambda msg: None,
                 custom_fields: list[CustomFieldHeader] | None = None, queue_size: int = 10000,
                 bearer_token: str | None = None, client_ca: str | None = None) -> None:
        self.address = parse_url(url)
        self.ssl_certificate = ssl_certificate
        self.max_batch_size = max_batch_size
        self.max_event_size = max_event_size
        self.on_error = on_error
        self.custom_fields = custom_fields or []
        self.bearer_token = bearer_token.encode() if bearer_token else None
        self.client_ca = client_ca or None
        if self.client_ca and self.address.scheme != "https":
            raise SourceError("k8saudit: webhookClientCA (mTLS) needs an https:// open_params URL")
        self.stats = WebhookStats()
        self._lock = threading.Lock()
        self._queue: queue.Queue[AuditRecord] = queue.Queue(queue_size)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle --
    def start(self) -> None:
        a = self.address
        host = a.host
        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        class Server(_Server):
            address_family = family

        try:
            srv = Server((host, a.port), _Handler)
        except OSError as e:
            raise SourceError(f"k8saudit: cannot listen on {host or '0.0.0.0'}:{a.port}: {e.strerror}") from None
        srv.webhook = self
        if a.scheme == "https":
            try:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(self.ssl_certificate, self.ssl_certificate)
            except (OSError, ssl.SSLError) as e:
                srv.server_close()
                raise SourceError(f"k8saudit: cannot load sslCertificate {self.ssl_certificate}: {e}") from None
            if self.client_ca:
                try:
                    ctx.load_verify_locations(cafile=self.client_ca)
                except (OSError, ssl.SSLError) as e:
                    srv.server_close()
                    raise SourceError(f"k8saudit: cannot load webhookClientCA {self.client_ca}: {e}") from None
                ctx.verify_mode = ssl.CERT_REQUIRED
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
        self._server = srv
        self._thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="k8saudit-webhook", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        srv, self._server = self._server, None
        if srv is not None:
            srv.shutdown()
            srv.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    @property
    def bound_port(self) -> int:
        """The port actually listened on (useful with port 0)."""
        if self._server is None:
            raise SourceError("k8saudit: webhook not started")
        return int(self._server.server_address[1])

    # -- events --
    def get(self, timeout: float) -> AuditRecord | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _enqueue(self, records: list[AuditRecord]) -> bool:
        try:
            for r in records:
                self._queue.put(r, timeout=QUEUE_TIMEOUT_S)
        except queue.Full:
            self.on_error("webhook: event queue full, request rejected")
            return False
        with self._lock:
            self.stats.events += len(records)
        return True

    def _event_error(self, msg: str) -> None:
        with self._lock:
            self.stats.event_errors += 1
        self.on_error(msg)

    def _count(self, status: int) -> None:
        with self._lock:
            self.stats.requests += 1
            if status >= 400:
                self.stats.rejected += 1
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
