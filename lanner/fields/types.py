"""Field value types, as Falco names them, and how each is represented in Python.

Representation (what an extractor returns; ``None`` always means "no value for this event"):
- integers of every width, ``RELTIME``, ``ABSTIME``, ``PORT``, flags, mode -> ``int``
- ``DOUBLE`` -> ``float``; ``BOOL`` -> ``bool``
- ``CHARBUF``/``FSPATH``/``FSRELPATH`` -> ``str`` (bytes decoded as UTF-8 with ``surrogateescape``)
- ``BYTEBUF`` -> ``bytes``
- ``IPADDR`` -> ``ipaddress.IPv4Address``/``IPv6Address``; ``IPNET`` -> ``ipaddress.ip_network``
- list-valued fields -> ``list``/``tuple`` of the element representation (empty = missing)
"""

from __future__ import annotations

INT8, INT16, INT32, INT64 = "INT8", "INT16", "INT32", "INT64"
UINT8, UINT16, UINT32, UINT64 = "UINT8", "UINT16", "UINT32", "UINT64"
RELTIME, ABSTIME, DOUBLE, BOOL = "RELTIME", "ABSTIME", "DOUBLE", "BOOL"
CHARBUF, FSPATH, FSRELPATH, BYTEBUF = "CHARBUF", "FSPATH", "FSRELPATH", "BYTEBUF"
IPADDR, IPNET, PORT = "IPADDR", "IPNET", "PORT"
ERRNO, FD, PID = "ERRNO", "FD", "PID"
FLAGS8, FLAGS16, FLAGS32, MODE = "FLAGS8", "FLAGS16", "FLAGS32", "MODE"
SYSCALLID = "SYSCALLID"

SIGNED = frozenset({INT8, INT16, INT32, INT64, ERRNO, FD, PID})
UNSIGNED = frozenset({UINT8, UINT16, UINT32, UINT64, RELTIME, ABSTIME, PORT, FLAGS8, FLAGS16, FLAGS32,
                      MODE, SYSCALLID})
NUMERIC = SIGNED | UNSIGNED | {DOUBLE}
STRING = frozenset({CHARBUF, FSPATH, FSRELPATH})
IP = frozenset({IPADDR, IPNET})
ALL = NUMERIC | STRING | IP | {BOOL, BYTEBUF}

# Bit width used to wrap/truncate numeric literals to the field's own width (condition-language 6.2).
WIDTH = {
    INT8: 8, INT16: 16, INT32: 32, INT64: 64, ERRNO: 64, FD: 64, PID: 64,
    UINT8: 8, UINT16: 16, UINT32: 32, UINT64: 64, RELTIME: 64, ABSTIME: 64, PORT: 16,
    FLAGS8: 8, FLAGS16: 16, FLAGS32: 32, MODE: 32, SYSCALLID: 16,
}


def kind(t: str) -> str:
    """Coarse class of a type used by operator checks: numeric, bool, string, buffer, ip."""
    if t in NUMERIC:
        return "numeric"
    if t == BOOL:
        return "bool"
    if t in STRING:
        return "string"
    if t == BYTEBUF:
        return "buffer"
    if t in IP:
        return "ip"
    raise ValueError(f"unknown field type {t}")
