"""Shared plumbing for targets that speak HTTP: TLS/timeout options and status classification."""

from __future__ import annotations

from typing import Any

import orjson

from lanner.core.errors import HttpError
from lanner.outputs.fanout.base import PermanentError, Target, TransientError
from lanner.outputs.httpclient import HttpClient, Response, TlsOptions, redact_url


def tls_from(options: dict[str, Any]) -> TlsOptions:
    return TlsOptions(insecure=bool(options.get("insecure", False)), ca_cert=str(options.get("ca_cert") or ""),
                      client_cert=str(options.get("client_cert") or ""),
                      client_key=str(options.get("client_key") or ""))


class HttpTarget(Target):
    """A target posting to ``url`` (option) with optional ``headers`` (map) and basic auth."""

    required: tuple[str, ...] = ("url",)

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        timeout = float(options.get("timeout_ms", 5000)) / 1000.0
        self.client = HttpClient(tls=tls_from(options), connect_timeout=timeout, timeout=timeout)
        self.url = str(options.get("url", ""))
        self.headers = {str(k): str(v) for k, v in (options.get("headers") or {}).items()}
        self.headers.setdefault("User-Agent", str(options.get("user_agent", "lanner")))
        if options.get("username"):
            import base64
            cred = f"{options['username']}:{options.get('password', '')}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(cred).decode()

    def post(self, url: str, body: bytes, headers: dict[str, str] | None = None, method: str = "POST") -> Response:
        h = dict(self.headers)
        h.update(headers or {})
        try:
            resp = self.client.request(method, url, body, h)
        except HttpError as e:
            raise TransientError(f"{redact_url(url)}: {e}") from None
        if resp.status == 429 or resp.status >= 500:
            raise TransientError(f"{redact_url(url)}: HTTP {resp.status}")
        if resp.status >= 400:
            detail = resp.body[:200].decode("utf-8", "replace")
            raise PermanentError(f"{redact_url(url)}: HTTP {resp.status}: {detail}")
        return resp

    def post_json(self, url: str, obj: Any, headers: dict[str, str] | None = None) -> Response:
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return self.post(url, orjson.dumps(obj, default=str), h)

    def close(self) -> None:
        self.client.close()
