"""StatsD and DogStatsD targets: a count per alert over UDP, as falcosidekick sends it.

Sidekick counts every alert it accepts as ``falco.accepted`` with the tag ``priority:<Priority>``. Plain
StatsD has no tags, so sidekick folds the tag value into the name: ``<namespace>falco.accepted.<Priority>:1|c``;
DogStatsD keeps it as a tag: ``<namespace>falco.accepted:1|c|#priority:<Priority>[,<tags>]``.

Options: ``forwarder`` (``host:port``, required), ``namespace`` (default ``falcosidekick.``), ``tags`` (a list
or a comma-separated string of ``key:value``, sent on every metric as ``|#tags``: sidekick's client does so for
both kinds). Alerts queued together go in one datagram,
one metric a line, kept under 1432 bytes (the usual safe UDP payload).
"""

from __future__ import annotations

import socket
from typing import Any

from lanner.core.alert import Alert
from lanner.outputs.fanout.base import Target, TransientError
from lanner.outputs.fanout.extras import split_hostport

MAX_DATAGRAM = 1432


class StatsdTarget(Target):
    type_name = "statsd"
    options_known = frozenset({"forwarder", "namespace", "tags"})
    max_batch = 64

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        forwarder = str(options.get("forwarder") or "")
        if not forwarder:
            raise ValueError("option 'forwarder' (host:port) is required")
        self.host, self.port = split_hostport(forwarder, 8125)
        self.namespace = str(options.get("namespace", "falcosidekick."))
        tags = options.get("tags") or []
        if isinstance(tags, str):
            tags = tags.split(",")
        if not isinstance(tags, list):
            raise ValueError("tags must be a list or a comma-separated string of key:value")
        self.tags = [str(t).strip() for t in tags if str(t).strip()]
        self.sock: socket.socket | None = None

    def line(self, event: dict[str, Any]) -> str:
        tags = f"|#{','.join(self.tags)}" if self.tags else ""
        return f"{self.namespace}falco.accepted.{str(event['priority']).replace(' ', '')}:1|c{tags}"

    def _socket(self) -> socket.socket:
        if self.sock is None:
            try:
                info = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)[0]
                s = socket.socket(info[0], socket.SOCK_DGRAM)
                s.connect(info[4])
            except OSError as e:
                raise TransientError(f"{self.type_name} {self.host}:{self.port}: {e}") from None
            self.sock = s
        return self.sock

    def send_batch(self, items: list[tuple[dict[str, Any], Alert]]) -> list[Exception | None]:
        packets: list[str] = []
        for event, _alert in items:
            line = self.line(event)
            if packets and len(packets[-1]) + 1 + len(line) <= MAX_DATAGRAM:
                packets[-1] += "\n" + line
            else:
                packets.append(line)
        try:
            s = self._socket()
            for p in packets:
                s.send(p.encode())
        except OSError as e:     # a refused earlier datagram (ICMP) shows up here
            self.close()
            return [TransientError(f"{self.type_name} {self.host}:{self.port}: {e}")] * len(items)
        except TransientError as e:
            return [e] * len(items)
        return [None] * len(items)

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        err = self.send_batch([(event, alert)])[0]
        if err is not None:
            raise err

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class DogstatsdTarget(StatsdTarget):
    type_name = "dogstatsd"

    def line(self, event: dict[str, Any]) -> str:
        tags = ",".join([f"priority:{event['priority']}", *self.tags])
        return f"{self.namespace}falco.accepted:1|c|#{tags}"
