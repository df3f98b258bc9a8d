"""The seccomp filter that makes the kernel stop the tracee only at the syscalls lanner needs.

A classic-BPF program over ``struct seccomp_data``: native x86_64 calls in the wanted set return
``SECCOMP_RET_TRACE`` (a ptrace stop at entry), every other native call ``SECCOMP_RET_ALLOW`` (no stop,
no cost beyond the filter). The program only loads ``arch`` and ``nr``, so kernels >= 5.11 cache the
ALLOW verdicts in a per-syscall bitmap and skip running it for those calls entirely.

Calls of another ABI (``int $0x80`` i386 calls, even from a 64-bit process, and x32 calls) all return
``SECCOMP_RET_TRACE``: the tracer reports them with their ABI and numbering rather than letting a
32-bit caller slip past the filter. The filter is inherited across fork/clone and kept across execve,
so every descendant of the traced command is covered and cannot remove it.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Iterable

from lanner.sources.userspace.ptrace import AUDIT_ARCH_X86_64, X32_SYSCALL_BIT

RET_ALLOW = 0x7FFF0000
RET_TRACE = 0x7FF00000
RET_ERRNO = 0x00050000
RET_KILL_PROCESS = 0x80000000

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGT_K = 0x25
_JGE_K = 0x35
_JA = 0x05
_RET_K = 0x06
_OFF_NR = 0
_OFF_ARCH = 4

#: leaves of the search tree test this many numbers one after the other
_LEAF = 4

Insn = tuple[int, int, int, int]


def insn(code: int, jt: int = 0, jf: int = 0, k: int = 0) -> Insn:
    """One ``struct sock_filter``."""
    return (code, jt, jf, k)


def _tree(nrs: list[int], hit: int) -> list[Insn]:
    """A binary search over sorted ``nrs``: each leaf tests up to ``_LEAF`` numbers and returns ``hit``
    on a match, ALLOW otherwise (returns are repeated per leaf so every jump stays short)."""
    if len(nrs) <= _LEAF:
        code = [insn(_JEQ_K, len(nrs) - i, 0, n) for i, n in enumerate(nrs)]
        return [*code, insn(_RET_K, k=RET_ALLOW), insn(_RET_K, k=hit)]
    mid = len(nrs) // 2
    left, right = _tree(nrs[:mid], hit), _tree(nrs[mid:], hit)
    if len(left) <= 255:
        return [insn(_JGT_K, len(left), 0, nrs[mid - 1]), *left, *right]
    return [insn(_JGT_K, 0, 1, nrs[mid - 1]), insn(_JA, k=len(left)), *left, *right]


def build_program(syscalls: Iterable[int], *, other_abi: int = RET_TRACE) -> list[Insn]:
    """The filter: TRACE for native ``syscalls``, ALLOW for other native calls, ``other_abi`` for calls of
    another ABI (i386, x32)."""
    nrs = sorted({int(n) for n in syscalls if 0 <= int(n) < X32_SYSCALL_BIT})
    head = [
        insn(_LD_W_ABS, k=_OFF_ARCH),
        insn(_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        insn(_RET_K, k=other_abi),
        insn(_LD_W_ABS, k=_OFF_NR),
        insn(_JGE_K, 0, 1, X32_SYSCALL_BIT),
        insn(_RET_K, k=other_abi),
    ]
    body = _tree(nrs, RET_TRACE) if nrs else [insn(_RET_K, k=RET_ALLOW)]
    prog = head + body
    if len(prog) > 4096:
        raise ValueError(f"seccomp program too long ({len(prog)} instructions)")
    return prog


def run_program(prog: list[Insn], nr: int, arch: int = AUDIT_ARCH_X86_64) -> int:
    """The verdict ``prog`` gives a call (an interpreter of the instructions above, for tests and checks)."""
    pc = 0
    acc = 0
    while True:
        code, jt, jf, k = prog[pc]
        if code == _LD_W_ABS:
            acc = arch if k == _OFF_ARCH else nr
            pc += 1
        elif code == _RET_K:
            return k
        elif code == _JA:
            pc += 1 + k
        else:
            ok = {_JEQ_K: acc == k, _JGT_K: acc > k, _JGE_K: acc >= k}[code]
            pc += 1 + (jt if ok else jf)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long
_prctl = _libc.prctl
_prctl.restype = ctypes.c_int

SYS_SECCOMP = 317
SECCOMP_SET_MODE_FILTER = 1
PR_SET_NO_NEW_PRIVS = 38


class Installer:
    """A program packed ahead of time, so the forked child only makes two or three calls (no Python
    allocation between fork and exec beyond what the interpreter does anyway)."""

    def __init__(self, prog: list[Insn]) -> None:
        raw = b"".join(struct.pack("<HBBI", *i) for i in prog)
        self._buf = ctypes.create_string_buffer(raw, len(raw))
        self._fprog = _SockFprog(len(prog), ctypes.addressof(self._buf))
        self._p = ctypes.c_void_p(ctypes.addressof(self._fprog))

    def install(self) -> tuple[str, int]:
        """Install in the calling process: ``("", 0)`` or the failing step and its errno. Without
        CAP_SYS_ADMIN the kernel requires no_new_privs first; with it (root) no_new_privs is left unset
        so setuid programs keep working."""
        if _syscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, 0, self._p) == 0:
            return "", 0
        e = ctypes.get_errno()
        if e != 13:  # EACCES: no CAP_SYS_ADMIN and no no_new_privs
            return "seccomp", e
        if _prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            return "prctl(PR_SET_NO_NEW_PRIVS)", ctypes.get_errno()
        if _syscall(SYS_SECCOMP, SECCOMP_SET_MODE_FILTER, 0, self._p) != 0:
            return "seccomp", ctypes.get_errno()
        return "", 0
