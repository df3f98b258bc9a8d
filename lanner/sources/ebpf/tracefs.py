"""Classic per-syscall exit tracepoints (``syscalls:sys_exit_<name>``): where tracefs is, mounting it
when it is absent, which syscalls have an exit tracepoint, and their ids for ``perf_event_open``.

Why: a BPF program on such a tracepoint runs only for the syscalls it is attached to, whereas the
global ``tp_btf/sys_exit`` hook runs for every syscall of every process. The ids live in tracefs, so
the per-syscall mode needs it mounted; root can mount it (``mount -t tracefs nodev
/sys/kernel/tracing``). ``LANNER_TRACEFS`` names another directory (used by tests to simulate a host
without tracefs).

A syscall without an exit tracepoint is either known under another kernel name (``umount2`` is
``umount``) or not built into this kernel (a weak ``sys_ni_syscall`` stub in ``/proc/kallsyms``, which
can only fail with ENOSYS): the latter needs no hook.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import platform
from pathlib import Path

from lanner.core.errors import LannerError

log = logging.getLogger("lanner")

DEFAULT_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
ENV = "LANNER_TRACEFS"

#: native (x86_64 table) syscall names whose SYSCALL_DEFINE name, hence tracepoint name, differs
KERNEL_NAME = {"umount2": "umount", "stat": "newstat", "lstat": "newlstat", "fstat": "newfstat",
               "uname": "newuname", "sendfile": "sendfile64"}

_SYM_PREFIX = {"x86_64": "__x64_sys_", "aarch64": "__arm64_sys_"}
#: listed in the x86_64 table without a 64-bit entry point (sys_ni_syscall), though the function exists
_NI = {"x86_64": frozenset({"get_thread_area", "set_thread_area"})}


class TracefsError(LannerError):
    """tracefs is not available and cannot be mounted; the message says why."""


def _usable(root: Path) -> bool:
    return (root / "events" / "syscalls").is_dir()


def _mount(root: Path) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
    if not root.is_dir():
        raise TracefsError(f"cannot mount tracefs: {root} is not a directory")
    if libc.mount(b"nodev", str(root).encode(), b"tracefs", 0, None) != 0:
        e = ctypes.get_errno()
        raise TracefsError(f"cannot mount tracefs on {root}: {os.strerror(e)} (errno {e})")
    if not _usable(root):
        raise TracefsError(f"tracefs mounted on {root} has no events/syscalls (kernel without "
                           "CONFIG_FTRACE_SYSCALLS)")


class Tracefs:
    """A mounted tracefs: the syscall exit tracepoints it offers."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._exits: frozenset[str] | None = None
        self._ids: dict[str, int] = {}

    @classmethod
    def find_or_mount(cls, root: str | None = None) -> Tracefs:
        """The tracefs at ``root`` (default: ``$LANNER_TRACEFS``, else the usual places), mounted there
        first when it is not; raises TracefsError when that is impossible."""
        wanted = root or os.environ.get(ENV) or None
        cands = (wanted,) if wanted else DEFAULT_ROOTS
        for c in cands:
            if _usable(Path(c)):
                return cls(Path(c))
        target = Path(cands[0])
        _mount(target)
        log.info("Mounted tracefs on %s (it was not mounted) for the per-syscall tracepoints", target)
        return cls(target)

    def exit_names(self) -> frozenset[str]:
        """Kernel names of the syscalls with a ``sys_exit_<name>`` tracepoint."""
        if self._exits is None:
            try:
                ents = os.listdir(self.root / "events" / "syscalls")
            except OSError as e:
                raise TracefsError(f"cannot list {self.root}/events/syscalls: {e.strerror}") from None
            self._exits = frozenset(n[9:] for n in ents if n.startswith("sys_exit_"))
        return self._exits

    def exit_tracepoint(self, native: str) -> str | None:
        """The kernel name whose exit tracepoint reports the native syscall ``native``, or None."""
        name = KERNEL_NAME.get(native, native)
        return name if name in self.exit_names() else None

    def exit_id(self, kname: str) -> int:
        """The perf tracepoint id of ``syscalls:sys_exit_<kname>``."""
        if kname not in self._ids:
            p = self.root / "events" / "syscalls" / f"sys_exit_{kname}" / "id"
            try:
                self._ids[kname] = int(p.read_text().strip())
            except (OSError, ValueError) as e:
                raise TracefsError(f"cannot read the tracepoint id {p}: {e}") from None
        return self._ids[kname]


def unimplemented(natives: set[str] | frozenset[str], kallsyms: str = "/proc/kallsyms") -> set[str]:
    """The native syscall names of ``natives`` this kernel does not implement: their ``__<arch>_sys_``
    entry is a weak stub or absent from ``kallsyms``. Empty when kallsyms cannot be read (conservative:
    then every syscall counts as implemented)."""
    machine = platform.machine()
    prefix = _SYM_PREFIX.get(machine)
    if prefix is None or not natives:
        return set()
    ni = set(natives) & _NI.get(machine, frozenset())
    natives = set(natives) - ni
    want = {prefix + KERNEL_NAME.get(n, n): n for n in natives}
    strong: set[str] = set()
    try:
        with open(kallsyms, "rb") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[1] in (b"T", b"t"):
                    sym = parts[2].decode(errors="replace")
                    if sym in want:
                        strong.add(sym)
    except OSError:
        return ni
    return ni | {n for sym, n in want.items() if sym not in strong}
