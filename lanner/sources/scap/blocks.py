"""Block ids and parsers of the metadata blocks of a capture (scap-format.md sections 2-5)."""

from __future__ import annotations

import ipaddress
import struct

from lanner.sources.api import SourceError
from lanner.sources.scap.records import (
    FD_FILE_V2,
    FD_IPV4_SERVSOCK,
    FD_IPV4_SOCK,
    FD_IPV6_SERVSOCK,
    FD_IPV6_SOCK,
    FD_UNIX_SOCK,
    FD_UNSUPPORTED,
    FdRecord,
    GroupRecord,
    InterfaceRecord,
    MachineInfo,
    ThreadRecord,
    UserRecord,
)


class ScapError(SourceError):
    """A capture file is invalid or truncated; the message names the file and byte offset."""


SHB = 0x0A0D0D0A
SHB_MAGIC = 0x1A2B3C4D
MI = 0x201
PL_V1, PL_V2, PL_V3, PL_V4, PL_V5, PL_V6, PL_V7, PL_V8, PL_V9 = (
    0x202, 0x207, 0x209, 0x210, 0x211, 0x212, 0x213, 0x214, 0x215)
FDL_V1, FDL_V2 = 0x203, 0x218
IL_V1, IL_V2 = 0x205, 0x219
UL_V1, UL_V2 = 0x206, 0x220
EV_V1, EVF_V1, EV_V2, EVF_V2, EV_V2_LARGE, EVF_V2_LARGE = 0x204, 0x208, 0x216, 0x217, 0x221, 0x222

LEGACY = {0x8002ABCD: MI, 0x8000ABCD: PL_V1, 0x8013ABCD: PL_V2, 0x8014ABCD: PL_V3, 0x8001ABCD: FDL_V1,
          0x8011ABCD: IL_V1, 0x8012ABCD: UL_V1, 0x8010ABCD: EV_V1}
PL_VERSION = {PL_V1: 1, PL_V2: 2, PL_V3: 3, PL_V4: 4, PL_V5: 5, PL_V6: 6, PL_V7: 7, PL_V8: 8, PL_V9: 9}
EVENT_BLOCKS = frozenset({EV_V1, EVF_V1, EV_V2, EVF_V2, EV_V2_LARGE, EVF_V2_LARGE})
BLOCK_NAMES = {SHB: "SHB", MI: "MI", FDL_V1: "FDL v1", FDL_V2: "FDL v2", IL_V1: "IL v1", IL_V2: "IL v2",
               UL_V1: "UL v1", UL_V2: "UL v2", EV_V1: "EV v1", EVF_V1: "EVF v1", EV_V2: "EV v2",
               EVF_V2: "EVF v2", EV_V2_LARGE: "EV v2 large", EVF_V2_LARGE: "EVF v2 large",
               **{k: f"PL v{v}" for k, v in PL_VERSION.items()}}


