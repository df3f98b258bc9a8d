"""Traced syscalls -> the exit events the eBPF probe emits for them (same codes, parameters, flags).

The probe (``sources/ebpf/probe.bpf.c``) writes one exit event per syscall from the registers at
``sys_exit`` and the kernel's task; a ptrace tracer sees the same registers at the syscall-exit stop
and reads user memory through a reader while the tracee is stopped. :class:`Decoder` mirrors the
probe's ``emit_syscall`` parameter by parameter, so rules, fields and outputs cannot tell the two
drivers apart. What the probe takes from kernel objects comes from elsewhere: task facts from
``/proc/<pid>`` (:mod:`.procinfo`), socket endpoints from a copy of the tracee's socket
(:mod:`.sockets`), the inode of an opened file from ``/proc/<pid>/fd``.

Some facts are gone by the exit stop (the execve filename with the old image; whether an
``O_CREAT`` open created its file): :meth:`Decoder.enter` takes them at the seccomp (entry) stop
for the syscalls in :data:`ENTER_NRS`, and the caller hands the result back to :meth:`Decoder.syscall`.

The reader protocol: ``read(tid, addr, size) -> bytes`` (short or empty on a fault) and
``read_str(tid, addr, maxlen) -> bytes | None`` (the string without its NUL; None on a fault).
"""

from __future__ import annotations

import os
import struct
from typing import Any, Protocol

from lanner.events.syscall import SyscallEvent
from lanner.events.syscalls import X86_64
from lanner.sources.ebpf.filters import HANDLED
from lanner.sources.userspace import ppmflags as F
from lanner.sources.userspace.procinfo import ProcTask
from lanner.sources.userspace.sockets import decode_user_sockaddr, socket_tuple

MAX_PATH = 4096
EINPROGRESS = 115
AT_FDCWD = -100

#: native x86_64 syscall number -> exit event code (1 = generic ``syscall`` event)
CODE_BY_NR: dict[int, int] = {nr: HANDLED.get(name, 1) for nr, name in X86_64.items()}
NR_BY_NAME: dict[str, int] = {name: nr for nr, name in X86_64.items()}

_NR = NR_BY_NAME
#: syscalls whose entry stop must be looked at (see :meth:`Decoder.enter`)
ENTER_NRS = frozenset({_NR["execve"], _NR["execveat"], _NR["open"], _NR["openat"], _NR["openat2"], _NR["creat"],
                       _NR["clone"], _NR["clone3"], _NR["fork"], _NR["vfork"]})
_CLONE_NAMES = {223: "clone", 225: "fork", 227: "vfork", 335: "clone3"}
CLONE_CODES = frozenset(_CLONE_NAMES)
_CLONE_CODE_BY_NAME = {v: k for k, v in _CLONE_NAMES.items()}
_CLONE_THREAD, _CLONE_PARENT = 0x10000, 0x8000

_Q = struct.Struct("<Q").pack
_I = struct.Struct("<I").pack
_H = struct.Struct("<H").pack


def u64(v: int) -> bytes:
    return _Q(v & 0xFFFFFFFFFFFFFFFF)


def u32(v: int) -> bytes:
    return _I(v & 0xFFFFFFFF)


def u16(v: int) -> bytes:
    return _H(v & 0xFFFF)


def u8(v: int) -> bytes:
    return bytes([v & 0xFF])


