"""Syscall-only ``evt.*`` fields: type, arguments, return value, I/O and open classification.

Argument rendering (``evt.arg``, ``evt.args``) is done by :mod:`lanner.events.params`; the state
lookups it needs (fd names, comm of a pid, cwd, user names) come from :class:`StateResolver`.
"""

from __future__ import annotations

import operator
from typing import Any

from lanner.events import flags as EF
from lanner.events import params as P
from lanner.events import table as T
from lanner.events.syscall import SyscallEvent
from lanner.fields import types as ft
from lanner.fields.registry import (
    ARG_REQUIRED,
    DEPRECATED,
    NO_RHS,
    NO_TRANSFORMER,
    NSFRAC,
    Extractor,
    FieldClass,
    FieldDef,
    FieldError,
    cached,
    fdef,
)
from lanner.state import fds as F
from lanner.state.fds import concat_path

_NS = 1_000_000_000
_OPEN_FLAGS_IDX = {3: 2, 307: 3, 327: 3, 337: 2}
_OPEN_MODE_IDX = {3: 3, 307: 4, 327: 4}
O_RDONLY, O_WRONLY, O_CREAT, O_TMPFILE, O_F_CREATED = 1, 2, 4, 0x2000, 0x4000
_X_BITS = 0o111


class StateResolver(P.Resolver):
    """State lookups for resolved argument rendering."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def fd_string(self, ev: SyscallEvent, fd: int) -> str | None:
        t = ev.thread
        f = t.group.fds.get(fd) if t is not None else None
        if f is None:
            if ev.fdnum == fd and ev.fd is not None:
                f = ev.fd
            else:
                return None
        l4 = F.L4CHAR.get(f.l4_effective(), "") if f.type in F.IP_TYPES else ""
        return f"<{f.typechar}{l4}>{f.name}"

    def fd_typechar(self, ev: SyscallEvent, fd: int) -> str | None:
        """Type letter of an fd of the event's thread; ``?`` for one the thread does not have."""
        t = ev.thread
        if t is None:
            return None
        f = t.group.fds.get(fd)
        return f.typechar if f is not None else "?"

    def comm(self, ev: SyscallEvent, pid: int) -> str | None:
        t = self.state.threads.get(pid) if self.state is not None else None
        return t.comm if t is not None else None

    def cwd(self, ev: SyscallEvent) -> str | None:
        t = ev.thread
        return t.get_cwd() if t is not None else None

    def dirfd_path(self, ev: SyscallEvent, dirfd: int) -> str | None:
        t = ev.thread
        if t is None:
            return None
        if dirfd == P.AT_FDCWD:
            return t.get_cwd()
        f = t.group.fds.get(dirfd)
        if f is None or not f.name:
            return ""
        return f.name if f.name.endswith("/") else f.name + "/"

    def user_name(self, ev: SyscallEvent, uid: int) -> str | None:
        if self.state is None:
            return None
        t = ev.thread
        return self.state.users.user_name(uid, t.container_id if t is not None else "")

    def group_name(self, ev: SyscallEvent, gid: int) -> str | None:
        if self.state is None:
            return None
        t = ev.thread
        return self.state.users.group_name(gid, t.container_id if t is not None else "")


_type = operator.attrgetter("type_name")     # evt.type: the hottest extractor, no Python frame


def has_return(e: SyscallEvent) -> bool:
    return e.info.is_syscall and e.type & 1 == 1 and e.type > 1 and len(e.raw) > 0


def _rawres(e: SyscallEvent) -> int | None:
    if not has_return(e):
        return None
    v = e.params[0]
    return v if isinstance(v, int) else None


def _res(e: SyscallEvent) -> str | None:
    v = _rawres(e)
    if v is None:
        return None
    if v >= 0:
        return "SUCCESS"
    return EF.errno_name(v) or str(v)


def _failed(e: SyscallEvent) -> bool | None:
    """True for a negative return value; no value when the event has none (as Falco)."""
    v = _rawres(e)
    return None if v is None else v < 0


