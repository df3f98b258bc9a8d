"""A small synthetic event source and field class for exercising the rules engine end to end without
any real event source: every field reads a value from the event's ``values`` dict."""

from __future__ import annotations

import ipaddress
from typing import Any

from lanner.events.base import Event
from lanner.fields import registry as reg
from lanner.fields import types as ft

SOURCE = "syscall"


class SynthEvent(Event):
    __slots__ = ("values",)

    def __init__(self, num: int = 1, ts: int = 1_700_000_000_123_456_789, type_: int = 3,
                 source: str = SOURCE, **values: Any) -> None:
        super().__init__(num, ts, source, type_)
        self.values = {k.replace("__", "."): v for k, v in values.items()}
        self.values.setdefault("evt.type", "open")


_FIELDS = [
    reg.fdef("test.str", ft.CHARBUF, "a string"),
    reg.fdef("test.path", ft.FSPATH, "a path"),
    reg.fdef("test.num", ft.INT64, "a signed number"),
    reg.fdef("test.u32", ft.UINT32, "an unsigned number"),
    reg.fdef("test.u64", ft.UINT64, "an unsigned number"),
    reg.fdef("test.port", ft.PORT, "a port"),
    reg.fdef("test.double", ft.DOUBLE, "a double"),
    reg.fdef("test.bool", ft.BOOL, "a boolean"),
    reg.fdef("test.buf", ft.BYTEBUF, "a buffer"),
    reg.fdef("test.ip", ft.IPADDR, "an IP address"),
    reg.fdef("test.net", ft.IPNET, "an IP tested against networks", flags=(reg.FILTER_ONLY, reg.NO_RHS)),
    reg.fdef("test.either", ft.IPADDR, "one of two IPs", flags=(reg.FILTER_ONLY, reg.NO_RHS)),
    reg.fdef("test.list", ft.CHARBUF, "a list", is_list=True, arg=reg.ARG_OPTIONAL, arg_kind="index"),
    reg.fdef("test.anc", ft.CHARBUF, "ancestors", arg=reg.ARG_OPTIONAL, arg_kind="index",
             flags=(reg.ANY_ANCESTOR, reg.NO_RHS, reg.NO_TRANSFORMER)),
    reg.fdef("test.keyed", ft.CHARBUF, "keyed", arg=reg.ARG_REQUIRED, arg_kind="key"),
    reg.fdef("test.arg", ft.CHARBUF, "dotted", arg=reg.ARG_REQUIRED, dotted_arg=True),
    reg.fdef("test.str2", ft.CHARBUF, "another string"),
    reg.fdef("evt.type", ft.CHARBUF, "event type"),
    reg.fdef("evt.num", ft.UINT64, "event number"),
    reg.fdef("evt.time", ft.CHARBUF, "time"),
    reg.fdef("proc.name", ft.CHARBUF, "process name"),
    reg.fdef("fd.name", ft.CHARBUF, "fd name"),
    reg.fdef("container.id", ft.CHARBUF, "container id", flags=(reg.SUGGESTED,)),
]


def _bind(f: reg.FieldDef, arg: str | None) -> reg.Extractor:
    name = f.name
    if name == "evt.num":
        return lambda e: e.num
    if name == "test.anc":
        if arg is None:
            return lambda e: e.values.get("test.anc")
        i = int(arg)
        return lambda e: (e.values.get("test.anc") or [None] * (i + 1))[i] if len(
            e.values.get("test.anc") or []) > i else None
    if name == "test.list" and arg is not None:
        i = int(arg)
        return lambda e: [e.values["test.list"][i]] if len(e.values.get("test.list") or []) > i else None
    if arg is not None:
        key = f"{name}[{arg}]"
        return lambda e: e.values.get(key)
    if name in ("test.net", "test.either"):
        return lambda e: e.values.get(name)
    return lambda e: e.values.get(name)


CLASS = reg.FieldClass("test", "synthetic test fields", (SOURCE, "other"), _FIELDS, _bind)


def registry() -> reg.FieldRegistry:
    return reg.FieldRegistry([CLASS])


def ip(s: str) -> Any:
    return ipaddress.ip_address(s)
