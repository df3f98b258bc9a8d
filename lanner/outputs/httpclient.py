"""A small persistent HTTP(S) client on ``http.client``/``ssl``, shared by ``http_output`` and fan-out.

One client serves one worker thread, so the connection is reused between requests (as libcurl does)
and re-opened once transparently when the server closed an idle connection.

Proxies come from the environment as libcurl (Falco's HTTP client) reads them: ``http_proxy`` for http://
URLs, ``https_proxy``/``HTTPS_PROXY`` for https:// URLs (tunnelled with ``CONNECT``), ``all_proxy`` for
either, ``no_proxy``/``NO_PROXY`` (host names, domain suffixes, IPs, ``*``) to go direct; credentials in
the proxy URL are sent as ``Proxy-Authorization: Basic``; a proxy without a port is on 1080, as in curl.
"""

from __future__ import annotations

import gzip
import http.client
import os
import socket
import ssl
import zlib
from base64 import b64encode
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit
from urllib.request import getproxies_environment, proxy_bypass_environment  # type: ignore[attr-defined]

from lanner.core.errors import HttpError


@dataclass
class TlsOptions:
    """How to verify the server and, optionally, who we are (mutual TLS)."""

    insecure: bool = False
    ca_cert: str = ""
    ca_bundle: str = ""
    ca_path: str = ""
    client_cert: str = ""
    client_key: str = ""

    def context(self) -> ssl.SSLContext:
        """The client context; the CA source is the first non-empty of ca_cert, ca_bundle, ca_path."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if self.insecure:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            try:
                if self.ca_cert:
                    ctx.load_verify_locations(cafile=self.ca_cert)
                elif self.ca_bundle:
                    ctx.load_verify_locations(cafile=self.ca_bundle)
                elif self.ca_path and os.path.isdir(self.ca_path):
                    ctx.load_verify_locations(capath=self.ca_path)
                else:
                    ctx.load_default_certs()
            except (OSError, ssl.SSLError) as e:
                raise HttpError(f"cannot load CA certificates ({self.ca_cert or self.ca_bundle or self.ca_path}): {e}") from None
        if self.client_cert:
            try:
                ctx.load_cert_chain(self.client_cert, self.client_key or None)
            except (OSError, ssl.SSLError) as e:
                raise HttpError(f"cannot load client certificate {self.client_cert} / key {self.client_key}: {e}") from None
        return ctx


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…``: enough to find the target in a log, no path tokens or passwords."""
    try:
        u = urlsplit(url)
        host = u.hostname or ""
        port = f":{u.port}" if u.port else ""
        return f"{u.scheme}://{host}{port}/…"
    except ValueError:
        return "<invalid url>"


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    headers: dict[str, str]


def proxy_for(scheme: str, host: str, port: int) -> Proxy | None:
    """The proxy the environment names for this origin, or None (none set, or ``no_proxy`` matches)."""
    env = getproxies_environment()
    raw = env.get(scheme) or env.get("all")
    if not raw or proxy_bypass_environment(host, env) or proxy_bypass_environment(f"{host}:{port}", env):
        return None
    try:
        u = urlsplit(raw if "://" in raw else f"http://{raw}")
        pport = u.port or 1080
    except ValueError as e:
        raise HttpError(f"invalid {scheme} proxy in the environment: {e}") from None
    if u.scheme not in ("http", "") or not u.hostname:
        raise HttpError(f"unsupported {scheme} proxy {redact_url(raw)} (need http://host:port)")
    headers = {}
    if u.username is not None:
        cred = f"{unquote(u.username)}:{unquote(u.password or '')}".encode()
        headers["Proxy-Authorization"] = "Basic " + b64encode(cred).decode()
    return Proxy(u.hostname, pport, headers)


