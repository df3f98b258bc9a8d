"""``fd.*`` fields: the descriptor the event refers to (event-model 6)."""

from __future__ import annotations

from typing import Any

from lanner.events import params as P
from lanner.events import table as T
from lanner.events.syscall import SyscallEvent
from lanner.fields import types as ft
from lanner.fields.evt import StateResolver
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


_TYPECHAR_BY_EVENT = {
    **dict.fromkeys(("openat", "openat2", "creat"), "f"),
    **dict.fromkeys(("socket", "accept", "accept4"), "4"),
    **dict.fromkeys(("pipe", "pipe2"), "p"),
    **dict.fromkeys(("eventfd", "eventfd2"), "e"),
    **dict.fromkeys(("signalfd", "signalfd4"), "s"),
    "timerfd_create": "t",
    **dict.fromkeys(("inotify_init", "inotify_init1"), "i"),
}
_NAME_PARAM1 = frozenset({"open", "creat", "accept", "accept4", "connect"})
_RESOLVER = StateResolver(None)
_SOCK_TYPES = frozenset({F.IPV4_SOCK, F.IPV6_SOCK})


def _fd_event(e: SyscallEvent) -> bool:
    """Falco reads fd fields only for fd events of a known thread."""
    return e.thread is not None and bool(e.info.flags & _FD_FLAGS)


def _name_from_event(e: SyscallEvent, raw: bool = False) -> str | None:
    """``fd.name`` of an fd event whose descriptor is not in the table (Falco's reading of the
    event's own parameters)."""
    if not e.type & 1:
        return None
    name = e.info.name
    params = e.params
    if name in _NAME_PARAM1:
        if len(params) < 2:
            return "<NA>"
        return P.render_arg(e.info.params[1], params[1], e, _RESOLVER, params)
    if name in ("openat", "openat2"):
        path = params[2] if len(params) > 2 else None
        if path is None:
            return None
        if raw:
            return path
        dirfd = params[1] if len(params) > 1 else None
        if dirfd is None:
            return None
        t = e.thread
        if path[:1] == "/":
            base = "."
        elif dirfd == P.AT_FDCWD:
            base = t.get_cwd()
        else:
            f = t.group.fds.get(dirfd)
            if f is None:
                base = "<UNKNOWN>"
            else:
                base = f.name if not f.name or f.name.endswith("/") else f.name + "/"
        return F.concat_path(base, path)
    if name == "open_by_handle_at":
        v = params[3] if len(params) > 3 else None
        return v if v is not None else ""
    return ""


