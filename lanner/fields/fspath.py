"""``fs.path.*`` (paths of path-taking syscalls) and ``fdlist.*`` (poll/select fd lists)."""

from __future__ import annotations

from typing import Any

from lanner.events import params as P
from lanner.events import table as T
from lanner.fields import types as ft
from lanner.fields.registry import Extractor, FieldClass, FieldDef, cached, fdef
from lanner.state import fds as F

# event name -> (name param, source param, target param); dirfd comes from the param table
_ONE = {"mkdir": "path", "mkdirat": "path", "rmdir": "path", "unlink": "path", "unlinkat": "name",
        "open": "name", "openat": "name", "openat2": "name", "creat": "name", "chmod": "filename",
        "fchmodat": "filename", "chown": "path", "lchown": "path", "fchownat": "pathname", "mknod": "path",
        "mknodat": "path", "open_by_handle_at": "path", "access": "name", "newfstatat": "path",
        "chdir": "path", "chroot": "path", "execve": "filename", "umount": "name", "umount2": "name",
        "mount": "dir"}
_TWO = {"rename": ("oldpath", "newpath"), "renameat": ("oldpath", "newpath"),
        "renameat2": ("oldpath", "newpath"), "link": ("oldpath", "newpath"), "linkat": ("oldpath", "newpath"),
        "symlink": ("target", "linkpath"), "symlinkat": ("target", "linkpath")}


def _param(e: Any, pname: str, absolute: bool) -> str | None:
    i = e.info.index.get(pname)
    if i is None or i >= len(e.raw):
        return None
    v = e.params[i]
    if not isinstance(v, str):
        return None
    p = e.info.params[i]
    if not absolute or v.startswith("/") or p.type not in (T.PT_FSPATH, T.PT_FSRELPATH, T.PT_CHARBUF):
        return F.normalize(v) if absolute and v.startswith("/") else v
    if pname == "target":
        return v
    t = e.thread
    if t is None:
        return None
    base = t.group.cwd
    if p.dirfd is not None and p.dirfd < len(e.raw):
        d = e.params[p.dirfd]
        if isinstance(d, int) and d != P.AT_FDCWD:
            f = t.group.fds.get(d)
            if f is None or not f.name:
                return None
            base = f.name.rstrip("/") + "/"
    return F.concat_path(base, v)


def fspath_class() -> FieldClass:
    def one(absolute: bool) -> Extractor:
        def get(e: Any) -> Any:
            pn = _ONE.get(e.info.name)
            return _param(e, pn, absolute) if pn is not None else None
        return get

    def two(which: int, absolute: bool) -> Extractor:
        def get(e: Any) -> Any:
            pair = _TWO.get(e.info.name)
            return _param(e, pair[which], absolute) if pair is not None else None
        return get

    ex: dict[str, Extractor] = {
        "fs.path.name": cached("fs.path.name", one(True)),
        "fs.path.nameraw": one(False),
        "fs.path.source": cached("fs.path.source", two(0, True)),
        "fs.path.sourceraw": two(0, False),
        "fs.path.target": cached("fs.path.target", two(1, True)),
        "fs.path.targetraw": two(1, False),
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
    def entries(e: Any) -> list[tuple[int, F.FdInfo | None]] | None:
        i = e.info.index.get("fds")
        if i is None or i >= len(e.raw) or e.info.params[i].type != T.PT_FDLIST:
            return None
        v = e.params[i]
        if v is None:
            return None
        t = e.thread
        fds = t.group.fds if t is not None else {}
        return [(n, fds.get(n)) for n, _ in v]

    def make(fn) -> Extractor:
        def get(e: Any) -> Any:
            ents = entries(e)
            if ents is None:
                return None
            vals = [fn(n, f) for n, f in ents]
            vals = [str(v) for v in vals if v is not None]
            return ",".join(vals) if vals else None
        return get

    def ip(f: F.FdInfo | None, which: str) -> Any:
        if f is None or f.type not in F.IP_TYPES:
            return None
        if which == "cip":
            return None if f.type in F.SERVER_TYPES else f.sip
        if which == "sip":
            return f.dip
        if which == "cport":
            return None if f.type in F.SERVER_TYPES else f.sport
        return f.dport

    ex: dict[str, Extractor] = {
        "fdlist.nums": make(lambda n, f: n),
        "fdlist.names": make(lambda n, f: f.name if f is not None else None),
        "fdlist.cips": make(lambda n, f: ip(f, "cip")),
        "fdlist.sips": make(lambda n, f: ip(f, "sip")),
        "fdlist.cports": make(lambda n, f: ip(f, "cport")),
        "fdlist.sports": make(lambda n, f: ip(f, "sport")),
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
