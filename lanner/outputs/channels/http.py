"""``http_output``: POST every alert's message to one URL (libcurl behaviour of Falco).

The HTTP status is not checked (Falco accepts 4xx/5xx silently). A *timeout* is retried up to
``max_consecutive_timeouts`` more times. ``compress_uploads`` asks for a compressed response
(``TE: gzip``), the body stays plain, as in Falco. lanner adds ``connect_timeout_ms`` and ``timeout_ms``
(both default 10000; 0 = none, libcurl's default) so a hanging server is cut. The channel runs on its own
worker (see :mod:`lanner.outputs.channels.worker`): a refused connection is retried twice with backoff,
and at most 10,000 alerts wait for a receiver that is down.
"""

from __future__ import annotations

import re
import sys
from typing import BinaryIO

from lanner.core.alert import Alert
from lanner.core.errors import HttpError
from lanner.outputs.channels.base import Channel, ChannelError
from lanner.outputs.httpclient import HttpClient, TlsOptions, redact_url

_ESCAPE = re.compile(r"\\(.)")
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r"}


def unquote_url(url: str) -> str:
    """Strip matching surrounding quotes and decode backslash escapes inside them."""
    u = url.strip()
    if len(u) >= 2 and u[0] == u[-1] and u[0] in "\"'":
        return _ESCAPE.sub(lambda m: _SIMPLE.get(m.group(1), m.group(1)), u[1:-1])
    return u


class HttpChannel(Channel):
    name = "http"
    retries = 2                 # connection refused/reset: two more attempts (a timeout retries in deliver)
    queue_capacity = 10000      # a receiver that is down must not grow memory without bound

    def __init__(self, url: str, *, json_output: bool = False, user_agent: str = "falcosecurity/falco",
                 tls: TlsOptions | None = None, echo: bool = False, compress_uploads: bool = False,
                 keep_alive: bool = False, max_consecutive_timeouts: int = 5,
                 connect_timeout: float | None = 10.0, timeout: float | None = 10.0,
                 echo_stream: BinaryIO | None = None) -> None:
        if not url:
            raise ChannelError("http output enabled but no url in configuration block")
        self.url = unquote_url(url)
        self.headers = {
            "Content-Type": "application/json" if json_output else "text/plain",
            "User-Agent": user_agent,
        }
        if compress_uploads:
            self.headers["TE"] = "gzip"
            self.headers["Connection"] = "TE"
        self.echo = echo
        self.max_timeouts = max(0, min(255, int(max_consecutive_timeouts)))
        self._echo_stream = echo_stream
        self.client = HttpClient(tls=tls or TlsOptions(), connect_timeout=connect_timeout, timeout=timeout,
                                 keepalive_probes=keep_alive)
        self.last_status = 0

    def deliver(self, alert: Alert, msg: str) -> None:
        body = msg.encode("utf-8", "replace")
        for attempt in range(self.max_timeouts + 1):
            try:
                resp = self.client.request("POST", self.url, body, self.headers)
            except HttpError as e:
                if e.timeout and attempt < self.max_timeouts:
                    continue
                err = ChannelError(f"libcurl failed to perform call: {e} ({redact_url(self.url)})")
                err.final = e.timeout       # timeouts were already retried max_consecutive_timeouts times
                raise err from None
            self.last_status = resp.status
            if self.echo:
                out = self._echo_stream or sys.stdout.buffer
                out.write(resp.body)
                out.flush()
            return

    def close(self) -> None:
        self.client.close()