def fd_class(state: Any = None) -> FieldClass:
    def ifaces() -> Any:
        return state.interfaces if state is not None else ()

    def local(e: SyscallEvent, ip: Any) -> bool:
        t = e.thread
        if t is not None and t.container_id:
            return False
        return F.is_local_address(ifaces(), ip)

    def fdv(fn):
        def get(e: SyscallEvent) -> Any:
            f = e.fd
            return fn(f) if f is not None and e.thread is not None else None
        return get

    def sockv(fn):
        """Connected-socket fields: IPv4/IPv6 sockets with a role."""
        def get(e: SyscallEvent) -> Any:
            f = e.fd
            if f is None or e.thread is None or f.type not in _SOCK_TYPES or not f.role:
                return None
            return fn(f)
        return get

    # fast paths first: the state engine sets fd/fdnum only on fd events of a known thread
    def num(e: SyscallEvent) -> Any:
        n = e.fdnum
        if n is not None:
            return n
        return -1 if _fd_event(e) else None

    def name(e: SyscallEvent) -> str | None:
        f = e.fd
        if f is not None:
            return f.name
        return _name_from_event(e) if _fd_event(e) else None

    def typechar(e: SyscallEvent) -> str | None:
        f = e.fd
        if f is not None:
            return f.typechar
        return _TYPECHAR_BY_EVENT.get(e.info.name, "o") if _fd_event(e) else None

    def directory(e: SyscallEvent) -> str | None:
        if not _fd_event(e):
            return None
        f = e.fd
        if f is None:
            s = _name_from_event(e)
            if s is None:
                return None
        elif f.type in F.FILE_TYPES:
            s = f.name
        else:
            return None
        if f is None or f.type != F.DIRECTORY:
            i = s.rfind("/")
            if i > 0:
                if i < len(s) - 1:
                    s = s[:i]
            else:
                s = "/"
        return s

    def filename(e: SyscallEvent) -> str | None:
        f = e.fd
        if f is None or e.thread is None or f.type not in (F.FILE, F.FILE_V2):
            return None
        s = f.name
        i = s.rfind("/")
        if i < 0:
            return "/"
        return s[i + 1:] if i < len(s) - 1 else s

    def nameraw(e: SyscallEvent) -> str | None:
        if not _fd_event(e):
            return None
        f = e.fd
        s = f.nameraw if f is not None else _name_from_event(e, raw=True)
        if s is None:
            return None
        while "//" in s:
            s = s.replace("//", "/")
        return s

    def proto_of(f: F.FdInfo, port: int) -> str:
        # Falco runs with port-name resolution off: the number, as text
        return str(port)

    def server_ip(f: F.FdInfo) -> Any:
        if not f.role:
            return None
        if f.type in F.SERVER_TYPES or f.type in _SOCK_TYPES:
            return f.dip
        return None

    def server_port(f: F.FdInfo) -> Any:
        if f.type in F.SERVER_TYPES:
            return f.dport
        if f.type in _SOCK_TYPES and f.role:
            return f.dport
        return None

    def lr(e: SyscallEvent, want_local: bool, port: bool) -> Any:
        f = e.fd
        if f is None or e.thread is None or f.type not in _SOCK_TYPES or not f.role:
            return None
        src_side = local(e, f.sip) == want_local
        if port:
            return f.sport if src_side else f.dport
        return f.sip if src_side else f.dip

    def lr_proto(e: SyscallEvent, want_local: bool) -> Any:
        f = e.fd
        if f is None or e.thread is None or f.type not in _SOCK_TYPES or not f.role:
            return None
        return proto_of(f, lr(e, want_local, True))

    def sproto(e: SyscallEvent) -> Any:
        f = e.fd
        if f is None or e.thread is None:
            return None
        p = server_port(f)
        if p is None:
            return None
        return proto_of(f, p) if f.type in _SOCK_TYPES else ""

    def is_server(e: SyscallEvent) -> Any:
        f = e.fd
        if f is None or e.thread is None:
            return None
        if f.type in F.SERVER_TYPES:
            return True
        if f.type in _SOCK_TYPES:
            return local(e, f.dip)
        return False

    def types(arg: str | None) -> Extractor:
        def get(e: SyscallEvent) -> Any:
            t = e.thread
            if t is None or not e.info.flags & _FD_FLAGS:
                return None
            if arg is None:
                return sorted({F.TYPENAME.get(f.type, "<NA>") for f in t.group.fds.values()}) or None
            f = t.group.fds.get(int(arg))
            return [F.TYPENAME.get(f.type, "<NA>")] if f is not None else None
        return get

    def container_prefixed(fn):
        def get(e: SyscallEvent) -> Any:
            v = fn(e)
            t = e.thread
            if v is None or t is None:
                return None
            return f"{t.container_id}:{v}"
        return get

    def pair(a: Extractor, b: Extractor) -> Extractor:
        def get(e: SyscallEvent) -> Any:
            x, y = a(e), b(e)
            if x is None:
                return () if y is None else (y,)
            return (x,) if y is None else (x, y)
        return get

    cip = sockv(lambda f: f.sip)
    sip = fdv(server_ip)
    cport = sockv(lambda f: f.sport)
    sport = fdv(server_port)
    simple: dict[str, Extractor] = {
        "fd.num": num,
        "fd.type": fdv(lambda f: F.TYPENAME.get(f.type)),
        "fd.typechar": typechar,
        "fd.name": name,
        "fd.uid": lambda e: f"{e.thread.tid}{num(e)}" if e.thread is not None and e.info.flags & _FD_FLAGS
        else None,
        "fd.directory": directory,
        "fd.filename": filename,
        "fd.nameraw": nameraw,
        "fd.containername": container_prefixed(name),
        "fd.containerdirectory": container_prefixed(directory),
        "fd.ip": pair(cip, sip),
        "fd.cip": cip,
        "fd.sip": sip,
        "fd.lip": lambda e: lr(e, True, False),
        "fd.rip": lambda e: lr(e, False, False),
        "fd.port": pair(cport, sport),
        "fd.cport": cport,
        "fd.sport": sport,
        "fd.lport": lambda e: lr(e, True, True),
        "fd.rport": lambda e: lr(e, False, True),
        "fd.l4proto": fdv(lambda f: F.L4NAME.get(f.l4_effective(), "<NA>")),
        "fd.sockfamily": fdv(lambda f: "ip" if f.type in F.IP_TYPES else "unix" if f.type == F.UNIX_SOCK else None),
        "fd.is_server": is_server,
        "fd.proto": lambda e: tuple(x for x in (sockv(lambda f: proto_of(f, f.sport))(e), sproto(e))
                                    if x is not None),
        "fd.cproto": fdv(lambda f: (proto_of(f, f.sport) if f.type in _SOCK_TYPES else "") if f.role else None),
        "fd.sproto": sproto,
        "fd.lproto": lambda e: lr_proto(e, True),
        "fd.rproto": lambda e: lr_proto(e, False),
        "fd.net": pair(cip, sip),
        "fd.cnet": lambda e: tuple(x for x in (cip(e),) if x is not None),
        "fd.snet": lambda e: tuple(x for x in (sip(e),) if x is not None),
        "fd.lnet": lambda e: tuple(x for x in (lr(e, True, False),) if x is not None),
        "fd.rnet": lambda e: tuple(x for x in (lr(e, False, False),) if x is not None),
        "fd.connected": fdv(lambda f: f.connected),
        "fd.name_changed": fdv(lambda f: f.name != f.oldname),
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
