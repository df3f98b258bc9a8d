"""``fd.*`` fields: the descriptor the event refers to (event-model 6)."""

from __future__ import annotations

import socket
from functools import lru_cache
from typing import Any

from lanner.events import table as T
from lanner.fields import types as ft
from lanner.fields.registry import (
    ARG_OPTIONAL,
    FILTER_ONLY,
    HEX,
    Extractor,
    FieldClass,
    FieldDef,
    fdef,
)
from lanner.state import fds as F

_FD_FLAGS = T.EF_CREATES_FD | T.EF_USES_FD | T.EF_DESTROYS_FD


@lru_cache(maxsize=1024)
def _service(port: int, proto: str) -> str:
    try:
        return socket.getservbyport(port, proto)
    except (OSError, OverflowError):
        return str(port)


def _ip_fd(e: Any) -> F.FdInfo | None:
    f = e.fd
    return f if f is not None and f.type in F.IP_TYPES else None


def _cip(f: F.FdInfo) -> Any:
    return None if f.type in F.SERVER_TYPES else f.sip


def _local_is_server(f: F.FdInfo) -> bool:
    return f.role == F.ROLE_SERVER


def fd_class() -> FieldClass:
    def fdv(fn):
        def get(e: Any) -> Any:
            f = e.fd
            return fn(f) if f is not None else None
        return get

    def ipv(fn):
        def get(e: Any) -> Any:
            f = _ip_fd(e)
            return fn(f) if f is not None else None
        return get

    def name(e: Any) -> str | None:
        f = e.fd
        if f is not None:
            return f.name
        return "" if e.info.flags & _FD_FLAGS else None

    def directory(e: Any) -> str | None:
        f = e.fd
        if f is None:
            return None
        if f.type == F.DIRECTORY:
            return f.name
        if f.type in (F.FILE, F.FILE_V2):
            return F.dirname(f.name) if f.name else None
        return None

    def filename(e: Any) -> str | None:
        f = e.fd
        if f is None or f.type not in (F.FILE, F.FILE_V2) or not f.name:
            return None
        return F.basename(f.name)

    def proto(f: F.FdInfo, which: str) -> str | None:
        p = F.L4NAME.get(f.l4)
        if p not in ("tcp", "udp"):
            return None
        port = {"c": f.sport, "s": f.dport}[which]
        return _service(port, p) if port else None

    def lr(f: F.FdInfo, local: bool, what: str) -> Any:
        server_side = _local_is_server(f) == local
        if server_side:
            return f.dip if what == "ip" else f.dport
        if f.type in F.SERVER_TYPES:
            return None
        return f.sip if what == "ip" else f.sport

    def lr_proto(f: F.FdInfo, local: bool) -> str | None:
        server_side = _local_is_server(f) == local
        return proto(f, "s" if server_side else "c")

    def types(arg: str | None) -> Extractor:
        def get(e: Any) -> Any:
            t = e.thread
            if t is None:
                return None
            if arg is None:
                return sorted({F.TYPENAME.get(f.type, "<NA>") for f in t.group.fds.values()}) or None
            f = t.group.fds.get(int(arg))
            return [F.TYPENAME.get(f.type, "<NA>")] if f is not None else None
        return get

    def container_prefixed(fn):
        def get(e: Any) -> Any:
            v = fn(e)
            t = e.thread
            if v is None or t is None:
                return None
            return f"{t.container_id or 'host'}:{v}"
        return get

    simple: dict[str, Extractor] = {
        "fd.num": lambda e: e.fdnum if e.info.flags & _FD_FLAGS else None,
        "fd.type": fdv(lambda f: F.TYPENAME.get(f.type)),
        "fd.typechar": fdv(lambda f: f.typechar),
        "fd.name": name,
        "fd.uid": lambda e: f"{e.thread.tid}{e.fdnum}" if e.thread is not None and e.fdnum is not None
        and e.fd is not None else None,
        "fd.directory": directory,
        "fd.filename": filename,
        "fd.nameraw": fdv(lambda f: f.nameraw or (f.name if f.type not in F.FILE_TYPES else None)),
        "fd.containername": container_prefixed(name),
        "fd.containerdirectory": container_prefixed(directory),
        "fd.ip": ipv(lambda f: tuple(x for x in (_cip(f), f.dip) if x is not None)),
        "fd.cip": ipv(_cip),
        "fd.sip": ipv(lambda f: f.dip),
        "fd.lip": ipv(lambda f: lr(f, True, "ip")),
        "fd.rip": ipv(lambda f: lr(f, False, "ip")),
        "fd.port": ipv(lambda f: tuple(x for x in ((None if f.type in F.SERVER_TYPES else f.sport), f.dport)
                                       if x is not None)),
        "fd.cport": ipv(lambda f: None if f.type in F.SERVER_TYPES else f.sport),
        "fd.sport": ipv(lambda f: f.dport),
        "fd.lport": ipv(lambda f: lr(f, True, "port")),
        "fd.rport": ipv(lambda f: lr(f, False, "port")),
        "fd.l4proto": ipv(lambda f: F.L4NAME.get(f.l4)),
        "fd.sockfamily": fdv(lambda f: "ip" if f.type in F.IP_TYPES else "unix" if f.type == F.UNIX_SOCK else None),
        "fd.is_server": fdv(lambda f: f.role == F.ROLE_SERVER),
        "fd.proto": ipv(lambda f: tuple(x for x in (proto(f, "c"), proto(f, "s")) if x is not None)),
        "fd.cproto": ipv(lambda f: proto(f, "c")),
        "fd.sproto": ipv(lambda f: proto(f, "s")),
        "fd.lproto": ipv(lambda f: lr_proto(f, True)),
        "fd.rproto": ipv(lambda f: lr_proto(f, False)),
        "fd.net": ipv(lambda f: tuple(x for x in (_cip(f), f.dip) if x is not None)),
        "fd.cnet": ipv(lambda f: tuple(x for x in (_cip(f),) if x is not None)),
        "fd.snet": ipv(lambda f: (f.dip,) if f.dip is not None else ()),
        "fd.lnet": ipv(lambda f: tuple(x for x in (lr(f, True, "ip"),) if x is not None)),
        "fd.rnet": ipv(lambda f: tuple(x for x in (lr(f, False, "ip"),) if x is not None)),
        "fd.connected": ipv(lambda f: f.connected),
        "fd.name_changed": lambda e: bool(e.cache.get("__fd_name_changed", False)) if e.fd is not None else None,
        "fd.cip.name": lambda e: None,
        "fd.sip.name": lambda e: None,
        "fd.lip.name": lambda e: None,
        "fd.rip.name": lambda e: None,
        "fd.dev": fdv(lambda f: f.dev),
        "fd.dev.major": fdv(lambda f: f.dev >> 20),
        "fd.dev.minor": fdv(lambda f: f.dev & 0xFFFFF),
        "fd.ino": fdv(lambda f: f.ino),
        "fd.is_upper_layer": fdv(lambda f: bool(f.openflags & 0x8000)),
        "fd.is_lower_layer": fdv(lambda f: bool(f.openflags & 0x10000)),
    }
    S = ft.CHARBUF
    fo = [FILTER_ONLY]
    fields = [
        fdef("fd.num", ft.INT64, "number of the fd the event refers to"),
        fdef("fd.type", S, "type of the fd (file, directory, ipv4, ipv6, unix, pipe ...)"),
        fdef("fd.typechar", S, "type of the fd as one letter"),
        fdef("fd.name", S, "full name of the fd (path, connection tuple ...)"),
        fdef("fd.uid", S, "unique id of the fd: thread id + fd number"),
        fdef("fd.directory", S, "directory of a file fd"),
        fdef("fd.filename", S, "file name (last path component) of a file fd"),
        fdef("fd.nameraw", S, "path of a file fd as passed by the process"),
        fdef("fd.containername", S, "container id + ':' + fd.name"),
        fdef("fd.containerdirectory", S, "container id + ':' + fd.directory"),
        fdef("fd.ip", ft.IPADDR, "client or server IP (filter only)", flags=fo),
        fdef("fd.cip", ft.IPADDR, "client IP"),
        fdef("fd.sip", ft.IPADDR, "server IP"),
        fdef("fd.lip", ft.IPADDR, "local IP"),
        fdef("fd.rip", ft.IPADDR, "remote IP"),
        fdef("fd.port", ft.PORT, "client or server port (filter only)", flags=fo),
        fdef("fd.cport", ft.PORT, "client port"),
        fdef("fd.sport", ft.PORT, "server port"),
        fdef("fd.lport", ft.PORT, "local port"),
        fdef("fd.rport", ft.PORT, "remote port"),
        fdef("fd.l4proto", S, "IP protocol: tcp, udp, icmp or raw"),
        fdef("fd.sockfamily", S, "ip or unix for socket fds"),
        fdef("fd.is_server", ft.BOOL, "true if the process is the server end of the connection"),
        fdef("fd.proto", S, "client or server protocol (filter only)", flags=fo),
        fdef("fd.cproto", S, "client protocol (service name of the port)"),
        fdef("fd.sproto", S, "server protocol (service name of the port)"),
        fdef("fd.lproto", S, "local protocol"),
        fdef("fd.rproto", S, "remote protocol"),
        fdef("fd.net", ft.IPNET, "client or server IP within a network (filter only)", flags=fo),
        fdef("fd.cnet", ft.IPNET, "client IP within a network (filter only)", flags=fo),
        fdef("fd.snet", ft.IPNET, "server IP within a network (filter only)", flags=fo),
        fdef("fd.lnet", ft.IPNET, "local IP within a network (filter only)", flags=fo),
        fdef("fd.rnet", ft.IPNET, "remote IP within a network (filter only)", flags=fo),
        fdef("fd.connected", ft.BOOL, "true if the socket is connected"),
        fdef("fd.name_changed", ft.BOOL, "true when this event changed the fd name"),
        fdef("fd.cip.name", S, "domain name of the client IP (DNS tracking not available)"),
        fdef("fd.sip.name", S, "domain name of the server IP (DNS tracking not available)"),
        fdef("fd.lip.name", S, "domain name of the local IP (DNS tracking not available)"),
        fdef("fd.rip.name", S, "domain name of the remote IP (DNS tracking not available)"),
        fdef("fd.dev", ft.UINT32, "device number of the file", flags=[HEX]),
        fdef("fd.dev.major", ft.UINT32, "major device number"),
        fdef("fd.dev.minor", ft.UINT32, "minor device number"),
        fdef("fd.ino", ft.INT64, "inode number of the file"),
        fdef("fd.types", S, "types of the process's open fds, or of fd N", arg=ARG_OPTIONAL, arg_kind="index",
             is_list=True),
        fdef("fd.is_upper_layer", ft.BOOL, "true if the file is in an overlayfs upper layer"),
        fdef("fd.is_lower_layer", ft.BOOL, "true if the file is in an overlayfs lower layer"),
    ]

    def bind(f: FieldDef, arg: str | None) -> Extractor:
        if f.name == "fd.types":
            return types(arg)
        return simple[f.name]

    return FieldClass("fd", "File descriptor information", ("syscall",), fields, bind)
