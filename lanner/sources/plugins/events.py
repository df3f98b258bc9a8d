"""Events across the plugin boundary, in libscap's layout (``ss_plugin_event``).

A packed 26-byte header (ts u64, tid u64, len u32, type u16, nparams u32), the parameter lengths
(u16 each, u32 for large-payload types such as ``pluginevent`` 322 and ``asyncevent`` 402), then the
parameter values. Plugin events carry ``plugin_id`` (u32) and ``event_data``; any other type is a
syscall-model event and becomes a ``SyscallEvent`` with its raw parameters.
"""

from __future__ import annotations

import ctypes as C
import struct
from typing import Any

from lanner.events import table as T
from lanner.events.base import PLUGIN_EVENT_TYPE, Event, PluginEvent
from lanner.events.syscall import SyscallEvent

_HDR = struct.Struct("<QQIHI")
_U64_MAX = (1 << 64) - 1


def encode_event(e: SyscallEvent | PluginEvent, plugin_id: int = 0) -> Any:
    """``e`` as a C buffer a plugin can read (kept alive by the caller for as long as it is used)."""
    if isinstance(e, PluginEvent):
        pid = e.plugin_id or plugin_id
        raw = [struct.pack("<I", pid), e.data]
        etype, tid, large = PLUGIN_EVENT_TYPE, _U64_MAX, True
    else:
        raw = e.raw
        etype, tid = e.type, e.tid & _U64_MAX
        large = T.EVENTS[etype].large
    n = len(raw)
    lens = struct.pack(f"<{n}{'I' if large else 'H'}", *map(len, raw)) if n else b""
    body = lens + b"".join(raw)
    data = _HDR.pack(e.ts & _U64_MAX, tid, _HDR.size + len(body), etype, n) + body
    return C.create_string_buffer(data, len(data))


def decode_event(ptr: Any, num: int, source: str, plugin: str, plugin_id: int, now_ns: int) -> Event:
    """The event a plugin handed over at ``ptr``; ValueError names what is malformed."""
    if not ptr:
        raise ValueError("null event pointer")
    addr = ptr if isinstance(ptr, int) else C.cast(ptr, C.c_void_p).value
    if not addr:
        raise ValueError("null event pointer")
    ts, tid, ln, etype, nparams = _HDR.unpack(C.string_at(addr, _HDR.size))
    if ln < _HDR.size or ln > 1 << 30:
        raise ValueError(f"invalid event length {ln}")
    if etype >= len(T.EVENTS) or not T.EVENTS[etype].name or T.EVENTS[etype].name == "NA":
        raise ValueError(f"unknown event type {etype}")
    info = T.EVENTS[etype]
    width = 4 if info.large else 2
    if nparams > 64 or _HDR.size + nparams * width > ln:
        raise ValueError(f"{nparams} parameters do not fit in {ln} bytes")
    data = C.string_at(addr, ln)
    lens = struct.unpack_from(f"<{nparams}{'I' if width == 4 else 'H'}", data, _HDR.size)
    off = _HDR.size + nparams * width
    if off + sum(lens) > ln:
        raise ValueError(f"parameters of {sum(lens)} bytes overrun the event length {ln}")
    raw = []
    for n in lens:
        raw.append(data[off:off + n])
        off += n
    if ts == _U64_MAX:
        ts = now_ns
    if etype == PLUGIN_EVENT_TYPE:
        if nparams < 2 or len(raw[0]) != 4:
            raise ValueError("a plugin event needs plugin_id (u32) and event_data")
        pid = struct.unpack("<I", raw[0])[0] or plugin_id
        return PluginEvent(num, ts, source, raw[1], plugin=plugin, plugin_id=pid)
    stid = tid - (1 << 64) if tid >= 1 << 63 else tid
    return SyscallEvent(num, ts, stid, etype, raw)