@dataclass
class HttpClient:
    """Persistent connection to one origin. Not thread-safe: one client per worker thread."""

    tls: TlsOptions = field(default_factory=TlsOptions)
    connect_timeout: float | None = 300.0
    timeout: float | None = None
    keepalive_probes: bool = False
    _conn: http.client.HTTPConnection | None = field(default=None, init=False, repr=False)
    _origin: tuple[str, str, int] | None = field(default=None, init=False, repr=False)
    _ctx: ssl.SSLContext | None = field(default=None, init=False, repr=False)
    _forward: Proxy | None = field(default=None, init=False, repr=False)   # plain-http proxy: absolute URIs

    def _connect(self, scheme: str, host: str, port: int) -> http.client.HTTPConnection:
        ct = self.connect_timeout
        proxy = proxy_for(scheme, host, port)
        chost, cport = (proxy.host, proxy.port) if proxy else (host, port)
        via = f" through proxy {proxy.host}:{proxy.port}" if proxy else ""
        if scheme == "https":
            if self._ctx is None:
                self._ctx = self.tls.context()
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(chost, cport, timeout=ct,
                                                                            context=self._ctx)
            if proxy:
                conn.set_tunnel(host, port, headers=proxy.headers)
        else:
            conn = http.client.HTTPConnection(chost, cport, timeout=ct)
        self._forward = proxy if proxy and scheme == "http" else None
        try:
            conn.connect()
        except TimeoutError:
            conn.close()
            raise HttpError(f"connection to {host}:{port}{via} timed out", timeout=True) from None
        except (OSError, ssl.SSLError) as e:
            conn.close()
            raise HttpError(f"cannot connect to {host}:{port}{via}: {e}") from None
        assert conn.sock is not None
        conn.sock.settimeout(self.timeout)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # as libcurl does
        if self.keepalive_probes:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        return conn

    def request(self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> Response:
        """Send one request; raises :class:`HttpError` on transport failure (not on HTTP status)."""
        try:
            u = urlsplit(url)
            scheme = u.scheme.lower()
            if scheme not in ("http", "https") or not u.hostname:
                raise HttpError(f"unsupported URL {redact_url(url)} (need http:// or https://)")
            port = u.port or (443 if scheme == "https" else 80)
        except ValueError as e:
            raise HttpError(f"invalid URL: {e}") from None
        origin = (scheme, u.hostname, port)
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        hdrs = {"Accept": "*/*"}
        if u.username is not None:
            import base64
            cred = f"{u.username}:{u.password or ''}".encode()
            hdrs["Authorization"] = "Basic " + base64.b64encode(cred).decode()
        hdrs.update(headers or {})
        for attempt in (0, 1):
            reused = self._conn is not None and self._origin == origin
            if not reused:
                self.close()
                self._conn = self._connect(*origin)
                self._origin = origin
            conn = self._conn
            assert conn is not None
            target, sent = path, hdrs
            if self._forward is not None:     # a plain-http proxy takes the absolute URI
                target = f"{scheme}://{u.netloc.rpartition('@')[2]}{path}"
                sent = {**hdrs, **self._forward.headers}
            try:
                conn.request(method, target, body=body, headers=sent)
                resp = conn.getresponse()
                data = resp.read()
            except TimeoutError:
                self.close()
                raise HttpError(f"operation timed out after {self.timeout} s", timeout=True) from None
            except (http.client.HTTPException, OSError) as e:
                self.close()
                if reused and attempt == 0:
                    continue   # the server closed the idle connection: reconnect once
                raise HttpError(f"{type(e).__name__}: {e}") from None
            rh = {k.lower(): v for k, v in resp.getheaders()}
            if resp.will_close:
                self.close()
            return Response(resp.status, rh, _decode(data, rh))
        raise HttpError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._origin = None


def _decode(data: bytes, headers: dict[str, str]) -> bytes:
    enc = (headers.get("content-encoding", "") + "," + headers.get("transfer-encoding", "")).lower()
    try:
        if "gzip" in enc:
            return gzip.decompress(data)
        if "deflate" in enc:
            return zlib.decompress(data)
    except (OSError, zlib.error, EOFError):
        return data
    return data
