"""Redis streams target: ``XADD <key> [MAXLEN ~ n] * field value …`` over RESP.

Options: ``address`` (``host:port``, default ``127.0.0.1:6379``), ``username``, ``password``
(or ``password_env``), ``database``, ``key`` (default ``falco``), ``maxlen`` (approximate trim),
``tls``. Entry fields: ``rule``, ``priority``, ``source``, ``hostname``, ``time``, ``output`` and
``payload`` (the full JSON alert).
"""

from __future__ import annotations

from typing import Any

import orjson

from lanner.core.alert import Alert
from lanner.outputs.fanout.base import PermanentError, Target
from lanner.outputs.fanout.sockbase import Conn


def encode_command(*args: Any) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode("utf-8", "replace")
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def split_hostport(address: str, default_port: int) -> tuple[str, int]:
    a = address.strip()
    for prefix in ("redis://", "nats://", "tcp://", "kafka://"):
        a = a.removeprefix(prefix)
    if a.startswith("["):
        host, _, rest = a[1:].partition("]")
        return host, int(rest.lstrip(":") or default_port)
    host, sep, port = a.rpartition(":")
    if not sep:
        return a, default_port
    try:
        return host, int(port)
    except ValueError:
        raise PermanentError(f"invalid address {address!r}: port must be a number") from None


class RedisTarget(Target):
    type_name = "redis"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        host, port = split_hostport(str(options.get("address", "127.0.0.1:6379")), 6379)
        self.conn = Conn(host, port, timeout=float(options.get("timeout_ms", 5000)) / 1000,
                         tls=bool(options.get("tls", False)), options=options)
        self.key = str(options.get("key", "falco"))

    def _reply(self) -> Any:
        line = self.conn.readline()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            msg = rest.decode("utf-8", "replace")
            raise PermanentError(f"redis error: {msg}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.conn.readexact(n + 2)[:-2]
            return data
        if kind == b"*":
            return [self._reply() for _ in range(max(0, int(rest)))]
        self.conn.close()
        raise PermanentError(f"redis: unexpected reply {line[:40]!r}")

    def command(self, *args: Any) -> Any:
        self.conn.send(encode_command(*args))
        return self._reply()

    def _handshake(self) -> None:
        try:
            if self.options.get("password"):
                if self.options.get("username"):
                    self.command("AUTH", self.options["username"], self.options["password"])
                else:
                    self.command("AUTH", self.options["password"])
            if int(self.options.get("database", 0)):
                self.command("SELECT", int(self.options["database"]))
        except PermanentError:
            self.conn.close()
            raise

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        if self.conn.open():
            self._handshake()
        args: list[Any] = ["XADD", self.key]
        if self.options.get("maxlen"):
            args += ["MAXLEN", "~", int(self.options["maxlen"])]
        args += ["*", "rule", alert.rule, "priority", event["priority"], "source", event["source"],
                 "hostname", event["hostname"], "time", event["time"], "output", event["output"],
                 "payload", orjson.dumps(event, default=str, option=orjson.OPT_SORT_KEYS)]
        self.command(*args)

    def close(self) -> None:
        self.conn.close()