def _open_flags(e: SyscallEvent) -> int:
    i = _OPEN_FLAGS_IDX.get(e.type)
    if i is None or i >= len(e.raw):
        return 0
    v = e.params[i]
    return v if isinstance(v, int) else 0


def _is_open_exec(e: SyscallEvent) -> bool:
    t = e.type
    if t == 59:
        m = e.params[2] if len(e.raw) > 2 else None
        return isinstance(m, int) and bool(m & _X_BITS)
    mi = _OPEN_MODE_IDX.get(t)
    if mi is None:
        return False
    fl = _open_flags(e)
    if not fl & (O_CREAT | O_TMPFILE):
        return False
    m = e.params[mi] if mi < len(e.raw) else None
    return isinstance(m, int) and bool(m & _X_BITS)


def _is_open_create(e: SyscallEvent) -> bool:
    if e.type not in _OPEN_FLAGS_IDX:
        return False
    fl = _open_flags(e)
    if fl & O_F_CREATED:
        return True
    r = _rawres(e)
    return bool(fl & O_TMPFILE) and r is not None and r >= 0


def _buffer(e: SyscallEvent) -> bytes | None:
    i = e.info.index.get("data")
    if i is None or i >= len(e.raw) or e.info.params[i].type != T.PT_BYTEBUF:
        return None
    return e.params[i]


def _buflen(e: SyscallEvent) -> int | None:
    """Falco's buffer length: the return value of a successful I/O exit on a known fd."""
    if e.fd is None or not e.type & 1 or not e.info.category.startswith("io_") or not e.raw:
        return None
    r = e.params[0]
    return r if isinstance(r, int) and r >= 0 else None


def _io_dir(e: SyscallEvent) -> str | None:
    fl = e.info.flags
    if fl & T.EF_WRITES_TO_FD:
        return "write"
    if fl & T.EF_READS_FROM_FD:
        return "read"
    return None


def _is_syslog(e: SyscallEvent) -> bool:
    f = e.fd
    return f is not None and bool(e.info.flags & T.EF_WRITES_TO_FD) and f.name in ("/dev/log", "/run/systemd/journal/syslog")


# evt.abspath: (dirfd parameter, path parameter) per event, for .src/evt.abspath (0) and .dst (1)
_ABSPATH_ARGS = {
    "renameat": (("olddirfd", "oldpath"), ("newdirfd", "newpath")),
    "renameat2": (("olddirfd", "oldpath"), ("newdirfd", "newpath")),
    "linkat": (("olddir", "oldpath"), ("newdir", "newpath")),
    "symlinkat": (("linkdirfd", "linkpath"),) * 2,
    "openat": (("dirfd", "name"),) * 2,
    "openat2": (("dirfd", "name"),) * 2,
    "unlinkat": (("dirfd", "name"),) * 2,
    "mkdirat": (("dirfd", "path"),) * 2,
    "fchmodat": (("dirfd", "filename"),) * 2,
    "fchownat": (("dirfd", "pathname"),) * 2,
}
_CATEGORY_BY_FD = {
    F.FILE: "file", F.FILE_V2: "file", F.DIRECTORY: "file", F.IPV4_SOCK: "net", F.IPV6_SOCK: "net",
    F.IPV4_SERVSOCK: "net", F.IPV6_SERVSOCK: "net", F.FIFO: "ipc", F.UNIX_SOCK: "ipc", F.EVENT: "ipc",
    F.SIGNALFD: "ipc", F.INOTIFY: "ipc", F.USERFAULTFD: "ipc",
}


def _category(e: SyscallEvent) -> str:
    """Falco's evt.category: I/O events take the kind of their fd (file, net, ipc, unknown)."""
    c = e.info.category
    if c.startswith("io_"):
        f = e.fd
        return _CATEGORY_BY_FD.get(f.type, "unknown") if f is not None else "unknown"
    return "IPC" if c == "ipc" else c


