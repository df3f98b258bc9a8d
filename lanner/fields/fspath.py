"""``fs.path.*`` (paths of path-taking syscalls) and ``fdlist.*`` (poll/select fd lists)."""

from __future__ import annotations

import ipaddress
from typing import Any

from lanner.events import params as P
from lanner.events.syscall import SyscallEvent
from lanner.fields import types as ft
from lanner.fields.registry import Extractor, FieldClass, FieldDef, cached, fdef
from lanner.state import fds as F

# Falco's table: event -> (success check, name param, source param, target param); None = not set.
# Success: "res" = return value 0, "fd" = fd parameter other than -1. A "@fd" parameter is fd.name.
_FSPATH = {
    "mkdir": ("res", "path", None, None), "mkdirat": ("res", "path", None, None),
    "rmdir": ("res", "path", None, None), "unlink": ("res", "path", None, None),
    "unlinkat": ("res", "name", None, None), "open": ("fd", "name", None, None),
    "openat": ("fd", "name", None, None), "openat2": ("fd", "name", None, None),
    "fchmodat": ("res", "filename", None, None), "chmod": ("res", "filename", None, None),
    "fchmod": ("res", "@fd", None, None), "chown": ("res", "path", None, None),
    "lchown": ("res", "path", None, None), "fchown": ("res", "@fd", None, None),
    "fchownat": ("res", "pathname", None, None), "quotactl": ("res", "special", None, None),
    "rename": ("res", None, "oldpath", "newpath"), "renameat": ("res", None, "oldpath", "newpath"),
    "renameat2": ("res", None, "oldpath", "newpath"), "link": ("res", None, "newpath", "oldpath"),
    "linkat": ("res", None, "newpath", "oldpath"), "symlink": ("res", None, "linkpath", "target"),
    "symlinkat": ("res", None, "linkpath", "target"), "mount": ("res", None, "dev", "dir"),
    "umount": ("res", "name", None, None), "umount2": ("res", "name", None, None),
}
# events whose fd is their dirfd: a relative path is taken against that directory
_DIRFD_EVENTS = frozenset({"newfstatat", "fchownat", "fchmodat", "mkdirat", "unlinkat", "mknodat"})
_NAME, _SOURCE, _TARGET = 1, 2, 3


def _raw_param(e: SyscallEvent, pname: str) -> Any:
    i = e.info.index.get(pname)
    if i is None or i >= len(e.raw):
        return None
    return e.params[i]


def _succeeded(e: SyscallEvent, check: str) -> bool:
    v = _raw_param(e, check)
    if not isinstance(v, int):
        return False
    return v == 0 if check == "res" else v != -1


def _dirfd_dir(e: SyscallEvent) -> str:
    f = e.fd
    if f is None or f.type != F.DIRECTORY:
        return "<UNKNOWN>"
    return f.name if not f.name or f.name.endswith("/") else f.name + "/"


def _path(e: SyscallEvent, slot: int, absolute: bool) -> str | None:
    """fs.path.* as Falco extracts it (a successful call of the events in its table)."""
    if not e.type & 1:
        return None
    row = _FSPATH.get(e.info.name)
    if row is None or not _succeeded(e, row[0]):
        return None
    pname = row[slot]
    if pname is None:
        return None
    if pname == "@fd":
        f = e.fd
        v = f.name if f is not None and e.thread is not None else None
    else:
        v = _raw_param(e, pname)
    if v is None:
        return None
    if not isinstance(v, str):
        v = P.render_plain(e.info.params[e.info.index[pname]], v)
    if not absolute:
        return v
    t = e.thread
    if t is None:
        return None
    if v[:1] == "/":
        return F.concat_path("", v)
    name = e.info.name
    if name in ("openat", "openat2"):
        f = e.fd
        return F.concat_path("", f.name if f is not None else "<UNKNOWN>")
    if name in _DIRFD_EVENTS:
        base = _dirfd_dir(e)
    elif name == "symlinkat":
        base = _dirfd_dir(e) if slot == _SOURCE else "<UNKNOWN>"
    elif name == "renameat2":
        d = _raw_param(e, "newdirfd" if slot == _TARGET else "olddirfd")
        base = _parse_dirfd(t, v, d) if slot != _NAME else "<UNKNOWN>"
    else:
        base = t.get_cwd()
    return F.concat_path(base, v)


