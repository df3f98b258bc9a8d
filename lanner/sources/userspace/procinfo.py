"""What the probe reads from a task struct, read instead from ``/proc/<pid>`` of a stopped tracee.

The eBPF probe fills the exec and clone exit events from the kernel's task (argv/env areas, cwd,
limits, credentials, exe inode, cgroups); a tracer has no task struct, but while the tracee is stopped
its ``/proc`` entries hold the same facts. Values come back already in the probe's wire encoding
(strings NUL-terminated, argv/env as NUL-separated areas), so the decoder packs them unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from lanner.sources.ebpf.procscan import read_proc_file

MAX_ARGS = 4095  # the probe's MAX_ARGS - 1 / MAX_ENV - 1
RLIM_INFINITY = (1 << 64) - 1
_CG_NAMES = ("cpu", "cpuacct", "memory", "pids", "blkio", "devices")


def _link(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


T = TypeVar("T")


def _memo(fn: Callable[[ProcTask], T]) -> Callable[[ProcTask], T]:
    """Read a /proc fact once per :class:`ProcTask` (a task stays stopped while its events are built)."""
    name = fn.__name__

    def wrapper(self: ProcTask) -> T:
        m = self._memo
        if name not in m:
            m[name] = fn(self)
        return m[name]

    wrapper.__name__ = name
    wrapper.__doc__ = fn.__doc__
    return wrapper


class ProcTask:
    """One thread's /proc facts, read lazily (``proc`` is the procfs mount, normally ``/proc``)."""

    def __init__(self, pid: int, tid: int, proc: str = "/proc") -> None:
        self.pid = pid
        self.tid = tid
        self.base = f"{proc}/{pid}"
        self.tbase = f"{proc}/{pid}/task/{tid}"
        self._status: dict[str, str] | None = None
        self._stat: list[str] | None = None
        self._memo: dict[str, Any] = {}

    # ------------------------------------------------------------------ raw files
    @property
    def status(self) -> dict[str, str]:
        if self._status is None:
            out: dict[str, str] = {}
            for line in read_proc_file(f"{self.tbase}/status").decode(errors="replace").splitlines():
                k, _, v = line.partition(":")
                out[k] = v.strip()
            self._status = out
        return self._status

    @property
    def stat(self) -> list[str]:
        """Fields after the comm of ``stat`` (index 0 = state, the 3rd field of the file)."""
        if self._stat is None:
            s = read_proc_file(f"{self.tbase}/stat").decode(errors="replace")
            self._stat = s[s.rfind(")") + 2:].split()
        return self._stat

    def _status_num(self, key: str, index: int, base: int = 10, default: int = 0) -> int:
        try:
            return int(self.status.get(key, "").split()[index], base)
        except (IndexError, ValueError):
            return default

    def _stat_num(self, index: int) -> int:
        try:
            return int(self.stat[index])
        except (IndexError, ValueError):
            return 0

    # ------------------------------------------------------------------ probe parameters
    @_memo
    def exe_and_args(self) -> tuple[bytes, bytes]:
        """argv[0] with its NUL, and the rest of the argument area (capped like the probe)."""
        cmd = read_proc_file(f"{self.base}/cmdline", MAX_ARGS + 4096)
        if not cmd:
            return b"", b""
        nul = cmd.find(b"\0")
        if nul < 0:
            return cmd[:4095] + b"\0", b""
        return cmd[:nul + 1], cmd[nul + 1:nul + 1 + MAX_ARGS]

    @_memo
    def env(self) -> bytes:
        return read_proc_file(f"{self.base}/environ", MAX_ARGS)

    @_memo
    def cwd(self) -> bytes:
        p = _link(f"{self.base}/cwd")
        return b"" if p is None else os.fsencode(p) + b"\0"

    @_memo
    def comm(self) -> bytes:
        c = read_proc_file(f"{self.tbase}/comm").rstrip(b"\n")
        return c[:15] + b"\0"

    @_memo
    def fdlimit(self) -> int:
        for line in read_proc_file(f"{self.base}/limits").decode(errors="replace").splitlines():
            if line.startswith("Max open files"):
                v = line.split()[3]
                return int(v) if v.isdigit() else RLIM_INFINITY
        return 0

    def ppid(self) -> int:
        return self._status_num("PPid", 0)

    def pgft(self) -> tuple[int, int]:
        """(major, minor) page faults."""
        return self._stat_num(9), self._stat_num(7)

    def vm_size_kb(self) -> int:
        return self._status_num("VmSize", 0)

    def tty(self) -> int:
        return self._stat_num(4) & 0xffffffff

    def pgid(self) -> int:
        return self._stat_num(2)

    @_memo
    def loginuid(self) -> int:
        v = read_proc_file(f"{self.base}/loginuid").strip()
        return int(v) & 0xffffffff if v.isdigit() else 0xffffffff

    def euid(self) -> int:
        return self._status_num("Uid", 1)

    def egid(self) -> int:
        return self._status_num("Gid", 1)

    def caps(self) -> tuple[int, int, int]:
        return (self._status_num("CapInh", 0, 16), self._status_num("CapPrm", 0, 16),
                self._status_num("CapEff", 0, 16))

    def ns_ids(self) -> tuple[int, int, bool]:
        """(vtid, vpid, in a child pid namespace): the ids in the task's own pid namespace."""
        tids = self.status.get("NSpid", "").split()
        pids = self.status.get("NStgid", "").split()
        vtid = int(tids[-1]) if tids else self.tid
        vpid = int(pids[-1]) if pids else self.pid
        return vtid, vpid, len(tids) > 1

    @_memo
    def cgroups(self) -> bytes:
        """``subsys=path`` entries as the probe writes them: the default hierarchy's path (cgroup v2) or the
        cpu controller's (v1), under cpuset and six common controller names."""
        path = None
        cpu = None
        for line in read_proc_file(f"{self.base}/cgroup").decode(errors="replace").splitlines():
            parts = line.split(":", 2)
            if len(parts) != 3:
                continue
            if parts[0] == "0" and parts[1] == "":
                path = parts[2]
            elif "cpu" in parts[1].split(","):
                cpu = parts[2]
        p = cpu if cpu not in (None, "/") else path
        if p is None:
            p = cpu or "/"
        pb = os.fsencode(p)
        return b"cpuset=" + pb + b"\0" + b"".join(n.encode() + b"=" + pb + b"\0" for n in _CG_NAMES)

    @_memo
    def exe_facts(self) -> tuple[int, int, int, int, bytes]:
        """(exe flags, inode, ctime ns, mtime ns, trusted exe path with NUL) of the running image."""
        exe = f"{self.base}/exe"
        path = _link(exe)
        try:
            st = os.stat(exe)
        except OSError:
            return 0, 0, 0, 0, b"" if path is None else os.fsencode(path.removesuffix(" (deleted)")) + b"\0"
        euid, egid = self.euid(), self.egid()
        capeff = self.caps()[2]
        flags = 0
        mode = st.st_mode
        if (mode & 0o002) or (st.st_uid == euid and mode & 0o200) or (st.st_gid == egid and mode & 0o020) \
                or capeff & 2:
            flags |= 1  # EXE_WRITABLE
        if path is not None and path.startswith("/memfd:"):
            flags |= 4  # EXE_FROM_MEMFD
        tpath = b"" if path is None else os.fsencode(path.removesuffix(" (deleted)")) + b"\0"
        return flags, st.st_ino, st.st_ctime_ns, st.st_mtime_ns, tpath