def abspath_extractor(which: str) -> Extractor:
    """``evt.abspath`` / ``.src`` / ``.dst`` as Falco computes them: the dirfd-relative path parameter
    of the *at calls made absolute (``.dst`` = the second path of renameat/linkat)."""
    slot = 1 if which == "dst" else 0

    def get(e: SyscallEvent) -> str | None:
        t = e.thread
        if t is None:
            return None
        name = e.info.name
        if name == "open_by_handle_at":
            r = e.params[0] if e.raw else None
            v = e.params[3] if len(e.raw) > 3 else None
            if isinstance(r, int) and r > 0 and isinstance(v, str):
                return concat_path("", v)
            return None
        args = _ABSPATH_ARGS.get(name)
        if args is None or not e.type & 1:
            return None
        dname, pname = args[slot]
        idx = e.info.index
        di, pi = idx.get(dname), idx.get(pname)
        n = len(e.raw)
        if di is None or pi is None or di >= n or pi >= n:
            return None
        dirfd, path = e.params[di], e.params[pi]
        if dirfd is None or path is None:
            return None
        if path[:1] == "/":
            base = "."
        elif dirfd == P.AT_FDCWD:
            base = t.get_cwd()
        else:
            f = t.group.fds.get(dirfd) if isinstance(dirfd, int) else None
            base = "<UNKNOWN>/" if f is None else f.name + "/"
        return concat_path(base, path)

    return cached(f"evt.abspath.{which}", get)


_RAWARG_TYPES = {
    "INT8": ft.INT8, "INT16": ft.INT16, "INT32": ft.INT32, "INT64": ft.INT64, "UINT8": ft.UINT8,
    "UINT16": ft.UINT16, "UINT32": ft.UINT32, "UINT64": ft.UINT64, "ERRNO": ft.ERRNO, "FD": ft.FD, "PID": ft.PID,
    "FD32": ft.INT32, "PID32": ft.INT32, "PORT": ft.PORT, "FLAGS8": ft.FLAGS8, "FLAGS16": ft.FLAGS16,
    "FLAGS32": ft.FLAGS32, "ENUMFLAGS8": ft.UINT8, "ENUMFLAGS16": ft.UINT16, "ENUMFLAGS32": ft.UINT32,
    "MODE": ft.MODE, "UID": ft.UINT32, "GID": ft.UINT32, "SYSCALLID": ft.UINT16, "SIGTYPE": ft.UINT8,
    "RELTIME": ft.RELTIME, "ABSTIME": ft.ABSTIME, "BOOL": ft.UINT32, "L4PROTO": ft.UINT8, "SOCKFAMILY": ft.UINT8,
    "CHARBUF": ft.CHARBUF, "FSPATH": ft.FSPATH, "FSRELPATH": ft.FSRELPATH, "BYTEBUF": ft.BYTEBUF,
    "IPV4ADDR": ft.IPADDR, "IPV6ADDR": ft.IPADDR,
}