def _parse_dirfd(t: Any, name: str, dirfd: Any) -> str:
    if name[:1] == "/":
        return "."
    if dirfd == P.AT_FDCWD:
        return t.get_cwd()
    f = t.group.fds.get(dirfd) if isinstance(dirfd, int) else None
    if f is None:
        return "<UNKNOWN>"
    return f.name if not f.name or f.name.endswith("/") else f.name + "/"


def fspath_class() -> FieldClass:
    def make(slot: int, absolute: bool) -> Extractor:
        def get(e: SyscallEvent) -> Any:
            return _path(e, slot, absolute)
        return get

    ex: dict[str, Extractor] = {
        "fs.path.name": cached("fs.path.name", make(_NAME, True)),
        "fs.path.nameraw": make(_NAME, False),
        "fs.path.source": cached("fs.path.source", make(_SOURCE, True)),
        "fs.path.sourceraw": make(_SOURCE, False),
        "fs.path.target": cached("fs.path.target", make(_TARGET, True)),
        "fs.path.targetraw": make(_TARGET, False),
    }
    fields = [
        fdef("fs.path.name", ft.CHARBUF, "absolute path of a single-path filesystem syscall"),
        fdef("fs.path.nameraw", ft.CHARBUF, "path as passed to a single-path filesystem syscall"),
        fdef("fs.path.source", ft.CHARBUF, "absolute source path of rename/link/symlink-style calls"),
        fdef("fs.path.sourceraw", ft.CHARBUF, "source path as passed"),
        fdef("fs.path.target", ft.CHARBUF, "absolute target path of rename/link/symlink-style calls"),
        fdef("fs.path.targetraw", ft.CHARBUF, "target path as passed"),
    ]

    def bind(f: FieldDef, arg: str | None) -> Extractor:
        return ex[f.name]

    return FieldClass("fs.path", "Paths of filesystem syscalls", ("syscall",), fields, bind)


def fdlist_class() -> FieldClass:
    def make(fn) -> Extractor:
        """Falco's fdlist.*: poll/ppoll exits only, one value per fd of the list (skipped when none)."""
        def get(e: SyscallEvent) -> Any:
            if e.info.name not in ("poll", "ppoll") or not e.type & 1:
                return None
            t = e.thread
            i = e.info.index.get("fds")
            if t is None or i is None or i >= len(e.raw):
                return None
            v = e.params[i]
            if not v:
                return None
            fds = t.group.fds
            vals = [fn(n, fds.get(n)) for n, _ in v]
            out = ",".join(str(x) for x in vals if x is not None)
            return out or None
        return get

    def sock(f: F.FdInfo | None) -> bool:
        return f is not None and f.type in F.SOCK_TYPES

    def server_ip(f: F.FdInfo | None) -> Any:
        if f is None:
            return None
        if f.type in F.SOCK_TYPES or f.type == F.IPV4_SERVSOCK:
            return f.dip
        if f.type == F.IPV6_SERVSOCK:
            # Falco prints the first four bytes of the IPv6 server address as IPv4
            return ipaddress.IPv4Address(f.dip.packed[:4]) if f.dip is not None else None
        return None

    ex: dict[str, Extractor] = {
        "fdlist.nums": make(lambda n, f: n),
        "fdlist.names": make(lambda n, f: f.name if f is not None and f.name else "<NA>"),
        "fdlist.cips": make(lambda n, f: f.sip if sock(f) else None),
        "fdlist.sips": make(lambda n, f: server_ip(f)),
        "fdlist.cports": make(lambda n, f: f.sport if sock(f) else None),
        "fdlist.sports": make(lambda n, f: f.dport if sock(f) else None),
    }
    fields = [
        fdef("fdlist.nums", ft.CHARBUF, "fd numbers of a poll/select event, comma separated"),
        fdef("fdlist.names", ft.CHARBUF, "fd names of a poll/select event, comma separated"),
        fdef("fdlist.cips", ft.CHARBUF, "client IPs of the fds of a poll/select event"),
        fdef("fdlist.sips", ft.CHARBUF, "server IPs of the fds of a poll/select event"),
        fdef("fdlist.cports", ft.CHARBUF, "client ports of the fds of a poll/select event"),
        fdef("fdlist.sports", ft.CHARBUF, "server ports of the fds of a poll/select event"),
    ]

    def bind(f: FieldDef, arg: str | None) -> Extractor:
        return ex[f.name]

    return FieldClass("fdlist", "Poll/select fd lists", ("syscall",), fields, bind)
