"""Generic event fields (``evt.num``, ``evt.time*``, ``evt.source`` ...): every event source has them.

The class has ``sources=()`` so plugin-source rules (k8s_audit, aws_cloudtrail) can use these and only
these ``evt.*`` fields; syscall-only ``evt.*`` fields live in :mod:`lanner.fields.evt`.
"""

from __future__ import annotations

import time
from typing import Any

from lanner.events.base import PluginEvent
from lanner.events.syscall import SyscallEvent
from lanner.fields import types as ft
from lanner.fields.registry import NSFRAC, Extractor, FieldClass, fdef, simple_binder

ASYNC_EVENT_TYPE = 402
_NS = 1_000_000_000


class GenericContext:
    """What generic fields need beyond the event: the host name and the stream's first timestamp."""

    def __init__(self, hostname: str = "", plugin_info: dict[str, Any] | None = None) -> None:
        self.hostname = hostname
        self.first_ts: int | None = None
        # plugin name -> function(event) -> summary line, for evt.plugininfo
        self.plugin_info: dict[str, Any] = dict(plugin_info or {})

    def info(self, e: SyscallEvent | PluginEvent) -> str | None:
        fn = self.plugin_info.get(getattr(e, "plugin", "") or "")
        return fn(e) if fn is not None else None


def _local(ns: int, fmt: str) -> str:
    return time.strftime(fmt, time.localtime(ns // _NS))


def fmt_time(ns: int) -> str:
    return f"{_local(ns, '%H:%M:%S')}.{ns % _NS:09d}"


def fmt_iso8601(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // _NS)) + f".{ns % _NS:09d}+0000"


def fmt_datetime(ns: int) -> str:
    return f"{_local(ns, '%Y-%m-%d %H:%M:%S')}.{ns % _NS:09d}"


def _asynctype(e: SyscallEvent | PluginEvent) -> str | None:
    if getattr(e, "type", None) != ASYNC_EVENT_TYPE or not hasattr(e, "params"):
        return None
    p = e.params
    return p[1] if len(p) > 1 and p[1] is not None else None


def generic_class(ctx: GenericContext | None = None) -> FieldClass:
    ctx = ctx or GenericContext()

    def rel(e: SyscallEvent | PluginEvent) -> int:
        if ctx.first_ts is None:
            ctx.first_ts = e.ts
        return e.ts - ctx.first_ts

    f: dict[str, Extractor] = {
        "evt.num": lambda e: e.num,
        "evt.time": lambda e: fmt_time(e.ts),
        "evt.time.s": lambda e: _local(e.ts, "%H:%M:%S"),
        "evt.time.iso8601": lambda e: fmt_iso8601(e.ts),
        "evt.datetime": lambda e: fmt_datetime(e.ts),
        "evt.datetime.s": lambda e: _local(e.ts, "%Y-%m-%d %H:%M:%S"),
        "evt.rawtime": lambda e: e.ts,
        "evt.rawtime.s": lambda e: e.ts // _NS,
        "evt.rawtime.ns": lambda e: e.ts % _NS,
        "evt.reltime": rel,
        "evt.reltime.s": lambda e: rel(e) // _NS,
        "evt.reltime.ns": lambda e: rel(e) % _NS,
        "evt.source": lambda e: e.source,
        "evt.hostname": lambda e: ctx.hostname or None,
        "evt.pluginname": lambda e: getattr(e, "plugin", None) or None,
        "evt.plugininfo": ctx.info,
        "evt.is_async": lambda e: getattr(e, "type", None) == ASYNC_EVENT_TYPE,
        "evt.asynctype": _asynctype,
    }
    fields = [
        fdef("evt.num", ft.UINT64, "event number"),
        fdef("evt.time", ft.CHARBUF, "event timestamp as a time string with nanoseconds"),
        fdef("evt.time.s", ft.CHARBUF, "event timestamp as a time string with no nanoseconds"),
        fdef("evt.time.iso8601", ft.CHARBUF, "event timestamp in ISO 8601 format (UTC)"),
        fdef("evt.datetime", ft.CHARBUF, "event timestamp as a date/time string with nanoseconds"),
        fdef("evt.datetime.s", ft.CHARBUF, "event timestamp as a date/time string with no nanoseconds"),
        fdef("evt.rawtime", ft.ABSTIME, "absolute event timestamp, nanoseconds since epoch"),
        fdef("evt.rawtime.s", ft.ABSTIME, "integer part of the event timestamp"),
        fdef("evt.rawtime.ns", ft.ABSTIME, "fractional part of the absolute event timestamp", flags=[NSFRAC]),
        fdef("evt.reltime", ft.RELTIME, "nanoseconds from the start of the capture"),
        fdef("evt.reltime.s", ft.RELTIME, "seconds from the start of the capture"),
        fdef("evt.reltime.ns", ft.RELTIME, "fractional part (ns) of the time from the start of the capture",
             flags=[NSFRAC]),
        fdef("evt.source", ft.CHARBUF, "name of the source that produced the event"),
        fdef("evt.hostname", ft.CHARBUF, "hostname of the underlying host"),
        fdef("evt.pluginname", ft.CHARBUF, "name of the plugin that generated the event"),
        fdef("evt.plugininfo", ft.CHARBUF, "summary of the event as formatted by the plugin"),
        fdef("evt.is_async", ft.BOOL, "true for asynchronous events"),
        fdef("evt.asynctype", ft.CHARBUF, "type of an asynchronous event (missing otherwise)"),
    ]

    def factory(name: str):
        fn = f[name]
        return lambda arg: fn

    return FieldClass("evt", "Generic event fields (every event source)", (), fields,
                      simple_binder({name: factory(name) for name in f}))
