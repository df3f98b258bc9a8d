"""The reader: strings and buffers up to an unmapped page, bad pointers, pointer arrays."""

from __future__ import annotations

import ctypes
import mmap
import os

from lanner.sources.userspace.memory import PAGE, Reader

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def _guarded(data: bytes) -> tuple[mmap.mmap, int]:
    """``data`` placed to end exactly at a page followed by an inaccessible page."""
    m = mmap.mmap(-1, 2 * PAGE)
    base = ctypes.addressof(ctypes.c_char.from_buffer(m))
    assert _libc.mprotect(base + PAGE, PAGE, 0) == 0
    m[PAGE - len(data):PAGE] = data
    return m, base + PAGE - len(data)


def test_string_ending_at_an_unmapped_page() -> None:
    r, me = Reader(), os.getpid()
    m, addr = _guarded(b"/tmp/end-of-page\0")
    assert r.read_str(me, addr) == b"/tmp/end-of-page"
    m2, addr2 = _guarded(b"/no/terminator")  # the string runs into the hole: what is readable
    assert r.read_str(me, addr2) == b"/no/terminator"
    assert r.read(me, addr2, 100) == b"/no/terminator"
    assert r.read(me, addr2 + 14, 10) == b""
    assert r.read_str(me, addr2 + 14) is None
    assert r.read_str(me, 0) is None and r.read_str(me, 8) is None
    del m, m2


def test_long_reads_and_limits() -> None:
    r, me = Reader(), os.getpid()
    data = bytes(range(256)) * 64
    buf = ctypes.create_string_buffer(data, len(data))
    addr = ctypes.addressof(buf)
    assert r.read(me, addr, len(data)) == data
    long = ctypes.create_string_buffer(b"a" * 10000 + b"\0")
    assert r.read_str(me, ctypes.addressof(long), 9000) == b"a" * 9000
    assert r.read_str(me, ctypes.addressof(long), 20000) == b"a" * 10000


def test_pointer_arrays() -> None:
    r, me = Reader(), os.getpid()
    strs = [ctypes.create_string_buffer(s) for s in (b"sh", b"-c", b"echo hi")]
    arr = (ctypes.c_void_p * 4)(*[ctypes.addressof(s) for s in strs], None)
    assert r.read_strs(me, ctypes.addressof(arr)) == [b"sh", b"-c", b"echo hi"]
    assert r.read_strs(me, ctypes.addressof(arr), maxn=2) == [b"sh", b"-c"]
    arr32 = (ctypes.c_uint32 * 2)(0x1234, 0)
    assert r.read_ptrs(me, ctypes.addressof(arr32), width=4) == [0x1234]