def evt_class(state: Any = None) -> FieldClass:
    resolver = StateResolver(state) if state is not None else P.NO_STATE
    prev: dict[str, Any] = {"ts": None, "last": None}

    def deltatime(e: SyscallEvent) -> int:
        c = e.cache
        if "__delta" in c:
            return c["__delta"]
        last = prev["last"]
        if last is None or last[0] == e.num:
            d = 0 if last is None else last[1]
        else:
            d = e.ts - last[2]
        prev["last"] = (e.num, d, e.ts)
        c["__delta"] = d
        return d

    simple: dict[str, Extractor] = {
        "evt.type": _type,
        "syscall.type": lambda e: e.type_name if e.info.is_syscall else None,
        "evt.category": _category,
        "evt.cpu": lambda e: e.cpu,
        "evt.dir": lambda e: e.info.direction,
        "evt.args": cached("evt.args", lambda e: e.args_str(resolver)),
        "evt.info": cached("evt.args", lambda e: e.args_str(resolver)),
        "evt.buffer": _buffer,
        "evt.buflen": _buflen,
        "evt.res": _res,
        "evt.rawres": _rawres,
        "evt.failed": _failed,
        "evt.is_io": lambda e: bool(e.info.flags & (T.EF_READS_FROM_FD | T.EF_WRITES_TO_FD)),
        "evt.is_io_read": lambda e: bool(e.info.flags & T.EF_READS_FROM_FD),
        "evt.is_io_write": lambda e: bool(e.info.flags & T.EF_WRITES_TO_FD),
        "evt.io_dir": _io_dir,
        "evt.is_wait": lambda e: bool(e.info.flags & T.EF_WAITS),
        "evt.is_syslog": _is_syslog,
        "evt.is_open_read": lambda e: bool(_open_flags(e) & O_RDONLY),
        "evt.is_open_write": lambda e: bool(_open_flags(e) & O_WRONLY),
        "evt.is_open_exec": _is_open_exec,
        "evt.is_open_create": _is_open_create,
        "evt.abspath": abspath_extractor(""),
        "evt.abspath.src": abspath_extractor("src"),
        "evt.abspath.dst": abspath_extractor("dst"),
        "evt.count": lambda e: 1,
        "evt.count.error": lambda e: None if (f := _failed(e)) is None else int(f),
        "evt.count.error.file": lambda e: 1 if _failed(e) and e.info.category == "file" else 0,
        "evt.count.error.net": lambda e: 1 if _failed(e) and e.info.category == "net" else 0,
        "evt.count.error.memory": lambda e: 1 if _failed(e) and e.info.category == "memory" else 0,
        "evt.count.error.other": lambda e: 1 if _failed(e) and e.info.category not in ("file", "net", "memory")
        else 0,
        "evt.count.exit": lambda e: 1 if e.type & 1 else 0,
        "evt.deltatime": deltatime,
        "evt.deltatime.s": lambda e: deltatime(e) // _NS,
        "evt.deltatime.ns": lambda e: deltatime(e) % _NS,
        "evt.latency": lambda e: 0,
        "evt.latency.s": lambda e: 0,
        "evt.latency.ns": lambda e: 0,
        "evt.latency.human": lambda e: "0ns",
        "evt.wait_latency": lambda e: 0,
    }

    def _rawarg_type(key: str | int | None) -> str:
        """The native type of ``evt.rawarg.<name>``: that of the first parameter of that name."""
        from lanner.events.table import EVENTS
        if isinstance(key, str):
            for info in EVENTS:
                for p in info.params:
                    if p.name == key:
                        return _RAWARG_TYPES.get(p.type_name, ft.CHARBUF)
            raise FieldError(f"unknown event argument {key}")
        return ft.INT64

    def arg_factory(f: FieldDef, arg: str | None) -> Extractor:
        key: str | int = int(arg) if arg is not None and arg.isdigit() else arg  # type: ignore[assignment]
        if f.name == "evt.arg":
            if isinstance(key, str):
                _rawarg_type(key)
            return lambda e: e.arg_str(key, resolver)
        if f.name == "evt.rawarg":
            def rawarg(e: SyscallEvent) -> Any:
                return e.rawarg(key)
            rawarg.field_type = _rawarg_type(key)  # type: ignore[attr-defined]
            return rawarg
        if f.name == "evt.type.is":
            name = arg or ""
            return lambda e: 1 if e.type_name == name else 0
        raise FieldError(f"field {f.name} has no extractor")

    fields = [
        fdef("evt.type", ft.CHARBUF, "name of the event (e.g. open)"),
        fdef("evt.type.is", ft.UINT32, "1 if the event type is the given one (evt.type.is.open)",
             arg=ARG_REQUIRED, dotted_arg=True),
        fdef("syscall.type", ft.CHARBUF, "system call name, for syscall events only"),
        fdef("evt.category", ft.CHARBUF, "event category (file, net, process, io_read ...)"),
        fdef("evt.cpu", ft.INT16, "number of the CPU where the event occurred"),
        fdef("evt.dir", ft.CHARBUF, "event direction: > enter, < exit", flags=[DEPRECATED]),
        fdef("evt.args", ft.CHARBUF, "all the event arguments as one string"),
        fdef("evt.arg", ft.CHARBUF, "one argument by name (evt.arg.fd) or index (evt.arg[0]), as text",
             arg=ARG_REQUIRED, dotted_arg=True),
        fdef("evt.rawarg", ft.INT64, "one argument by name, with its native type",
             arg=ARG_REQUIRED, dotted_arg=True, flags=[NO_RHS, NO_TRANSFORMER]),
        fdef("evt.info", ft.CHARBUF, "same as evt.args"),
        fdef("evt.buffer", ft.BYTEBUF, "the binary data buffer of I/O events"),
        fdef("evt.buflen", ft.UINT64, "length of the binary data buffer"),
        fdef("evt.res", ft.CHARBUF, "return value as a string: SUCCESS or the error code"),
        fdef("evt.rawres", ft.INT64, "return value as a number"),
        fdef("evt.failed", ft.BOOL, "true for events that returned an error"),
        fdef("evt.is_io", ft.BOOL, "true for events that read or write to fds"),
        fdef("evt.is_io_read", ft.BOOL, "true for events that read from fds"),
        fdef("evt.is_io_write", ft.BOOL, "true for events that write to fds"),
        fdef("evt.io_dir", ft.CHARBUF, "'r' for reads, 'w' for writes"),
        fdef("evt.is_wait", ft.BOOL, "true for events that make the thread wait"),
        fdef("evt.is_syslog", ft.BOOL, "true for writes to /dev/log"),
        fdef("evt.is_open_read", ft.BOOL, "true for open calls requesting read access"),
        fdef("evt.is_open_write", ft.BOOL, "true for open calls requesting write access"),
        fdef("evt.is_open_exec", ft.BOOL, "true for open calls creating a file with execute permission"),
        fdef("evt.is_open_create", ft.BOOL, "true for open calls that created the file"),
        fdef("evt.abspath", ft.CHARBUF, "absolute path computed from dirfd and name of *at calls"),
        fdef("evt.abspath.src", ft.CHARBUF, "source absolute path of two-path *at calls"),
        fdef("evt.abspath.dst", ft.CHARBUF, "destination absolute path of two-path *at calls"),
        fdef("evt.count", ft.UINT32, "1 for every event"),
        fdef("evt.count.error", ft.UINT32, "1 for events that returned an error"),
        fdef("evt.count.error.file", ft.UINT32, "1 for file events that returned an error"),
        fdef("evt.count.error.net", ft.UINT32, "1 for network events that returned an error"),
        fdef("evt.count.error.memory", ft.UINT32, "1 for memory events that returned an error"),
        fdef("evt.count.error.other", ft.UINT32, "1 for other events that returned an error"),
        fdef("evt.count.exit", ft.UINT32, "1 for exit events"),
        fdef("evt.deltatime", ft.RELTIME, "delta between this event and the previous one"),
        fdef("evt.deltatime.s", ft.RELTIME, "integer part of the delta"),
        fdef("evt.deltatime.ns", ft.RELTIME, "fractional part of the delta", flags=[NSFRAC]),
        fdef("evt.latency", ft.RELTIME, "enter/exit delta (always 0: drivers send exit events only)",
             flags=[DEPRECATED]),
        fdef("evt.latency.s", ft.RELTIME, "integer part of evt.latency", flags=[DEPRECATED]),
        fdef("evt.latency.ns", ft.RELTIME, "fractional part of evt.latency", flags=[DEPRECATED, NSFRAC]),
        fdef("evt.latency.human", ft.CHARBUF, "evt.latency as a human readable string", flags=[DEPRECATED]),
        fdef("evt.wait_latency", ft.RELTIME, "time spent waiting (always 0)", flags=[DEPRECATED]),
    ]

    def bind(f: FieldDef, arg: str | None) -> Extractor:
        fn = simple.get(f.name)
        if fn is not None:
            return fn
        return arg_factory(f, arg)

    return FieldClass("evt", "Syscall event fields", ("syscall",), fields, bind)
