"""``syslog_output``: syslog(3) semantics, spoken directly to the local syslog socket.

Written instead of using the ``syslog`` module so the socket path is configurable (tests use their
own listener) and failures are visible. The datagram is what glibc sends when no ``openlog`` was
called: ``<PRI>Mmm dd hh:mm:ss ident: msg`` with PRI = facility | priority, no PID, no newline;
a stream socket gets a NUL terminator. Falco always uses facility ``user``; ``syslog_output.facility``
is a lanner extension.
"""

from __future__ import annotations

import errno
import socket
import time

from lanner.core.alert import Alert
from lanner.outputs.channels.base import Channel, ChannelError

FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
    "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
    **{f"local{i}": 16 + i for i in range(8)},
}


def facility_code(name: str) -> int:
    """Facility number from its name (``user``, ``local0`` … ``LOG_LOCAL0`` too)."""
    n = str(name).strip().lower().removeprefix("log_")
    if n not in FACILITIES:
        raise ChannelError(f"syslog_output.facility: unknown facility '{name}' (one of {', '.join(FACILITIES)})")
    return FACILITIES[n]


def syslog_packet(facility: int, priority: int, ident: str, msg: str, now: float | None = None) -> bytes:
    stamp = time.strftime("%b %e %H:%M:%S", time.localtime(time.time() if now is None else now))
    return f"<{facility * 8 + priority}>{stamp} {ident}: {msg}".encode("utf-8", "replace")


class SyslogChannel(Channel):
    name = "syslog"

    def __init__(self, *, socket_path: str = "/dev/log", facility: str = "user", ident: str = "falco") -> None:
        self.socket_path = socket_path
        self.facility = facility_code(facility)
        self.ident = ident
        self._sock: socket.socket | None = None
        self._stream = False

    def _connect(self) -> socket.socket:
        last: OSError | None = None
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_UNIX, kind)
            try:
                s.connect(self.socket_path)
                self._stream = kind == socket.SOCK_STREAM
                return s
            except OSError as e:
                s.close()
                last = e
        raise ChannelError(f"cannot connect to syslog socket {self.socket_path}: {last.strerror if last else ''}")

    def deliver(self, alert: Alert, msg: str) -> None:
        pkt = syslog_packet(self.facility, int(alert.priority), self.ident, msg)
        for attempt in (0, 1):
            if self._sock is None:
                self._sock = self._connect()
            try:
                if self._stream:
                    self._sock.sendall(pkt + b"\0")
                else:
                    try:
                        self._sock.send(pkt)
                    except OSError as e:
                        if e.errno != errno.EMSGSIZE:
                            raise
                        self._sock.send(pkt[:2048])
                return
            except OSError as e:
                self.close()
                if attempt:
                    raise ChannelError(f"cannot send to syslog socket {self.socket_path}: {e.strerror}") from None

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None
