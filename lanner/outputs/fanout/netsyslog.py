"""falcosidekick's ``syslog`` output: one message per alert to a remote syslog server over UDP or TCP.

The line is the one Go's ``log/syslog`` writes, as sidekick uses it: ``<PRI>RFC3339-time hostname falco[pid]: MSG``
with PRI = the alert's severity (facility 0) and a trailing newline. MSG is sidekick's alert JSON
(``format: json``, the default) or its CEF line (``format: cef``:
``CEF:0|Falcosecurity|Falco|1.0|Falco Event|<rule>|<severity 0-10>|uuid=… start=… msg=… source=… hostname=…
outputfields=k:v … tags=…``). Options: ``host``, ``port``, ``protocol`` (``udp`` or ``tcp``), ``format``,
``timeout_ms``. This is sidekick's remote syslog, not Falco's local ``syslog_output`` (a channel).
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import orjson

from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.outputs.fanout.base import Target, TransientError
from lanner.outputs.fanout.falcopayload import as_json
from lanner.outputs.fanout.gotemplate import go_str

_SEVERITY = {Priority.EMERGENCY: 0, Priority.ALERT: 1, Priority.CRITICAL: 2, Priority.ERROR: 3,
             Priority.WARNING: 4, Priority.NOTICE: 5, Priority.INFORMATIONAL: 6, Priority.DEBUG: 7}
_CEF_SEVERITY = {Priority.DEBUG: "0", Priority.INFORMATIONAL: "3", Priority.NOTICE: "4", Priority.WARNING: "6",
                 Priority.ERROR: "7", Priority.CRITICAL: "8", Priority.ALERT: "9", Priority.EMERGENCY: "10"}


def cef_line(event: dict[str, Any], alert: Alert, uuid: str) -> str:
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(alert.time_ns // 1_000_000_000))
    s = (f"CEF:0|Falcosecurity|Falco|1.0|Falco Event|{event['rule']}|{_CEF_SEVERITY[alert.priority]}|"
         f"uuid={uuid} start={start} msg={event['output']} source={event['source']}")
    if event.get("hostname"):
        s += f" hostname={event['hostname']}"
    s += " outputfields="
    fields = event.get("output_fields") or {}
    s += "".join(f"{k}:{go_str(fields[k]) if fields[k] is not None else '<nil>'} " for k in sorted(fields))
    if event.get("tags"):
        s += "tags=" + ",".join(sorted(event["tags"]))
    return s.removesuffix(" ")


class SyslogTarget(Target):
    type_name = "syslog"
    required = ("host", "port")

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self.protocol = str(options.get("protocol") or "udp").lower()
        if self.protocol not in ("udp", "tcp"):
            raise ValueError(f"protocol must be udp or tcp, not {self.protocol!r}")
        self.format = str(options.get("format") or "json").lower()
        if self.format not in ("json", "cef"):
            raise ValueError(f"format must be json or cef, not {self.format!r}")
        try:
            self.address = (str(options["host"]), int(options["port"]))
        except (TypeError, ValueError):
            raise ValueError(f"port must be a number, not {options.get('port')!r}") from None
        self.timeout = float(options.get("timeout_ms", 5000)) / 1000
        self.hostname = socket.gethostname()
        self._sock: socket.socket | None = None

    def line(self, event: dict[str, Any], alert: Alert) -> bytes:
        body = as_json(event, alert)
        msg = cef_line(event, alert, body["uuid"]) if self.format == "cef" else orjson.dumps(body).decode()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
        return f"<{_SEVERITY[alert.priority]}>{stamp} {self.hostname} falco[{os.getpid()}]: {msg}\n".encode()

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        data = self.line(event, alert)
        try:
            if self._sock is None:
                kind = socket.SOCK_DGRAM if self.protocol == "udp" else socket.SOCK_STREAM
                self._sock = socket.create_connection(self.address, self.timeout) if kind == socket.SOCK_STREAM \
                    else socket.socket(socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET, kind)
            if self.protocol == "udp":
                self._sock.sendto(data, self.address)
            else:
                self._sock.sendall(data)
        except OSError as e:
            self.close()
            raise TransientError(f"syslog {self.address[0]}:{self.address[1]} ({self.protocol}): {e}") from None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
