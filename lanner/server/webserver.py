"""The embedded webserver (``webserver.*``): ``/healthz``, ``/versions`` and Prometheus ``/metrics``.

A stdlib HTTP/1.1 server with one thread per connection, bounded (see :mod:`lanner.httpserver`), so idle
or slow clients can never starve a health check; ``webserver.threadiness`` is read for compatibility
but does not limit anything. Optionally over TLS with one PEM file holding certificate and key. Health is
served from start; ``/metrics`` only once :meth:`WebServer.enable_metrics` is called (Falco registers it
after the event sources are open) and only if metrics are enabled; anything else is 404.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import orjson

from lanner import version
from lanner.config import Config, ConfigError
from lanner.core.errors import LannerError
from lanner.httpserver import DEFAULT_IDLE_TIMEOUT_S, BoundedHTTPServer
from lanner.server.metrics import MetricsRegistry

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4"


class WebServerError(LannerError):
    """The webserver could not start; the message is the ``falco_webserver: <reason>`` log line."""


@dataclass
class WebServerConfig:
    enabled: bool = False
    listen_address: str = "0.0.0.0"
    listen_port: int = 8765
    threadiness: int = 0
    k8s_healthz_endpoint: str = "/healthz"
    ssl_enabled: bool = False
    ssl_certificate: str = "/etc/falco/falco.pem"
    prometheus_metrics_enabled: bool = False

    @classmethod
    def from_config(cls, cfg: Config) -> WebServerConfig:
        """Read ``webserver.*`` with Falco's code defaults; ConfigError naming the key if invalid."""
        c = cls(
            enabled=cfg.bool("webserver.enabled", False),
            listen_address=cfg.str("webserver.listen_address", "0.0.0.0").strip(),
            listen_port=cfg.int("webserver.listen_port", 8765),
            threadiness=cfg.int("webserver.threadiness", 0),
            k8s_healthz_endpoint=cfg.str("webserver.k8s_healthz_endpoint", "/healthz"),
            ssl_enabled=cfg.bool("webserver.ssl_enabled", False),
            ssl_certificate=cfg.str("webserver.ssl_certificate", "/etc/falco/falco.pem"),
            prometheus_metrics_enabled=cfg.bool("webserver.prometheus_metrics_enabled", False),
        )
        try:
            ipaddress.ip_address(c.listen_address)
        except ValueError:
            raise ConfigError(f'webserver listen address "{c.listen_address}" is not a valid IP address') from None
        if not 0 <= c.listen_port <= 65535:
            raise ConfigError(f"key 'webserver.listen_port': {c.listen_port} is not a valid port")
        if c.threadiness < 0:
            raise ConfigError(f"key 'webserver.threadiness': expected an unsigned integer, got {c.threadiness}")
        return c


def versions_document(plugin_versions: Mapping[str, str] | None = None,
                      driver_version: str | None = None) -> bytes:
    """The ``/versions`` body: compact JSON, keys sorted; ``plugin_versions`` only when plugins are loaded."""
    doc: dict[str, Any] = {
        "default_driver_version": driver_version or getattr(version, "DRIVER_VERSION",
                                                            version.DRIVER_API_VERSION + "+driver"),
        "driver_api_version": version.DRIVER_API_VERSION,
        "driver_schema_version": version.DRIVER_SCHEMA_VERSION,
        "engine_version": str(version.ENGINE_VERSION[1]),
        "engine_version_semver": version.ENGINE_VERSION_STR,
        "falco_version": version.FALCO_COMPAT_VERSION,
        "libs_version": version.LIBS_COMPAT_VERSION,
        "plugin_api_version": version.PLUGIN_API_VERSION,
    }
    if plugin_versions:
        doc["plugin_versions"] = dict(plugin_versions)
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


class _Server(BoundedHTTPServer):
    """One thread per connection (bounded), read timeout, real backlog: see :mod:`lanner.httpserver`."""

    app: WebServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "lanner"
    timeout = DEFAULT_IDLE_TIMEOUT_S

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _send(self, status: int, body: bytes, ctype: str | None) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:
        app = self.server.app
        path = urlsplit(self.path).path
        if path == app.config.k8s_healthz_endpoint:
            self._send(200, b'{"status": "ok"}', "application/json")
        elif path == "/versions":
            self._send(200, app.versions, "application/json")
        elif path == "/metrics" and app.metrics_registry is not None and app.metrics_enabled:
            self._send(200, app.metrics_registry.render_prometheus().encode(), PROMETHEUS_CONTENT_TYPE)
        elif (mount := next((h for p, h in app.mounts.items() if path.startswith(p)), None)) is not None:
            status, hdrs, body = mount(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, b"")
            self.send_response(status)
            for k, v in hdrs:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        else:
            self._send(404, b"", None)

    do_HEAD = do_GET


class WebServer:
    """Start/stop wrapper; ``metrics`` is the registry ``/metrics`` renders (None = no metrics)."""

    def __init__(self, config: WebServerConfig, *, plugin_versions: Mapping[str, str] | None = None,
                 metrics: MetricsRegistry | None = None, metrics_allowed: bool = False,
                 driver_version: str | None = None, mounts: Mapping[str, Any] | None = None) -> None:
        self.config = config
        self.mounts = dict(mounts or {})   # path prefix -> handler(method, target, headers, body) (the console)
        self.versions = versions_document(plugin_versions, driver_version)
        self.metrics_registry = metrics
        self.metrics_allowed = metrics_allowed and config.prometheus_metrics_enabled
        self.metrics_enabled = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise WebServerError("falco_webserver: not started")
        return int(self._server.server_address[1])

    def start(self) -> None:
        c = self.config
        family = socket.AF_INET6 if ":" in c.listen_address else socket.AF_INET

        class Server(_Server):
            address_family = family

        try:
            srv = Server((c.listen_address, c.listen_port), _Handler)
        except OSError as e:
            raise WebServerError(f"falco_webserver: cannot bind {c.listen_address}:{c.listen_port}: "
                                 f"{e.strerror}") from None
        if c.ssl_enabled:
            try:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(c.ssl_certificate, c.ssl_certificate)
            except (OSError, ssl.SSLError) as e:
                srv.server_close()
                raise WebServerError(f"falco_webserver: cannot load ssl_certificate {c.ssl_certificate}: {e}") from None
            srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
        srv.app = self
        self._server = srv
        self._thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="webserver", daemon=True)
        self._thread.start()

    def enable_metrics(self) -> None:
        """Register ``/metrics`` (called once the event sources are open)."""
        self.metrics_enabled = self.metrics_allowed

    def stop(self) -> None:
        srv, self._server = self._server, None
        if srv is None:
            return
        srv.shutdown()
        srv.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


def plugin_versions_of(plugins: Any) -> dict[str, str]:
    return {p.name: p.version for p in plugins}

