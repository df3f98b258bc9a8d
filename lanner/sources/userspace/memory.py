"""Reading a stopped tracee's memory: strings, buffers, pointer arrays.

``process_vm_readv`` copies straight from the tracee (one syscall, no per-word ``PTRACE_PEEKDATA``); where
a sandbox forbids it, ``/proc/<tid>/mem`` serves instead. Reads never raise on a bad address: a fault gives
the bytes up to it (possibly none), as the probe gives an empty parameter for an unreadable pointer. Reads
stop at page boundaries before crossing them, so a string that ends right before an unmapped page is read
whole.
"""

from __future__ import annotations

import ctypes
import errno
import os

PAGE = os.sysconf("SC_PAGE_SIZE")


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


_libc = ctypes.CDLL(None, use_errno=True)
_readv = _libc.process_vm_readv
_readv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
_readv.restype = ctypes.c_ssize_t


class Reader:
    """Reads memory of tasks traced by this process (valid while the task is in a ptrace-stop)."""

    def __init__(self, max_chunk: int = 1 << 20) -> None:
        self._buf = ctypes.create_string_buffer(max_chunk)
        self._bufp = ctypes.addressof(self._buf)
        self._local = _Iovec(self._bufp, 0)
        self._remote = _Iovec(0, 0)
        self._lp = ctypes.addressof(self._local)
        self._rp = ctypes.addressof(self._remote)
        self._use_proc_mem = False
        self._mem_fds: dict[int, int] = {}

    def _read_some(self, tid: int, addr: int, size: int) -> bytes:
        """At most ``size`` bytes from ``addr`` (all on one page run); empty on a fault. A task that made
        itself non-dumpable (``PR_SET_DUMPABLE`` 0) refuses every read (``process_vm_readv``,
        ``/proc/<tid>/mem``, even ``PTRACE_PEEKDATA``) to a tracer without CAP_SYS_PTRACE."""
        size = min(size, len(self._buf))
        if size <= 0 or addr <= 0:
            return b""
        if not self._use_proc_mem:
            self._local.len = size
            self._remote.base = addr
            self._remote.len = size
            n = _readv(tid, self._lp, 1, self._rp, 1, 0)
            if n >= 0:
                return ctypes.string_at(self._bufp, n)
            e = ctypes.get_errno()
            if e == errno.EPERM:  # a sandbox forbidding the call, or a non-dumpable task (then both fail)
                data = self._proc_mem(tid, addr, size)
                self._use_proc_mem = bool(data)
                return data
            if e != errno.ENOSYS:
                return b""
            self._use_proc_mem = True
        return self._proc_mem(tid, addr, size)

    def _proc_mem(self, tid: int, addr: int, size: int) -> bytes:
        fd = self._mem_fds.get(tid)
        try:
            if fd is None:
                fd = self._mem_fds[tid] = os.open(f"/proc/{tid}/mem", os.O_RDONLY | os.O_CLOEXEC)
            return os.pread(fd, size, addr)
        except (OSError, OverflowError):
            return b""

    def forget(self, tid: int) -> None:
        """Drop what is kept for a task that exited or exec'd (its ``/proc/<tid>/mem`` descriptor)."""
        fd = self._mem_fds.pop(tid, None)
        if fd is not None:
            os.close(fd)

    def read(self, tid: int, addr: int, size: int) -> bytes:
        """``size`` bytes at ``addr`` in ``tid``, or fewer up to the first unreadable page."""
        out = self._read_some(tid, addr, size)
        if len(out) == size or size > len(self._buf):
            return out
        addr += len(out)
        size -= len(out)
        while size > 0:
            step = min(size, PAGE - addr % PAGE)
            got = self._read_some(tid, addr, step)
            out += got
            if len(got) < step:
                break
            addr += step
            size -= step
        return out

    def read_str(self, tid: int, addr: int, maxlen: int = 4096) -> bytes | None:
        """The NUL-terminated string at ``addr`` (without the NUL), at most ``maxlen`` bytes; None when not
        even its first byte is readable (a bad pointer, as against an empty string)."""
        out = b""
        chunk = 256  # most strings are short: a first small read, then the rest page by page
        while len(out) < maxlen:
            step = min(maxlen - len(out), PAGE - addr % PAGE, chunk)
            chunk = PAGE
            got = self._read_some(tid, addr, step)
            if not got and not out:
                return None
            nul = got.find(b"\0")
            if nul >= 0:
                return out + got[:nul]
            out += got
            if len(got) < step:
                break
            addr += step
        return out

    def read_ptrs(self, tid: int, addr: int, maxn: int = 1024, width: int = 8) -> list[int]:
        """The pointers of a NULL-terminated array (``argv``/``envp``), at most ``maxn``; ``width`` 4 for a
        32-bit caller."""
        out: list[int] = []
        while len(out) < maxn:
            n = min(maxn - len(out), 64)
            raw = self.read(tid, addr, n * width)
            for i in range(len(raw) // width):
                p = int.from_bytes(raw[i * width:(i + 1) * width], "little")
                if p == 0:
                    return out
                out.append(p)
            if len(raw) < n * width:
                break
            addr += n * width
        return out

    def read_strs(self, tid: int, addr: int, maxn: int = 1024, maxlen: int = 4096, width: int = 8) -> list[bytes]:
        """The strings of a NULL-terminated ``char *[]`` (argv, envp)."""
        return [self.read_str(tid, p, maxlen) or b"" for p in self.read_ptrs(tid, addr, maxn, width)]

    def close(self) -> None:
        for tid in list(self._mem_fds):
            self.forget(tid)
