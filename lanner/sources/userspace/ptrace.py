"""The raw ptrace calls the tracer makes (x86_64 Linux, through libc by ctypes).

Every request must come from the one thread that seized the tracee: the kernel ties a tracee to a
tracer *thread*, so :class:`~lanner.sources.userspace.tracer.Tracer` makes them all from the thread that
iterates it. Failures raise ``OSError`` with the errno; ``ESRCH`` means the tracee died meanwhile (a
SIGKILL needs no stop) and callers treat it as "its exit is on the way".
"""

from __future__ import annotations

import ctypes
import os
import struct
from typing import Any

PTRACE_CONT = 7
PTRACE_DETACH = 17
PTRACE_SYSCALL = 24
PTRACE_SETOPTIONS = 0x4200
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GETREGSET = 0x4204
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_LISTEN = 0x4208
PTRACE_GET_SYSCALL_INFO = 0x420E

O_TRACESYSGOOD = 0x1
O_TRACEFORK = 0x2
O_TRACEVFORK = 0x4
O_TRACECLONE = 0x8
O_TRACEEXEC = 0x10
O_TRACEEXIT = 0x40
O_TRACESECCOMP = 0x80
O_EXITKILL = 0x100000

EVENT_FORK = 1
EVENT_VFORK = 2
EVENT_CLONE = 3
EVENT_EXEC = 4
EVENT_EXIT = 6
EVENT_SECCOMP = 7
EVENT_STOP = 128

INFO_NONE = 0
INFO_ENTRY = 1
INFO_EXIT = 2
INFO_SECCOMP = 3

NT_PRSTATUS = 1
AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
X32_SYSCALL_BIT = 0x40000000

#: waitpid flags: every kind of child (clone children too), and only the calling thread's tracees
WALL = 0x40000000
WNOTHREAD = 0x20000000

#: options of every seized task: all children followed, exec/exit reported, seccomp stops, and
#: syscall stops told apart from a real SIGTRAP
OPTIONS = (O_TRACESYSGOOD | O_TRACEFORK | O_TRACEVFORK | O_TRACECLONE | O_TRACEEXEC | O_TRACEEXIT
           | O_TRACESECCOMP)

_libc = ctypes.CDLL(None, use_errno=True)
_ptrace = _libc.ptrace
_ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
_ptrace.restype = ctypes.c_long


def _call(req: int, tid: int, addr: int | None, data: int | None) -> int:
    r = _ptrace(req, tid, addr, data)
    if r == -1:
        e = ctypes.get_errno()
        raise OSError(e, f"ptrace({req:#x}, {tid}): {os.strerror(e)}")
    return r


def seize(tid: int, options: int = OPTIONS) -> None:
    """Attach to ``tid`` without stopping it (``PTRACE_SEIZE``), with ``options``."""
    _call(PTRACE_SEIZE, tid, None, options)


def interrupt(tid: int) -> None:
    """Bring a seized task into a ``PTRACE_EVENT_STOP`` (``PTRACE_INTERRUPT``)."""
    _call(PTRACE_INTERRUPT, tid, None, None)


def cont(tid: int, sig: int = 0) -> None:
    """Resume until the next seccomp/event/signal stop, delivering ``sig`` (0: none)."""
    _call(PTRACE_CONT, tid, None, sig)


def syscall(tid: int, sig: int = 0) -> None:
    """Resume until the next syscall entry or exit stop too (``PTRACE_SYSCALL``)."""
    _call(PTRACE_SYSCALL, tid, None, sig)


def listen(tid: int) -> None:
    """Leave a task in group-stop, yet report its next event (``PTRACE_LISTEN``, after a group-stop)."""
    _call(PTRACE_LISTEN, tid, None, None)


def detach(tid: int, sig: int = 0) -> None:
    """Let ``tid`` go (from a ptrace-stop), delivering ``sig``."""
    _call(PTRACE_DETACH, tid, None, sig)


