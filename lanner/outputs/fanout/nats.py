"""NATS target: core-protocol ``PUB`` of the JSON alert, confirmed by ``PING``/``PONG``.

Options: ``address`` (default ``127.0.0.1:4222``), ``subject`` (template, default
``falco.{priority}.{rule}``; ``{priority}`` lower-case, ``{rule}`` slugified), ``user``/``password``
or ``token`` (each also as ``*_env``), ``tls``.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from lanner.core.alert import Alert
from lanner.outputs.fanout.base import PermanentError, Target, TransientError
from lanner.outputs.fanout.redis import split_hostport
from lanner.outputs.fanout.sockbase import Conn
from lanner.version import LANNER_VERSION

_SLUG = re.compile(r"[^a-z0-9_-]+")


def slug(s: str) -> str:
    return _SLUG.sub("_", s.lower()).strip("_") or "_"


class NatsTarget(Target):
    type_name = "nats"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        host, port = split_hostport(str(options.get("address", "127.0.0.1:4222")), 4222)
        self.conn = Conn(host, port, timeout=float(options.get("timeout_ms", 5000)) / 1000,
                         tls=bool(options.get("tls", False)), options=options)
        self.subject = str(options.get("subject", "falco.{priority}.{rule}"))

    def _expect(self, want: bytes) -> None:
        while True:
            line = self.conn.readline()
            if line.startswith(b"PING"):
                self.conn.send(b"PONG\r\n")
                continue
            if line.startswith(b"INFO") or line == b"+OK":
                continue
            if line.startswith(b"-ERR"):
                self.conn.close()
                msg = line[4:].strip().decode("utf-8", "replace")
                if "authorization" in msg.lower() or "permissions" in msg.lower():
                    raise PermanentError(f"nats: {msg}")
                raise TransientError(f"nats: {msg}")
            if line.startswith(want):
                return

    def _handshake(self) -> None:
        info = self.conn.readline()
        if not info.startswith(b"INFO"):
            self.conn.close()
            raise TransientError(f"nats: unexpected greeting {info[:40]!r}")
        c: dict[str, Any] = {"verbose": False, "pedantic": False, "lang": "python-lanner",
                             "version": LANNER_VERSION, "protocol": 1, "name": f"lanner-{self.name}"}
        if self.options.get("user"):
            c["user"] = str(self.options["user"])
            c["pass"] = str(self.options.get("password", ""))
        if self.options.get("token"):
            c["auth_token"] = str(self.options["token"])
        self.conn.send(b"CONNECT " + orjson.dumps(c) + b"\r\nPING\r\n")
        self._expect(b"PONG")

    def subject_for(self, alert: Alert) -> str:
        return self.subject.replace("{priority}", alert.priority.canonical.lower()).replace("{rule}", slug(alert.rule))

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        if self.conn.open():
            self._handshake()
        body = orjson.dumps(event, default=str, option=orjson.OPT_SORT_KEYS)
        self.conn.send(b"PUB %s %d\r\n%s\r\nPING\r\n" % (self.subject_for(alert).encode(), len(body), body))
        self._expect(b"PONG")

    def close(self) -> None:
        self.conn.close()