def _s(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


class _Cur:
    """Bounds-checked little-endian cursor over one block body."""

    __slots__ = ("b", "p", "end", "what")

    def __init__(self, b: bytes, what: str, start: int = 0, end: int | None = None) -> None:
        self.b = b
        self.p = start
        self.end = len(b) if end is None else end
        self.what = what

    def need(self, n: int) -> None:
        if self.p + n > self.end:
            raise ValueError(f"{self.what}: needs {n} bytes at body offset {self.p}, only {self.end - self.p} left")

    def u8(self) -> int:
        self.need(1)
        self.p += 1
        return self.b[self.p - 1]

    def u16(self) -> int:
        self.need(2)
        v = struct.unpack_from("<H", self.b, self.p)[0]
        self.p += 2
        return v

    def u32(self) -> int:
        self.need(4)
        v = struct.unpack_from("<I", self.b, self.p)[0]
        self.p += 4
        return v

    def u64(self) -> int:
        self.need(8)
        v = struct.unpack_from("<Q", self.b, self.p)[0]
        self.p += 8
        return v

    def i64(self) -> int:
        self.need(8)
        v = struct.unpack_from("<q", self.b, self.p)[0]
        self.p += 8
        return v

    def raw(self, n: int) -> bytes:
        self.need(n)
        self.p += n
        return self.b[self.p - n:self.p]

    def str16(self, limit: int | None = None) -> str:
        n = self.u16()
        if limit is not None and n > limit:
            raise ValueError(f"{self.what}: string of {n} bytes exceeds the limit {limit}")
        return _s(self.raw(n))

    def strlist16(self, limit: int) -> list[str]:
        n = self.u16()
        if n > limit:
            raise ValueError(f"{self.what}: list of {n} bytes exceeds the limit {limit}")
        data = self.raw(n)
        parts = data.split(b"\0")
        if parts and parts[-1] == b"":
            parts.pop()
        return [_s(p) for p in parts]

    def left(self) -> int:
        return self.end - self.p


def parse_machine_info(body: bytes) -> MachineInfo:
    if len(body) < 180:
        raise ValueError(f"machine info body is {len(body)} bytes, expected 180")
    ncpu, mem, maxpid = struct.unpack_from("<IQQ", body, 0)
    host = body[20:148]
    n = host.find(b"\0")
    boot, flags = struct.unpack_from("<QQ", body, 148)
    return MachineInfo(ncpu, mem, maxpid, _s(host[:n] if n >= 0 else host), boot, flags)


def parse_interfaces(body: bytes, v2: bool) -> list[InterfaceRecord]:
    out = []
    c = _Cur(body, "interface list")
    while c.left() >= 4:
        start = c.p
        entry_end = None
        if v2:
            ln = c.u32()
            entry_end = c.p + ln
        typ = c.u16()
        namelen = c.u16()
        if typ in (1, 3):
            w = 4
        elif typ in (2, 4):
            w = 16
        else:
            raise ValueError(f"interface list: unknown interface type {typ} at body offset {start}")
        addr, mask, bcast = (ipaddress.ip_address(c.raw(w)) for _ in range(3))
        speed = c.u64() if typ in (1, 2) else 0
        if namelen > 255:
            raise ValueError(f"interface list: name of {namelen} bytes is too long")
        name = _s(c.raw(namelen))
        out.append(InterfaceRecord(typ, name, addr, mask, bcast, speed))
        if entry_end is not None:
            c.p = entry_end
    return out


def parse_users(body: bytes, v2: bool) -> tuple[list[UserRecord], list[GroupRecord]]:
    users, groups = [], []
    c = _Cur(body, "user list")
    while c.left() >= 4:
        start = c.p
        if v2:
            ln = c.u32()
            if ln < 5:
                raise ValueError(f"user list: entry length {ln} at body offset {start}")
        typ = c.u8()
        if typ == 0:
            uid, gid = c.u32(), c.u32()
            users.append(UserRecord(uid, gid, c.str16(255), c.str16(255), c.str16(255)))
        elif typ == 1:
            gid = c.u32()
            groups.append(GroupRecord(gid, c.str16(255)))
        else:
            raise ValueError(f"user list: unknown entry type {typ} at body offset {start}")
        if v2:
            c.p = start + ln
    return users, groups


def parse_process_list(body: bytes, version: int) -> list[ThreadRecord]:
    out = []
    c = _Cur(body, f"process list v{version}")
    while c.left() >= 4:  # the block body may end with up to 3 padding bytes
        start = c.p
        entry_len = c.u32() if version == 9 else None
        if entry_len is not None and (entry_len < 4 or start + entry_len > c.end):
            raise ValueError(f"process list v9: entry length {entry_len} at body offset {start} "
                             f"exceeds the block ({c.end - start} bytes left)")
        t = ThreadRecord(c.u64(), c.u64(), c.u64())
        if version >= 6:
            t.sid = c.i64()
        if version >= 8:
            t.vpgid = c.i64()
        t.comm = c.str16(1024)
        t.exe = c.str16(1024)
        if version >= 7:
            t.exepath = c.str16(1024)
        t.args = c.strlist16(4096)
        t.cwd = c.str16()
        t.fdlimit = c.u64()
        t.flags = c.u32()
        t.uid = c.u32()
        t.gid = c.u32()
        if version >= 2:
            t.vmsize_kb, t.vmrss_kb, t.vmswap_kb = c.u32(), c.u32(), c.u32()
            t.pfmajor, t.pfminor = c.u64(), c.u64()
        if version >= 3:
            t.env = c.strlist16(4096)
        if version >= 4:
            t.vtid, t.vpid = c.i64(), c.i64()
            t.cgroups = c.strlist16(4096)
        if version >= 5:
            t.root = c.str16()
        if entry_len is not None:
            end = start + entry_len

            def fits(n: int, end: int = end) -> bool:
                return c.p + n <= end

            if end - c.p > 29:  # the pre-0.10 tail has no pidns_init_start_ts/tty
                if fits(8):
                    t.pidns_init_start_ts = c.u64()
                if fits(4):
                    t.tty = c.u32()
            if fits(4):
                t.loginuid = c.u32()
            if fits(1):
                t.exe_writable = bool(c.u8())
            if fits(24):
                t.cap_inheritable, t.cap_permitted, t.cap_effective = c.u64(), c.u64(), c.u64()
            if fits(1):
                t.exe_upper_layer = bool(c.u8())
            if fits(24):
                t.exe_ino, t.exe_ino_ctime, t.exe_ino_mtime = c.u64(), c.u64(), c.u64()
            if fits(1):
                t.exe_from_memfd = bool(c.u8())
            if fits(1):
                t.exe_lower_layer = bool(c.u8())
            if fits(8):
                t.pgid = c.i64()
            c.p = end
        out.append(t)
    return out


def _ip4(b: bytes) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(b)


def parse_fd_list(body: bytes, v2: bool) -> tuple[int, list[FdRecord]]:
    c = _Cur(body, "fd list v2" if v2 else "fd list v1")
    tid = c.u64()
    out = []
    while c.left() >= 4:
        start = c.p
        end = None
        if v2:
            ln = c.u32()
            end = start + ln
            if ln < 4 or end > c.end:
                raise ValueError(f"fd list: entry length {ln} at body offset {start} exceeds the block")
        fd, ino, typ = c.i64(), c.u64(), c.u8()
        r = FdRecord(fd, ino, typ)
        if typ == FD_IPV4_SOCK:
            r.sip, r.dip = _ip4(c.raw(4)), _ip4(c.raw(4))
            r.sport, r.dport, r.l4proto = c.u16(), c.u16(), c.u8()
        elif typ == FD_IPV4_SERVSOCK:
            r.sip = _ip4(c.raw(4))
            r.sport, r.l4proto = c.u16(), c.u8()
        elif typ == FD_IPV6_SOCK:
            r.sip, r.dip = ipaddress.IPv6Address(c.raw(16)), ipaddress.IPv6Address(c.raw(16))
            r.sport, r.dport, r.l4proto = c.u16(), c.u16(), c.u8()
        elif typ == FD_IPV6_SERVSOCK:
            r.sip = ipaddress.IPv6Address(c.raw(16))
            r.sport, r.l4proto = c.u16(), c.u8()
        elif typ == FD_UNIX_SOCK:
            r.unix_src, r.unix_dst = c.u64(), c.u64()
            r.name = c.str16(1023)
        elif typ == FD_FILE_V2:
            r.open_flags = c.u32()
            r.name = c.str16(1023)
            if end is not None and end - c.p >= 4:
                r.dev = c.u32()
        elif 1 <= typ <= 21 and typ != 16:
            r.name = c.str16(1023)
        else:
            if end is None:
                raise ValueError(f"fd list v1: fd {fd} has unknown type {typ}; cannot continue")
            r.type = FD_UNSUPPORTED
            r.name = f"unknown-type:[{typ}]"
        if end is not None:
            c.p = end
        out.append(r)
    return tid, out
