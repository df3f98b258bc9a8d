"""Linux flag values -> the PPM values the event table uses, bit for bit as the eBPF probe translates
them (``sources/ebpf/probe.bpf.c``), so a userspace event carries the same flags as a probe event."""

from __future__ import annotations

_OPEN_BITS = ((0o100, 0x4), (0o2000, 0x8), (0o10000, 0x10), (0o200, 0x20), (0o4000, 0x40), (0o4000000, 0x80),
              (0o1000, 0x100), (0o40000, 0x200), (0o100000, 0x800), (0o2000000, 0x1000), (0o20000000, 0x2000))
_O_DIRECTORY, _O_TMPFILE_BIT = 0o200000, 0o20000000

_CLONE_BITS = ((0x400, 0x1), (0x200, 0x2), (0x80000000, 0x4), (0x08000000, 0x8), (0x40000000, 0x10),
               (0x20000, 0x20), (0x20000000, 0x40), (0x04000000, 0x80), (0x8000, 0x100), (0x100000, 0x200),
               (0x2000, 0x400), (0x800, 0x800), (0x40000, 0x1000), (0x10000, 0x2000), (0x800000, 0x4000),
               (0x100, 0x8000), (0x10000000, 0x100000), (0x200000, 0x800000), (0x01000000, 0x1000000),
               (0x80000, 0x2000000), (0x4000, 0x8000000), (0x02000000, 0x10000000))

#: Linux ptrace request -> PPM ``ptrace_requests`` value (0 = unknown)
_PTRACE = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 7, 7: 8, 8: 9, 9: 10, 16: 11, 17: 12, 24: 13, 0x4200: 14,
           0x4201: 15, 0x4202: 16, 0x4203: 17, 0x4204: 18, 0x4205: 19, 0x4206: 20, 0x4207: 21, 0x4208: 22,
           0x4209: 23, 0x420a: 24, 0x420b: 25, 12: 26, 13: 27, 14: 28, 15: 29, 18: 30, 19: 31, 21: 32, 25: 33,
           26: 34, 30: 35, 31: 36, 32: 37, 33: 38}

CLONE_CHILD_IN_PIDNS = 0x20000000
O_F_CREATED = 0x4000


def open_flags(f: int) -> int:
    """open(2) flags as PPM ``file_flags`` (access mode, then one bit per flag)."""
    r = {0: 1, 1: 2}.get(f & 3, 3)
    for lin, ppm in _OPEN_BITS:
        if f & lin:
            r |= ppm
    if f & _O_DIRECTORY and not f & _O_TMPFILE_BIT:
        r |= 0x400
    return r


def clone_flags(f: int) -> int:
    r = 0
    for lin, ppm in _CLONE_BITS:
        if f & lin:
            r |= ppm
    return r


def socket_type_flags(t: int) -> int:
    """SOCK_NONBLOCK / SOCK_CLOEXEC of a socket type as PPM file flags."""
    return (0x40 if t & 0o4000 else 0) | (0x1000 if t & 0o2000000 else 0)


def ptrace_request(r: int) -> int:
    return _PTRACE.get(r, 0)


def mount_flags(f: int) -> int:
    if (f & 0xffff0000) == 0xC0ED0000:
        f &= 0xffff
    return f & 0xffffffff