_msg = ctypes.c_ulong()
_msg_p = ctypes.addressof(_msg)


def event_msg(tid: int) -> int:
    """``PTRACE_GETEVENTMSG``: the new tid (fork/clone), the former tid (exec), the wait status (exit)."""
    _call(PTRACE_GETEVENTMSG, tid, None, _msg_p)
    return _msg.value


class SyscallInfo(ctypes.Structure):
    """``struct ptrace_syscall_info``; ``entry`` and ``seccomp`` share nr/args, ``exit`` overlays rval."""

    _fields_ = [
        ("op", ctypes.c_uint8),
        ("pad", ctypes.c_uint8 * 3),
        ("arch", ctypes.c_uint32),
        ("instruction_pointer", ctypes.c_uint64),
        ("stack_pointer", ctypes.c_uint64),
        ("nr", ctypes.c_uint64),  # exit: rval (signed)
        ("args", ctypes.c_uint64 * 6),  # exit: args[0] low byte is is_error
        ("ret_data", ctypes.c_uint32),
        ("pad2", ctypes.c_uint32),
    ]


_info = SyscallInfo()
_info_p = ctypes.addressof(_info)
_info_size = ctypes.sizeof(SyscallInfo)


def syscall_info(tid: int) -> tuple[int, int, int, Any]:
    """``PTRACE_GET_SYSCALL_INFO`` at a syscall stop: ``(op, arch, nr, args)`` at entry/seccomp,
    ``(op, arch, 0, rval)`` at exit (rval signed: ``-errno`` on error).

    Preferred over the registers because it names the syscall ABI of *this* call: a 64-bit process can
    still make an ``int $0x80`` call with 32-bit numbering, which the register set does not tell.
    """
    _call(PTRACE_GET_SYSCALL_INFO, tid, _info_size, _info_p)
    i = _info
    op = i.op
    if op == INFO_EXIT:
        rval = i.nr
        return op, i.arch, 0, rval - (1 << 64) if rval >= 1 << 63 else rval
    if op == INFO_NONE:
        return op, i.arch, 0, ()
    return op, i.arch, i.nr, tuple(i.args)


#: x86_64 ``struct user_regs_struct`` field order
REGS64 = ("r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
          "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs")
#: i386 ``struct user_regs_struct`` field order (what a 32-bit process's register set holds)
REGS32 = ("ebx", "ecx", "edx", "esi", "edi", "ebp", "eax", "xds", "xes", "xfs", "xgs", "orig_eax", "eip",
          "xcs", "eflags", "esp", "xss")


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


_regbuf = ctypes.create_string_buffer(8 * len(REGS64))
_regiov = _Iovec(ctypes.addressof(_regbuf), len(_regbuf))
_regiov_p = ctypes.addressof(_regiov)


def get_regs(tid: int) -> dict[str, int]:
    """The general registers (``PTRACE_GETREGSET`` ``NT_PRSTATUS``), by name; a 32-bit process gets
    the i386 names (the kernel returns the smaller set)."""
    _regiov.len = len(_regbuf)
    _call(PTRACE_GETREGSET, tid, NT_PRSTATUS, _regiov_p)
    n = _regiov.len
    if n == 4 * len(REGS32):
        return dict(zip(REGS32, struct.unpack_from(f"<{len(REGS32)}I", _regbuf.raw), strict=True))
    return dict(zip(REGS64, struct.unpack_from(f"<{len(REGS64)}Q", _regbuf.raw), strict=True))


def syscall_args_from_regs(regs: dict[str, int]) -> tuple[int, tuple[int, ...]]:
    """(syscall nr, 6 args) from a register set taken at a syscall or event stop."""
    if "orig_rax" in regs:
        return regs["orig_rax"], tuple(regs[r] for r in ("rdi", "rsi", "rdx", "r10", "r8", "r9"))
    return regs["orig_eax"], tuple(regs[r] for r in ("ebx", "ecx", "edx", "esi", "edi", "ebp"))
