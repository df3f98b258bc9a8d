"""falcosidekick's ``logstash`` output: sidekick's alert JSON, one per line (CRLF), over TCP or TLS to Logstash's
``tcp`` input with the ``json_lines`` codec.

As sidekick: output field names with an index (``proc.aname[2]``) become ``proc.aname.2`` (Logstash refuses
brackets), the ``tags`` option is appended to the alert's tags. Options: ``address``, ``port``, ``tls``,
``insecure``/``ca_cert``/``client_cert``/``client_key`` (sidekick's ``checkcert``/``mutualtls``/
``cacertfile``/``certfile``/``keyfile``), ``tags``, ``timeout_ms``. The connection stays open; a broken one is
re-opened on the next alert (the worker retries).
"""

from __future__ import annotations

import re
import socket
import ssl
from typing import Any

import orjson

from lanner.core.alert import Alert
from lanner.core.errors import HttpError
from lanner.outputs.fanout.base import PermanentError, Target, TransientError
from lanner.outputs.fanout.extras import flag, tls_options
from lanner.outputs.fanout.falcopayload import as_json

_INDEX = re.compile(r"\[(\d+)\]")


class LogstashTarget(Target):
    type_name = "logstash"
    required = ("address", "port")

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        try:
            self.address = (str(options["address"]), int(options["port"]))
        except (TypeError, ValueError):
            raise ValueError(f"port must be a number, not {options.get('port')!r}") from None
        self.tls = flag(options, "tls", False) or flag(options, "mutualtls", False) or bool(options.get("client_cert"))
        self.timeout = float(options.get("timeout_ms", 5000)) / 1000
        tags = options.get("tags") or []
        self.tags = [t.strip() for t in (tags.split(",") if isinstance(tags, str) else tags) if str(t).strip()]
        self._ctx: ssl.SSLContext | None = None
        if self.tls:
            try:
                self._ctx = tls_options(options).context()
            except HttpError as e:
                raise ValueError(f"TLS settings: {e}") from None
        self._sock: socket.socket | None = None

    def line(self, event: dict[str, Any], alert: Alert) -> bytes:
        body = as_json(event, alert)
        body["output_fields"] = {_INDEX.sub(r".\1", k): v for k, v in body["output_fields"].items()}
        if self.tags:
            body["tags"] = [*body.get("tags", []), *self.tags]
        return orjson.dumps(body) + b"\r\n"

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        data = self.line(event, alert)
        try:
            if self._sock is None:
                sock = socket.create_connection(self.address, self.timeout)
                if self._ctx is not None:
                    sock = self._ctx.wrap_socket(sock, server_hostname=self.address[0])
                self._sock = sock
            self._sock.sendall(data)
        except ssl.SSLCertVerificationError as e:
            self.close()
            raise PermanentError(f"logstash {self.address[0]}:{self.address[1]}: {e}") from None
        except OSError as e:
            self.close()
            raise TransientError(f"logstash {self.address[0]}:{self.address[1]}: {e}") from None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