def s32(v: int) -> int:
    """A register's low 32 bits as a signed int (the probe's ``SA(i)``: fds, dirfds, pids)."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


class Reader(Protocol):
    def read(self, tid: int, addr: int, size: int) -> bytes: ...

    def read_str(self, tid: int, addr: int, maxlen: int) -> bytes | None: ...


def _ustr(reader: Reader, tid: int, addr: int, maxlen: int = MAX_PATH) -> bytes:
    """A user string param as the probe writes it: with its NUL; empty when NULL or unreadable."""
    if not addr:
        return b""
    s = reader.read_str(tid, addr, maxlen - 1)
    return b"" if s is None else s[:maxlen - 1] + b"\0"


def _ubuf(reader: Reader, tid: int, addr: int, size: int, cap: int) -> bytes:
    if not addr or size <= 0:
        return b""
    return reader.read(tid, addr, min(size, cap))


class Entry:
    """What the entry stop saw: the exec filename, whether an O_CREAT path existed, clone flags."""

    __slots__ = ("filename", "existed", "clone_flags", "code")

    def __init__(self, filename: bytes = b"", existed: bool | None = None, clone_flags: int = 0,
                 code: int = 0) -> None:
        self.filename = filename
        self.existed = existed
        self.clone_flags = clone_flags
        self.code = code


class Decoder:
    """Build probe-identical exit events from traced syscalls (``snaplen`` bytes of data buffers).

    Events come back with ``num`` 0: the source numbers them in delivery order."""

    def __init__(self, snaplen: int = 80, proc: str = "/proc") -> None:
        self.snaplen = snaplen
        self.proc = proc
        #: child tids whose clone child event was already emitted (by :meth:`new_task`)
        self._children_done: set[int] = set()
        self._clone_entry: dict[int, Entry] = {}
        #: process -> the thread that created it (the kernel's real_parent, whose tid the probe reports as
        #: ptid; /proc only gives its process id), while that thread lives
        self._creator: dict[int, int] = {}
        #: a forking thread's /proc facts, read at its child's first stop, reused at its own exit stop
        self._parent_task: dict[int, ProcTask] = {}
        self._exited: set[int] = set()

    # ------------------------------------------------------------------ entry stop
    def enter(self, pid: int, tid: int, nr: int, args: tuple[int, ...], reader: Reader) -> Entry | None:
        """Look at a syscall's entry (tracee stopped at the seccomp stop); None when nothing to keep."""
        name = X86_64.get(nr)
        if name in ("execve", "execveat"):
            addr = args[0] if name == "execve" else args[1]
            return Entry(filename=_ustr(reader, tid, addr))
        if name in ("open", "openat", "openat2", "creat"):
            return self._enter_open(pid, tid, name, args, reader)
        if name in ("clone", "clone3", "fork", "vfork"):
            e = Entry(clone_flags=self._clone_flags(name, args, tid, reader), code=CODE_BY_NR[nr])
            self._clone_entry[tid] = e
            return e
        return None

    def _enter_open(self, pid: int, tid: int, name: str, args: tuple[int, ...], reader: Reader) -> Entry | None:
        if name == "creat":
            flags, dirfd, addr = 0o100, AT_FDCWD, args[0]
        elif name == "open":
            flags, dirfd, addr = args[1], AT_FDCWD, args[0]
        elif name == "openat":
            flags, dirfd, addr = args[2], s32(args[0]), args[1]
        else:
            how = reader.read(tid, args[2], 8)
            flags = struct.unpack("<Q", how)[0] if len(how) == 8 else 0
            dirfd, addr = s32(args[0]), args[1]
        if not flags & 0o100:
            return None
        path = reader.read_str(tid, addr, MAX_PATH - 1)
        if not path:
            return None
        if not path.startswith(b"/"):
            base = f"{self.proc}/{pid}/cwd" if dirfd == AT_FDCWD else f"{self.proc}/{pid}/fd/{dirfd}"
            path = os.fsencode(base) + b"/" + path
        return Entry(existed=os.path.lexists(path))

    @staticmethod
    def _clone_flags(name: str, args: tuple[int, ...], tid: int, reader: Reader) -> int:
        if name == "clone":
            return args[0]
        if name == "clone3":
            b = reader.read(tid, args[0], 8)
            return struct.unpack("<Q", b)[0] if len(b) == 8 else 0
        if name == "vfork":
            return 0x4000 | 0x100
        return 0

    # ------------------------------------------------------------------ exit stop
    def syscall(self, ts: int, pid: int, tid: int, nr: int, args: tuple[int, ...], ret: int, reader: Reader,
                entry: Entry | None = None) -> list[SyscallEvent]:
        """The probe's event(s) for one syscall exit (none when the probe emits none for it)."""
        code = CODE_BY_NR.get(nr)
        if code is None:
            return []
        if code in CLONE_CODES:
            return self._clone(ts, pid, tid, code, args, ret, reader, entry)
        if code in (293, 331):
            return [self._exec(ts, pid, tid, code, args, ret, reader, entry)]
        if code in (3, 59, 307, 327):
            return [self._open(ts, pid, tid, code, args, ret, reader, entry)]
        if code in (51, 55):
            return self._mmsg(ts, pid, tid, code, args, ret, reader)
        raw = self._simple(pid, tid, code, nr, args, ret, reader)
        if raw is None:
            return []
        return [SyscallEvent(0, ts, tid, 1 if code == 1 else code, raw)]

    def note_creator(self, pid: int, tid: int) -> None:
        """Process ``pid`` was created by thread ``tid`` (the launched command: by the tracing thread)."""
        self._creator[pid] = tid
        self._exited.discard(tid)

    def _ptid(self, pid: int, t: ProcTask) -> int:
        """The probe's ptid of process ``pid``: the creating thread while it lives, else /proc's parent."""
        c = self._creator.get(pid)
        if c is not None and c not in self._exited:
            return c
        return t.ppid()

    def exit(self, ts: int, tid: int, status: int) -> SyscallEvent:
        """``procexit`` for a thread that exited with wait status ``status``."""
        self._children_done.discard(tid)
        self._clone_entry.pop(tid, None)
        self._exited.add(tid)
        self._creator.pop(tid, None)
        self._parent_task.pop(tid, None)
        if len(self._exited) > 4096:          # keep only exited creators still named by a live process
            self._exited &= set(self._creator.values())
        raw = [u64(status), u64((status >> 8) & 0xFF), u8(status & 0x7F), u8(1 if status & 0x80 else 0), u64(0)]
        return SyscallEvent(0, ts, tid, 186, raw)

    def new_task(self, ts: int, tid: int, parent_tid: int, parent_pid: int, flags: int | None = None,
                 kind: str | None = None) -> SyscallEvent:
        """The child's own clone exit event (``res`` 0), from its parent's facts at the fork: call it when
        the new task's first stop is seen, before it runs. The child has the parent's image, cwd and
        credentials; only its ids differ. ``flags``/``kind`` (clone flags, creating syscall name) default
        to what the parent's entry stop saw."""
        e = self._clone_entry.get(parent_tid)
        if flags is None:
            flags = e.clone_flags if e is not None else 0
        # the syscall seen at the parent's entry stop names the event (glibc's fork() is a clone call)
        code = e.code if e is not None else _CLONE_CODE_BY_NAME.get(kind or "", 223)
        if code == 227 and not flags & 0x4000:
            flags |= 0x4000 | 0x100
        self._children_done.add(tid)
        # the parent stays stopped until its own exit stop: what is read of it now serves that event too
        t = self._parent_task[parent_tid] = ProcTask(parent_pid, parent_tid, self.proc)
        return self._clone_event(ts, parent_pid, parent_tid, code, flags, 0, child_tid=tid, t=t)

    # ------------------------------------------------------------------ families
    def _proc_common(self, t: ProcTask, tid: int, pid: int, ptid: int) -> list[bytes]:
        exe, args = t.exe_and_args()
        maj, mnr = t.pgft()
        return [exe, args, u64(tid), u64(pid), u64(ptid), t.cwd(), u64(t.fdlimit()), u64(maj), u64(mnr),
                u32(t.vm_size_kb()), u32(0), u32(0), t.comm(), t.cgroups()]

    def _exec(self, ts: int, pid: int, tid: int, code: int, args: tuple[int, ...], ret: int, reader: Reader,
              entry: Entry | None) -> SyscallEvent:
        t = ProcTask(pid, tid, self.proc)
        raw = [u64(ret)] + self._proc_common(t, tid, pid, self._ptid(pid, t))
        pgid = t.pgid()
        xflags, ino, ct, mt, tpath = t.exe_facts()
        inh, prm, eff = t.caps()
        raw += [t.env(), u32(t.tty()), u64(pgid), u32(t.loginuid()), u32(xflags), u64(inh), u64(prm), u64(eff),
                u64(ino), u64(ct), u64(mt), u32(t.euid()), tpath, u64(pgid), u32(t.egid())]
        if code == 293:
            if ret >= 0:
                raw.append(entry.filename if entry is not None else b"")
            else:
                raw.append(_ustr(reader, tid, args[0]))
        return SyscallEvent(0, ts, tid, code, raw)

    def _clone(self, ts: int, pid: int, tid: int, code: int, args: tuple[int, ...], ret: int, reader: Reader,
               entry: Entry | None) -> list[SyscallEvent]:
        e = entry or self._clone_entry.get(tid)
        self._clone_entry.pop(tid, None)
        flags = e.clone_flags if e is not None else self._clone_flags(_CLONE_NAMES[code], args, tid, reader)
        t = self._parent_task.pop(tid, None)
        out = [self._clone_event(ts, pid, tid, code, flags, ret, t=t)]
        if ret > 0 and ret not in self._children_done:
            out.append(self._clone_event(ts + 1, pid, tid, code, flags, 0, child_tid=ret, t=t))
        self._children_done.discard(ret)
        return out

    def _clone_event(self, ts: int, pid: int, tid: int, code: int, lflags: int, ret: int,
                     child_tid: int = 0, t: ProcTask | None = None) -> SyscallEvent:
        """A clone-family exit event seen from the parent (``child_tid`` 0) or from the new child."""
        if t is None:
            t = ProcTask(pid, tid, self.proc)
        vtid, vpid, in_ns = t.ns_ids()
        if child_tid:
            thread = bool(lflags & _CLONE_THREAD)
            ev_tid = child_tid
            ev_pid = pid if thread else child_tid
            ptid = self._ptid(pid, t) if thread or lflags & _CLONE_PARENT else tid
            if not thread:
                self._creator[child_tid] = ptid
            c = ProcTask(ev_pid, child_tid, self.proc)
            cvtid, cvpid, c_ns = c.ns_ids()
            vtid = cvtid if cvtid != child_tid or c_ns else child_tid
            vpid = cvpid if c_ns else ev_pid
            in_ns = in_ns or c_ns
        else:
            ev_tid, ev_pid, ptid = tid, pid, self._ptid(pid, t)
        common = self._proc_common(t, ev_tid, ev_pid, ptid)
        f = F.clone_flags(lflags) | (F.CLONE_CHILD_IN_PIDNS if in_ns else 0)
        raw = [u64(ret)] + common + [u32(f), u32(t.euid()), u32(t.egid()), u64(vtid), u64(vpid), u64(0)]
        return SyscallEvent(0, ts, ev_tid, code, raw)

    def _open(self, ts: int, pid: int, tid: int, code: int, args: tuple[int, ...], ret: int, reader: Reader,
              entry: Entry | None) -> SyscallEvent:
        dirfd = AT_FDCWD
        resolve = 0
        if code == 3:
            name, lflags, mode = args[0], args[1], args[2]
        elif code == 59:
            name, lflags, mode = args[0], 0o1 | 0o100 | 0o1000, args[1]
        elif code == 307:
            dirfd, name, lflags, mode = s32(args[0]), args[1], args[2], args[3]
        else:
            dirfd, name = s32(args[0]), args[1]
            how = reader.read(tid, args[2], 24)
            lflags, mode, resolve = struct.unpack("<QQQ", how) if len(how) == 24 else (0, 0, 0)
        pf = F.open_flags(lflags & 0xFFFFFFFF)
        if not pf & (4 | 0x2000):
            mode = 0
        dev = ino = 0
        if ret >= 0:
            try:
                st = os.stat(f"{self.proc}/{pid}/fd/{ret}")
                dev, ino = st.st_dev & 0xFFFFFFFF, st.st_ino
            except OSError:
                pass
            if pf & 0x2000 or (entry is not None and entry.existed is False):
                pf |= F.O_F_CREATED
        raw = [u64(ret)]
        if code in (307, 327):
            raw.append(u64(dirfd))
        raw.append(_ustr(reader, tid, name))
        if code != 59:
            raw.append(u32(pf))
        raw.append(u32(mode))
        if code == 327:
            raw.append(u32(resolve))
        raw += [u32(dev), u64(ino)]
        if code == 59:
            raw.append(u16(0))
        return SyscallEvent(0, ts, tid, code, raw)

    def _simple(self, pid: int, tid: int, code: int, nr: int, a: tuple[int, ...], res: int,
                reader: Reader) -> list[bytes] | None:
        """Every other handled syscall, as the probe's switch writes it."""
        r = u64(res)
        snap = self.snaplen
        us = _ustr
        if code == 5:
            return [r, u64(s32(a[0]))]
        if code in (7, 9):
            n = (min(res, snap) if res > 0 else 0) if code == 7 else min(res if res > 0 else a[2], snap)
            return [r, _ubuf(reader, tid, a[1], n, snap), u64(s32(a[0])), u32(a[2])]
        if code in (113, 115):
            n = (min(res, snap) if res > 0 else 0) if code == 113 else min(res if res > 0 else a[2], snap)
            return [r, _ubuf(reader, tid, a[1], n, snap), u64(s32(a[0])), u32(a[2]), u64(a[3])]
        if code == 19:
            return [r, u32(a[0] & 0xFFFF), u32(a[1]), u32(a[2]), u32(F.socket_type_flags(a[1]))]
        if code == 21:
            return [r, self._sockaddr(reader, tid, a[1], a[2]), u64(s32(a[0]))]
        if code == 23:
            fd = s32(a[0])
            addr = self._sockaddr(reader, tid, a[1], a[2])
            tup = socket_tuple(pid, fd, inbound=False, peer=addr) if res in (0, -EINPROGRESS) else b""
            return [r, tup, u64(fd), addr]
        if code == 25:
            return [r, u64(s32(a[0])), u32(a[1])]
        if code in (247, 389):
            tup = socket_tuple(pid, res, inbound=True) if res >= 0 else b""
            raw = [r, tup, u8(0), u32(0), u32(0)]
            if code == 389:
                raw.append(u32(F.socket_type_flags(a[3])))
            return raw
        if code in (31, 29):
            fd = s32(a[0])
            n = min(res if res > 0 else a[2], snap)
            return [r, _ubuf(reader, tid, a[1], n, snap), u64(fd), u32(a[2]), socket_tuple(pid, fd, inbound=False)]
        if code == 35:
            fd = s32(a[0])
            n = min(res, snap) if res > 0 else 0
            return [r, _ubuf(reader, tid, a[1], n, snap), socket_tuple(pid, fd, inbound=True), u64(fd), u32(a[2])]
        if code in (61, 393):
            b = reader.read(tid, a[0], 8)
            fd0, fd1 = struct.unpack("<ii", b) if len(b) == 8 else (-1, -1)
            ino = 0
            if res >= 0:
                try:
                    ino = os.stat(f"{self.proc}/{pid}/fd/{fd0}").st_ino
                except OSError:
                    pass
            raw = [r, u64(fd0), u64(fd1), u64(ino)]
            if code == 393:
                raw.append(u32(F.open_flags(a[1] & 0xFFFFFFFF) & ~3))
            return raw
        if code in (95, 267, 301, 279, 387):
            return [r, us(reader, tid, a[0])]
        if code == 97:
            return [r, u64(s32(a[0]))]
        if code == 303:
            return [r, u64(s32(a[0])), us(reader, tid, a[1]), u32(a[2] & 0x200)]
        if code in (175, 309, 179):
            return [r, us(reader, tid, a[0]), us(reader, tid, a[1])]
        if code in (177, 319, 311):
            raw = [r, u64(s32(a[0])), us(reader, tid, a[1]), u64(s32(a[2])), us(reader, tid, a[3])]
            if code != 177:
                raw.append(u32(a[4]))
            return raw
        if code == 181:
            return [r, us(reader, tid, a[0]), u64(s32(a[1])), us(reader, tid, a[2])]
        if code == 277:
            return [r, us(reader, tid, a[0]), u32(a[1])]
        if code == 305:
            return [r, u64(s32(a[0])), us(reader, tid, a[1]), u32(a[2])]
        if code == 315:
            return [r, us(reader, tid, a[0]), u32(a[1] & 0o7777)]
        if code == 317:
            return [r, u64(s32(a[0])), u32(a[1] & 0o7777)]
        if code == 313:
            return [r, u64(s32(a[0])), us(reader, tid, a[1]), u32(a[2] & 0o7777)]
        if code in (199, 201):
            return [r, u32(a[0])]
        if code in (427, 429):
            return [r, u32(a[0]), u32(a[1])]
        if code in (193, 195):
            return [r, u32(a[0]), u32(a[1]), u32(a[2])]
        if code == 169:
            return [r, b"\0" + u64(a[2]), b"\0" + u64(a[3]), u16(F.ptrace_request(a[0])), u64(s32(a[1]))]
        if code == 257:
            return [r, us(reader, tid, a[0]), us(reader, tid, a[1]), us(reader, tid, a[2], 256),
                    u32(F.mount_flags(a[3]))]
        if code == 391:
            return [r, us(reader, tid, a[0]), u32(a[1] & 0xF)]
        if code == 411:
            return [r, _ubuf(reader, tid, a[0], a[1], snap), u64(a[1]), us(reader, tid, a[2], 256)]
        if code == 413:
            return [r, u64(s32(a[0])), us(reader, tid, a[1], 256), u32(a[2])]
        if code == 425:
            return [r, us(reader, tid, a[0], 256), u32(a[1] & 3)]
        if code == 369:
            return [r, u32(a[0])]
        if code == 405:
            return [r, us(reader, tid, a[0], 256), u32(a[1] & 7)]
        if code == 367:
            return [r, u64(s32(a[0]))]
        if code in (363, 365):
            raw = [r, u64(s32(a[0])), u64(s32(a[1]))]
            if code == 365:
                raw.append(u32(0x1000 if a[2] & 0o2000000 else 0))
            return raw
        if code == 241:
            return [r, u64(s32(a[0])), u32(F.clone_flags(a[1]))]
        if code == 285:
            return [r, u32(F.clone_flags(a[0]))]
        if code == 321:
            return [r, u32(F.open_flags(a[0] & 0xFFFFFFFF) & ~3)]
        if code == 401:
            if a[0] in (15, 16):
                return [r, u32(a[0]), us(reader, tid, a[1], 16), u64(0)]
            return [r, u32(a[0]), b"", u64(a[1])]
        if code in (129, 131):
            return [r, u64(s32(a[0])), u8(a[1])]
        if code == 133:
            return [r, u64(s32(a[0])), u64(s32(a[1])), u8(a[2])]
        if code == 353:
            inh, prm, eff = ProcTask(pid, tid, self.proc).caps()
            return [r, u64(inh), u64(prm), u64(eff)]
        if code == 275:
            return [r]
        if code == 1:
            return [u16(0), u16(nr)]
        return self._vector(pid, tid, code, a, res, reader)

    def _vector(self, pid: int, tid: int, code: int, a: tuple[int, ...], res: int,
                reader: Reader) -> list[bytes] | None:
        """readv/writev/preadv/pwritev and sendmsg/recvmsg: data gathered across the iovecs."""
        r = u64(res)
        snap = self.snaplen
        if code in (117, 121):
            data = self._iov(reader, tid, a[1], a[2], min(res, snap) if res > 0 else 0)[0] if res > 0 else b""
            raw = [r, u32(res if res > 0 else 0), data, u64(s32(a[0]))]
            if code == 121:
                raw.append(u64(a[3]))
            return raw
        if code in (119, 123):
            data, total = self._iov(reader, tid, a[1], a[2], min(res, snap) if res > 0 else snap)
            raw = [r, data, u64(s32(a[0])), u32(total)]
            if code == 123:
                raw.append(u64(a[3]))
            return raw
        if code in (49, 53):
            fd = s32(a[0])
            hdr = reader.read(tid, a[1], 56) if (code == 49 or res > 0) else b""
            name = iov = iovlen = control = controllen = 0
            if len(hdr) == 56:
                name, _nl, iov, iovlen, control, controllen = struct.unpack_from("<QIxxxxQQQQ", hdr)
            if code == 49:
                total = self._iov(reader, tid, iov, iovlen, 0)[1]
                n = min(res if res > 0 else total, snap)
                data = self._iov(reader, tid, iov, iovlen, n)[0]
                return [r, data, u64(fd), u32(total), socket_tuple(pid, fd, inbound=False)]
            if res > 0:
                data = self._iov(reader, tid, iov, iovlen, min(res, snap))[0]
                tup = socket_tuple(pid, fd, inbound=True)
                ctl = _ubuf(reader, tid, control, controllen, MAX_PATH - 1)
                return [r, u32(res), data, tup, ctl, u64(fd)]
            return [r, u32(0), b"", b"", b"", u64(fd)]
        return None

    def _mmsg(self, ts: int, pid: int, tid: int, code: int, a: tuple[int, ...], res: int,
              reader: Reader) -> list[SyscallEvent]:
        """sendmmsg/recvmmsg: one event per message transferred, as the probe emits them (one empty event
        when none was)."""
        fd = s32(a[0])
        if res <= 0:
            raw = [u64(res), u64(fd), u32(0), b"", b""] + ([b""] if code == 55 else [])
            return [SyscallEvent(0, ts, tid, code, raw)]
        out = []
        vec = reader.read(tid, a[1], 64 * min(res, 1024))
        snap = self.snaplen
        for i in range(len(vec) // 64):
            name, _nl, iov, iovlen, control, controllen = struct.unpack_from("<QIxxxxQQQQ", vec, 64 * i)
            mlen = struct.unpack_from("<I", vec, 64 * i + 56)[0]
            if code == 51:
                total = self._iov(reader, tid, iov, iovlen, 0)[1]
                data = self._iov(reader, tid, iov, iovlen, min(mlen if mlen > 0 else total, snap))[0]
                raw = [u64(mlen), u64(fd), u32(total), data, socket_tuple(pid, fd, inbound=False)]
            else:
                data = self._iov(reader, tid, iov, iovlen, min(mlen, snap))[0]
                ctl = _ubuf(reader, tid, control, controllen, MAX_PATH - 1)
                raw = [u64(mlen), u64(fd), u32(mlen), data, socket_tuple(pid, fd, inbound=True), ctl]
            out.append(SyscallEvent(0, ts, tid, code, raw))
        return out

    @staticmethod
    def _iov(reader: Reader, tid: int, iov: int, cnt: int, want: int) -> tuple[bytes, int]:
        """(first ``want`` data bytes, sum of the lengths) of an iovec array (first 32 entries)."""
        if not iov or not cnt:
            return b"", 0
        vec = reader.read(tid, iov, 16 * min(cnt, 32))
        out = bytearray()
        total = 0
        for i in range(len(vec) // 16):
            base, ln = struct.unpack_from("<QQ", vec, 16 * i)
            total += ln
            if want > len(out) and ln:
                out += reader.read(tid, base, min(ln, want - len(out)))
        return bytes(out), total

    @staticmethod
    def _sockaddr(reader: Reader, tid: int, addr: int, alen: int) -> bytes:
        if not addr or (alen & 0xFFFFFFFF) < 2:
            return b""
        return decode_user_sockaddr(reader.read(tid, addr, min(alen & 0xFFFFFFFF, 128)))


def entry_wanted(nr: int) -> bool:
    return nr in ENTER_NRS


def describe(ev: Any) -> str:
    """One line for logs and test failures."""
    return f"{ev.info.name} tid={ev.tid} " + ev.args_str()
