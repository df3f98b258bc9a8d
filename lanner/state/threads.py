"""Thread table (event-model 5): one record per host thread id, grouped into processes.

Process-wide data (fd table, cwd, env, fdlimit, vm sizes, child-subreaper mark) lives on a
:class:`ProcessGroup` shared by all threads of one pid, so threads read it without a table lookup; a
fork gives the child a new group with a copy of the fd table.

Memory stays bounded on endless streams: procexit removes threads (after rules saw the event), the
table has a size limit (oldest-activity threads are evicted in batches when it is reached) and an
inactivity purge drops placeholder threads, and threads a liveness check says are gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from lanner.state.fds import FdInfo

NA = "<NA>"
UID_NONE = 0xFFFFFFFF

# internal thread flags (PPM_CL_*)
CLONE_FILES = 0x1
CLONE_NEWPID = 0x40
CLONE_PARENT = 0x100
CLONE_THREAD = 0x2000
CLONE_VM = 0x8000
CLONE_INVERTED = 0x10000
NAME_CHANGED = 0x20000
CLOSED = 0x40000
ACTIVE = 0x80000
CLONE_NEWUSER = 0x100000
PIPE_SRC = 0x200000
PIPE_DST = 0x400000
CLONE_VFORK = 0x8000000
CHILD_IN_PIDNS = 0x20000000
IS_MAIN_THREAD = 0x40000000

ALL_CAPS = (1 << 41) - 1


class ProcessGroup:
    """What the threads of one process share."""

    __slots__ = ("pid", "fds", "cwd", "env", "fdlimit", "vmsize", "vmrss", "vmswap", "reaper", "members")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.fds: dict[int, FdInfo] = {}
        self.cwd = ""
        self.env: list[str] = []
        self.fdlimit = 0
        self.vmsize = self.vmrss = self.vmswap = 0
        self.reaper = False
        self.members: set[int] = set()

    def fork_copy(self, pid: int) -> ProcessGroup:
        g = ProcessGroup(pid)
        fds = {}
        for n, f in self.fds.items():
            c = f.copy()
            c.cloned = True
            fds[n] = c
        g.fds = fds
        g.cwd = self.cwd
        g.env = self.env
        g.fdlimit = self.fdlimit
        return g


class ThreadInfo:
    """One thread; ``group`` holds the process-wide part."""

    __slots__ = ("tid", "pid", "ptid", "sid", "vpgid", "pgid", "vtid", "vpid", "comm", "exe", "exepath", "args",
                 "uid", "gid", "loginuid", "tty", "cap_inheritable", "cap_permitted", "cap_effective",
                 "exe_writable", "exe_upper_layer", "exe_lower_layer", "exe_from_memfd", "exe_ino",
                 "exe_ino_ctime", "exe_ino_mtime", "root", "cgroups", "container_id", "clone_ts",
                 "lastexec_ts", "pidns_init_start_ts", "flags", "dead", "last_ts", "pfmajor", "pfminor",
                 "reaper_tid", "group", "table", "last_enter", "_cmdline")

    def __init__(self, tid: int, table: ThreadTable | None = None) -> None:
        self.tid = tid
        self.pid = -1
        self.ptid = -1
        self.sid = -1
        self.vpgid = -1
        self.pgid = -1
        self.vtid = -1
        self.vpid = -1
        self.comm = NA
        self.exe = NA
        self.exepath = ""
        self.args: list[str] = []
        self.uid = UID_NONE
        self.gid = UID_NONE
        self.loginuid = UID_NONE
        self.tty = 0
        self.cap_inheritable = self.cap_permitted = self.cap_effective = 0
        self.exe_writable = self.exe_upper_layer = self.exe_lower_layer = self.exe_from_memfd = False
        self.exe_ino = self.exe_ino_ctime = self.exe_ino_mtime = 0
        self.root = "/"
        self.cgroups: list[tuple[str, str]] = []
        self.container_id = ""
        self.clone_ts = 0
        self.lastexec_ts = 0
        self.pidns_init_start_ts = 0
        self.flags = 0
        self.dead = False
        self.last_ts = 0
        self.pfmajor = self.pfminor = 0
        self.reaper_tid = -1
        self.group: ProcessGroup = ProcessGroup(tid)
        self.table = table
        self.last_enter: Any = None
        self._cmdline: str | None = None

    # -- derived values --------------------------------------------------------------------------
    def is_invalid(self) -> bool:
        return self.tid < 0 or self.pid < 0 or self.ptid < 0

    def is_main(self) -> bool:
        return self.tid == self.pid

    @property
    def cwd(self) -> str:
        return self.group.cwd

    def get_cwd(self) -> str:
        """Falco's working directory of a thread: its main thread's, ``./`` when the main thread is unknown."""
        if self.tid == self.pid:
            return self.group.cwd
        t = self.table
        m = t.threads.get(self.pid) if t is not None else None
        return m.group.cwd if m is not None and m.tid == m.pid else "./"

    @property
    def fds(self) -> dict[int, FdInfo]:
        return self.group.fds

    def set_args(self, args: list[str]) -> None:
        self.args = args
        self._cmdline = None

    def set_comm(self, comm: str) -> None:
        self.comm = comm
        self._cmdline = None

    @property
    def cmdline(self) -> str:
        c = self._cmdline
        if c is None:
            c = self._cmdline = " ".join([self.comm, *self.args]) if self.args else self.comm
        return c

    def main_or_none(self) -> ThreadInfo | None:
        """The main thread of the process, None when it is not in the table (Falco's get_main_thread)."""
        if self.tid == self.pid:
            return self
        t = self.table
        m = t.threads.get(self.pid) if t is not None else None
        return m if m is not None and m.tid == m.pid else None

    def main_thread(self) -> ThreadInfo:
        t = self.table
        if t is None or self.pid == self.tid:
            return self
        m = t.threads.get(self.pid)
        return m if m is not None else self

    def parent(self) -> ThreadInfo | None:
        """The thread the process's ``ptid`` names (the walk used by proc.p*/proc.a* fields)."""
        t = self.table
        if t is None:
            return None
        m = self.main_or_none()
        if m is None or m.ptid < 0:
            return None
        p = t.threads.get(m.ptid)
        if p is None:
            np = t.reparent.get(m.ptid)
            if np is None:
                return None
            m.ptid = np
            p = t.threads.get(np)
        if p is not None and p.tid != p.pid:
            p = p.main_or_none()
        if p is None or p is self or p is m:
            return None
        return p

    def ancestors(self) -> Iterator[ThreadInfo]:
        """Parent, grandparent, ... (bounded against ptid cycles)."""
        seen = 0
        cur = self.parent()
        while cur is not None and seen < 4096:
            yield cur
            seen += 1
            nxt = cur.parent()
            if nxt is cur:
                break
            cur = nxt

    def ancestor(self, n: int) -> ThreadInfo | None:
        """``n`` = 0 -> this thread, 1 -> parent ..."""
        if n == 0:
            return self
        for i, a in enumerate(self.ancestors(), 1):
            if i == n:
                return a
        return None

    def __repr__(self) -> str:
        return f"ThreadInfo(tid={self.tid}, pid={self.pid}, ptid={self.ptid}, comm={self.comm!r})"


class ThreadTable:
    """All known threads.

    ``max_size``: Falco's ``falco_libs.thread_table_size``; ``purge_interval_ns``/``timeout_ns``:
    ``thread_table_auto_purging_interval_s`` / ``..._thread_timeout_s``. ``alive(tid)``, when given, tells
    the purge whether an inactive thread still exists (live mode checks /proc); without it only
    placeholder (invalid) threads are purged for inactivity.
    """

    def __init__(self, max_size: int = 262144, purge_interval_ns: int = 300 * 10**9,
                 timeout_ns: int = 300 * 10**9, alive: Callable[[int], bool] | None = None) -> None:
        self.threads: dict[int, ThreadInfo] = {}
        self.max_size = max(16, max_size)
        self.purge_interval_ns = purge_interval_ns
        self.timeout_ns = timeout_ns
        self.alive = alive
        self.next_purge_ts = 0
        self.evicted = 0
        self.purged = 0
        # exited tid -> tid its children were handed to (applied lazily by ThreadInfo.parent)
        self.reparent: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.threads)

    def get(self, tid: int) -> ThreadInfo | None:
        return self.threads.get(tid)

    def new(self, tid: int) -> ThreadInfo:
        return ThreadInfo(tid, self)

    def add(self, t: ThreadInfo) -> None:
        """Insert (or replace) a thread and attach it to its process group."""
        threads = self.threads
        if t.tid not in threads and len(threads) >= self.max_size:
            self._evict(t.last_ts)
        old = threads.get(t.tid)
        if old is not None and old is not t:
            old.group.members.discard(old.tid)
        t.table = self
        threads[t.tid] = t
        t.group.members.add(t.tid)

    def join_group(self, t: ThreadInfo) -> None:
        """Make ``t`` share the group of its main thread (pid), creating the main's group if needed."""
        if t.pid == t.tid or t.pid < 0:
            if t.group.pid != t.pid and t.pid >= 0:
                t.group.pid = t.pid
            return
        m = self.threads.get(t.pid)
        if m is not None:
            if t.group is not m.group:
                t.group.members.discard(t.tid)
                t.group = m.group
                t.group.members.add(t.tid)

    def remove(self, tid: int) -> ThreadInfo | None:
        t = self.threads.pop(tid, None)
        if t is not None:
            t.group.members.discard(tid)
        return t

    def _evict(self, now: int) -> None:
        """Table full: drop dead/invalid threads, then the least recently active tenth."""
        threads = self.threads
        victims = [tid for tid, t in threads.items() if t.dead or t.is_invalid()]
        if len(threads) - len(victims) >= self.max_size:
            live = sorted((t.last_ts, tid) for tid, t in threads.items() if not (t.dead or t.is_invalid()))
            victims.extend(tid for _, tid in live[: max(1, self.max_size // 10)])
        for tid in victims:
            self.remove(tid)
        self.evicted += len(victims)

    def maybe_purge(self, now: int) -> None:
        """Periodic inactivity purge, driven by event time."""
        if now < self.next_purge_ts:
            return
        if self.next_purge_ts == 0:
            self.next_purge_ts = now + self.purge_interval_ns
            return
        self.next_purge_ts = now + self.purge_interval_ns
        limit = now - self.timeout_ns
        alive = self.alive
        victims = []
        for tid, t in self.threads.items():
            if t.last_ts >= limit:
                continue
            if t.is_invalid() or t.dead or (alive is not None and not alive(tid)):
                victims.append(tid)
        for tid in victims:
            self.remove(tid)
        self.purged += len(victims)
