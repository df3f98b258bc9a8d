"""Writing ``.scap`` captures that both lanner and Falco read (scap-format.md 6.2).

Layout written: SHB 1.2, MI, IL v2, UL v2, PL v9, FDL v2 (each optional), then one EV v2 block
(``0x216``; ``0x217`` when dump flags are set; ``0x221``/``0x222`` for LARGE_PAYLOAD types) per event,
with the event's raw parameters as they are (events from the reader are already in the current
layout). Output is gzip-compressed unless ``compress=False``.
"""

from __future__ import annotations

import gzip
import ipaddress
import os
import struct
from collections.abc import Iterable
from typing import BinaryIO

from lanner.events import table as T
from lanner.events.syscall import SyscallEvent
from lanner.sources.scap import blocks as B
from lanner.sources.scap.records import (
    FD_FILE_V2,
    FD_IPV4_SERVSOCK,
    FD_IPV4_SOCK,
    FD_IPV6_SERVSOCK,
    FD_IPV6_SOCK,
    FD_UNIX_SOCK,
    FdRecord,
    GroupRecord,
    InterfaceRecord,
    MachineInfo,
    ThreadRecord,
    UserRecord,
)

_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")
_EV2 = struct.Struct("<QQIHI")


def _block(btype: int, body: bytes) -> bytes:
    pad = _PAD[len(body) & 3]
    total = 8 + len(body) + len(pad) + 4
    return struct.pack("<II", btype, total) + body + pad + struct.pack("<I", total)


def _str16(s: str) -> bytes:
    b = s.encode("utf-8", "surrogateescape")
    return struct.pack("<H", len(b)) + b


def _list16(items: list[str]) -> bytes:
    b = b"".join(x.encode("utf-8", "surrogateescape") + b"\0" for x in items)
    return struct.pack("<H", len(b)) + b


def encode_machine_info(m: MachineInfo) -> bytes:
    host = m.hostname.encode("utf-8", "surrogateescape")[:127].ljust(128, b"\0")
    body = struct.pack("<IQQ", m.num_cpus, m.memory_size_bytes, m.max_pid) + host
    body += struct.pack("<QQQQ", m.boot_ts_epoch, m.flags, 0, 0)
    return _block(B.MI, body)


def encode_interfaces(ifaces: Iterable[InterfaceRecord]) -> bytes:
    entries = []
    for i in sorted(ifaces, key=lambda x: x.is_ipv6):
        typ = 2 if i.is_ipv6 else 1
        name = i.name.encode("utf-8", "surrogateescape")
        e = (struct.pack("<HH", typ, len(name)) + i.addr.packed + i.netmask.packed + i.broadcast.packed
             + struct.pack("<Q", i.linkspeed) + name)
        entries.append(struct.pack("<I", len(e)) + e)
    return _block(B.IL_V2, b"".join(entries))


def encode_users(users: Iterable[UserRecord], groups: Iterable[GroupRecord]) -> bytes:
    entries = []
    for u in users:
        e = struct.pack("<BII", 0, u.uid, u.gid) + _str16(u.name) + _str16(u.homedir) + _str16(u.shell)
        entries.append(struct.pack("<I", len(e) + 4) + e)
    for g in groups:
        e = struct.pack("<BI", 1, g.gid) + _str16(g.name)
        entries.append(struct.pack("<I", len(e) + 4) + e)
    return _block(B.UL_V2, b"".join(entries))


def encode_thread(t: ThreadRecord) -> bytes:
    e = struct.pack("<QQQqq", t.tid, t.pid, t.ptid, t.sid, t.vpgid)
    e += _str16(t.comm) + _str16(t.exe) + _str16(t.exepath) + _list16(t.args) + _str16(t.cwd or "/")
    e += struct.pack("<QIII", t.fdlimit, t.flags, t.uid, t.gid)
    e += struct.pack("<IIIQQ", t.vmsize_kb, t.vmrss_kb, t.vmswap_kb, t.pfmajor, t.pfminor)
    e += _list16(t.env) + struct.pack("<qq", t.vtid, t.vpid) + _list16(t.cgroups) + _str16(t.root)
    e += struct.pack("<QIIB", t.pidns_init_start_ts, t.tty, t.loginuid, t.exe_writable)
    e += struct.pack("<QQQB", t.cap_inheritable, t.cap_permitted, t.cap_effective, t.exe_upper_layer)
    e += struct.pack("<QQQBBq", t.exe_ino, t.exe_ino_ctime, t.exe_ino_mtime, t.exe_from_memfd,
                     t.exe_lower_layer, t.pgid)
    return struct.pack("<I", len(e) + 4) + e


def _packed(ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None, size: int) -> bytes:
    """An address as the record stores it; a socket record without one is written as zeros, not refused."""
    return ip.packed if ip is not None else bytes(size)


def encode_fd(r: FdRecord) -> bytes:
    e = struct.pack("<qQB", r.fd, r.ino, r.type)
    t = r.type
    if t == FD_IPV4_SOCK:
        e += _packed(r.sip, 4) + _packed(r.dip, 4) + struct.pack("<HHB", r.sport, r.dport, r.l4proto)
    elif t == FD_IPV4_SERVSOCK:
        e += _packed(r.sip, 4) + struct.pack("<HB", r.sport, r.l4proto)
    elif t == FD_IPV6_SOCK:
        e += _packed(r.sip, 16) + _packed(r.dip, 16) + struct.pack("<HHB", r.sport, r.dport, r.l4proto)
    elif t == FD_IPV6_SERVSOCK:
        e += _packed(r.sip, 16) + struct.pack("<HB", r.sport, r.l4proto)
    elif t == FD_UNIX_SOCK:
        e += struct.pack("<QQ", r.unix_src, r.unix_dst) + _str16(r.name)
    elif t == FD_FILE_V2:
        e += struct.pack("<I", r.open_flags) + _str16(r.name)
        if r.dev is not None:
            e += struct.pack("<I", r.dev)
    else:
        e += _str16(r.name)
    return struct.pack("<I", len(e) + 4) + e


def encode_event(ev: SyscallEvent) -> bytes:
    """One event block (EV v2 family) for ``ev``."""
    raw = ev.raw
    info = T.EVENTS[ev.type]
    large = info.large
    n = len(raw)
    lens = struct.pack(f"<{n}{'I' if large else 'H'}", *map(len, raw)) if n else b""
    vals = b"".join(raw)
    ln = 26 + len(lens) + len(vals)
    hdr = _EV2.pack(ev.ts, ev.tid & 0xFFFFFFFFFFFFFFFF, ln, ev.type, n)
    flags = ev.flags & ~4
    if flags:
        btype = B.EVF_V2_LARGE if large else B.EVF_V2
        body = struct.pack("<HI", ev.cpu, flags) + hdr + lens + vals
    else:
        btype = B.EV_V2_LARGE if large else B.EV_V2
        body = struct.pack("<H", ev.cpu) + hdr + lens + vals
    if btype in (B.EV_V2, B.EVF_V2) and len(body) + (-len(body) & 3) + 4 > 65536:
        raise ValueError(f"event #{ev.num} ({info.name}) is too large for a non-large event block")
    return _block(btype, body)


class ScapWriter:
    """Write a capture: ``write_metadata(...)`` once, then ``write(ev)`` per event, then ``close()``."""

    def __init__(self, dest: str | os.PathLike | BinaryIO, compress: bool = True) -> None:
        if isinstance(dest, (str, os.PathLike)):
            self._raw: BinaryIO = open(dest, "wb")  # noqa: SIM115 - closed by close()
            self._own = True
        else:
            self._raw = dest
            self._own = False
        self._f = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=6) if compress else self._raw
        self._f.write(_block(B.SHB, struct.pack("<IHHq", B.SHB_MAGIC, 1, 2, -1)))
        self.events_written = 0
        self._buf: list[bytes] = []

    def write_metadata(self, machine: MachineInfo | None = None,
                       interfaces: Iterable[InterfaceRecord] = (),
                       users: Iterable[UserRecord] = (), groups: Iterable[GroupRecord] = (),
                       threads: Iterable[ThreadRecord] = (),
                       fds: dict[int, list[FdRecord]] | None = None) -> None:
        f = self._f
        if machine is not None:
            f.write(encode_machine_info(machine))
        ifaces = list(interfaces)
        if ifaces:
            f.write(encode_interfaces(ifaces))
        users, groups = list(users), list(groups)
        if users or groups:
            f.write(encode_users(users, groups))
        threads = list(threads)
        if threads:
            f.write(_block(B.PL_V9, b"".join(encode_thread(t) for t in threads)))
        for tid, recs in (fds or {}).items():
            body = struct.pack("<Q", tid) + b"".join(encode_fd(r) for r in recs if r.type > 0)
            f.write(_block(B.FDL_V2, body))

    def write_from_reader(self, reader) -> None:
        """Copy the current section metadata of a :class:`ScapReader`."""
        self.write_metadata(reader.machine, reader.interfaces, reader.users, reader.groups,
                            reader.threads.values(), reader.fds)

    def write(self, ev: SyscallEvent) -> None:
        self._buf.append(encode_event(ev))
        self.events_written += 1
        if len(self._buf) >= 4096:
            self._f.write(b"".join(self._buf))
            self._buf.clear()

    def flush(self) -> None:
        """Hand the buffered events to the compressor (the file grows as zlib emits blocks)."""
        if self._buf:
            self._f.write(b"".join(self._buf))
            self._buf.clear()

    def close(self) -> None:
        if self._buf:
            self._f.write(b"".join(self._buf))
            self._buf.clear()
        if self._f is not self._raw:
            self._f.close()
        if self._own:
            self._raw.close()

    def __enter__(self) -> ScapWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
