"""The state engine: keeps thread, fd, user and container-id state current from syscall events.

Call order per event (the engine loop does this)::

    state.process(evt)       # update state, set evt.thread / evt.fd / evt.fdnum
    ...rules evaluate...     # fields read evt.thread / evt.fd
    state.post_process(evt)  # deferred removals: closed fds, exited threads

Deferred work exists because Falco's rules still see the state an event destroys (``fd.name`` on
``close``, ``proc.name`` on ``procexit``). ``post_process`` must be called for every event passed to
``process`` (it is cheap when nothing is pending); a missed call is caught up by the next ``process``.

Handlers are chosen once per event code from the event table (by name, exit direction), so the per-event
cost is one dict lookup plus the handler of the few state-changing event types. Handlers read parameters
by name through the constants of ``state/param_index.py`` (checked against the event table by its test).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from lanner.events.base import PluginEvent
from lanner.events.syscall import SyscallEvent
from lanner.state import fds as F
from lanner.state.cgroups import DEFAULT_ENGINES, ContainerIdResolver, parse_cgroups
from lanner.state.fds import FdInfo, concat_path, parse_sockaddr, parse_tuple
from lanner.state.param_index import (
    ACCEPT4_FLAGS,
    ACCEPT_TUPLE,
    BIND_ADDR,
    CAPSET_CAP_EFFECTIVE,
    CAPSET_CAP_INHERITABLE,
    CAPSET_CAP_PERMITTED,
    CHDIR_PATH,
    CHROOT_PATH,
    CLONE_ARGS,
    CLONE_CGROUPS,
    CLONE_COMM,
    CLONE_EXE,
    CLONE_FDLIMIT,
    CLONE_FLAGS,
    CLONE_GID,
    CLONE_PGFT_MAJ,
    CLONE_PGFT_MIN,
    CLONE_PID,
    CLONE_PIDNS_INIT_START_TS,
    CLONE_PTID,
    CLONE_UID,
    CLONE_VM_RSS,
    CLONE_VM_SIZE,
    CLONE_VM_SWAP,
    CLONE_VPID,
    CLONE_VTID,
    CLOSE_RANGE_FIRST,
    CLOSE_RANGE_FLAGS,
    CLOSE_RANGE_LAST,
    CONNECT_ADDR,
    CONNECT_E_ADDR,
    CONNECT_TUPLE,
    CREAT_CREAT_FLAGS,
    CREAT_E_NAME,
    CREAT_NAME,
    DUP3_FLAGS,
    EXECVE_ARGS,
    EXECVE_CAP_EFFECTIVE,
    EXECVE_CAP_INHERITABLE,
    EXECVE_CAP_PERMITTED,
    EXECVE_CGROUPS,
    EXECVE_COMM,
    EXECVE_E_FILENAME,
    EXECVE_ENV,
    EXECVE_EXE,
    EXECVE_EXE_INO,
    EXECVE_EXE_INO_CTIME,
    EXECVE_EXE_INO_MTIME,
    EXECVE_FDLIMIT,
    EXECVE_FLAGS,
    EXECVE_GID,
    EXECVE_LOGINUID,
    EXECVE_PGFT_MAJ,
    EXECVE_PGFT_MIN,
    EXECVE_PGID,
    EXECVE_PID,
    EXECVE_PTID,
    EXECVE_TRUSTED_EXEPATH,
    EXECVE_TTY,
    EXECVE_UID,
    EXECVE_VM_RSS,
    EXECVE_VM_SIZE,
    EXECVE_VM_SWAP,
    EXECVE_VPGID,
    EXECVEAT_E_DIRFD,
    EXECVEAT_E_FLAGS,
    EXECVEAT_E_PATHNAME,
    FCNTL_ARG,
    FCNTL_CMD,
    GETCWD_PATH,
    GROUP_CONTAINER_ID,
    GROUP_GID,
    GROUP_NAME,
    MEMFD_CREATE_FLAGS,
    MEMFD_CREATE_NAME,
    MM_VM_RSS,
    MM_VM_SIZE,
    MM_VM_SWAP,
    OPEN_BY_HANDLE_AT_FLAGS,
    OPEN_BY_HANDLE_AT_PATH,
    OPEN_E_FLAGS,
    OPEN_E_NAME,
    OPEN_FLAGS,
    OPEN_NAME,
    OPENAT_DIRFD,
    OPENAT_E_DIRFD,
    OPENAT_E_FLAGS,
    OPENAT_E_NAME,
    OPENAT_FLAGS,
    OPENAT_NAME,
    PIDFD_GETFD_PID_FD,
    PIDFD_GETFD_TARGET_FD,
    PIDFD_OPEN_PID,
    PIPE2_FLAGS,
    PIPE_FD1,
    PIPE_FD2,
    PIPE_INO,
    PRCTL_ARG2_INT,
    PRCTL_OPTION,
    PRLIMIT_NEWCUR,
    PRLIMIT_PID,
    PRLIMIT_RESOURCE,
    PROCEXIT_REAPER_TID,
    RES,
    RLIMIT_CUR,
    RLIMIT_RESOURCE,
    SETGID_GID,
    SETNS_NSTYPE,
    SETREGID_EGID,
    SETREUID_EUID,
    SETUID_UID,
    SOCKET_DOMAIN,
    SOCKET_FLAGS,
    SOCKET_PROTO,
    SOCKET_TYPE,
    SOCKETPAIR_FD1,
    SOCKETPAIR_FD2,
    SOCKETPAIR_PEER,
    SOCKETPAIR_SOURCE,
    SWITCH_PGFT_MAJ,
    SWITCH_PGFT_MIN,
    SWITCH_VM_RSS,
    SWITCH_VM_SIZE,
    SWITCH_VM_SWAP,
    UNSHARE_FLAGS,
    USER_CONTAINER_ID,
    USER_GID,
    USER_HOME,
    USER_NAME,
    USER_SHELL,
    USER_UID,
)
from lanner.state.threads import (
    ACTIVE,
    ALL_CAPS,
    CHILD_IN_PIDNS,
    CLONE_FILES,
    CLONE_INVERTED,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_PARENT,
    CLONE_THREAD,
    CLONE_VFORK,
    IS_MAIN_THREAD,
    NAME_CHANGED,
    PIPE_DST,
    PIPE_SRC,
    ProcessGroup,
    ThreadInfo,
    ThreadTable,
)
from lanner.state.users import UserTable

NA = "<NA>"
AT_FDCWD = -100
EINPROGRESS = -115
CLONE_STALE_NS = 2 * 10**9
RLIMIT_NOFILE = 7
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37
F_DUPFD, F_SETFD, F_DUPFD_CLOEXEC = 1, 3, 26
CLOSE_RANGE_CLOEXEC = 4
O_CLOEXEC = F.O_CLOEXEC
O_DIRECTORY = F.O_DIRECTORY
O_F_CREATED = 0x4000

# Exit events flagged U (and a few others): the parameter naming the fd the event is about (event-model 6.3).
_FD_PARAM = {
    **dict.fromkeys(("setns", "listen", "shutdown", "fchdir", "lseek", "llseek", "ioctl", "fstat", "close",
                     "getdents", "getdents64", "flock", "fcntl", "sendmmsg", "recvmmsg", "io_uring_register",
                     "io_uring_enter", "setsockopt", "getsockopt", "fsconfig", "finit_module", "fchmod", "fchown",
                     "read", "pread", "bind", "write", "pwrite", "recv", "send", "sendto", "sendmsg", "writev",
                     "pwritev", "connect", "recvfrom", "readv", "preadv", "recvmsg", "mmap", "mmap2"), "fd"),
    **dict.fromkeys(("newfstatat", "fchownat", "fchmodat", "mkdirat", "unlinkat", "mknodat"), "dirfd"),
    **dict.fromkeys(("dup", "dup2", "dup3"), "oldfd"),
    "copy_file_range": "fdout", "sendfile": "out_fd", "splice": "fd_out", "symlinkat": "linkdirfd",
}

# Events that never create a placeholder thread.
_NO_PLACEHOLDER = frozenset({"clone", "fork", "vfork", "clone3", "procexit", "switch"})

_SIMPLE_FD_TYPES = {
    "eventfd": F.EVENT, "eventfd2": F.EVENT, "signalfd": F.SIGNALFD, "signalfd4": F.SIGNALFD,
    "timerfd_create": F.TIMERFD, "inotify_init": F.INOTIFY, "inotify_init1": F.INOTIFY,
    "epoll_create": F.EVENTPOLL, "epoll_create1": F.EVENTPOLL, "bpf": F.BPF, "userfaultfd": F.USERFAULTFD,
    "io_uring_setup": F.IOURING,
}


def _p(params: list, i: int) -> Any:
    return params[i] if i < len(params) else None


_fb = int.from_bytes


def _rint(raw: list[bytes], i: int) -> int | None:
    """A signed integer parameter (ERRNO, FD, INT*) read from the record bytes: what decoding gives,
    without decoding the other parameters. None when absent or empty."""
    if i < len(raw):
        b = raw[i]
        if b:
            return _fb(b, "little", signed=True)
    return None


def _ruint(raw: list[bytes], i: int) -> int | None:
    """An unsigned integer parameter (UINT*, FLAGS*, ENUMFLAGS*) from the record bytes; None when absent
    or empty."""
    if i < len(raw):
        b = raw[i]
        if b:
            return _fb(b, "little")
    return None


def _int(v: Any, default: int = 0) -> int:
    return v if isinstance(v, int) else default


def _str(v: Any) -> str | None:
    """A decoded string parameter; None when empty (so callers keep the previous state)."""
    if v is None:
        return None
    if isinstance(v, str):
        return v if v else None
    if isinstance(v, (bytes, bytearray)):
        b = bytes(v)
        i = b.find(b"\0")
        if i >= 0:
            b = b[:i]
        return b.decode("utf-8", "surrogateescape") or None
    return str(v)


def strlist(v: Any) -> list[str] | None:
    """A NUL-separated list parameter (args, env, cgroups) as a list; None when empty/absent."""
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        if len(v) == 1 and not v[0]:
            return None  # a lone NUL: no arguments, as libsinsp splits it
        return [x if isinstance(x, str) else bytes(x).decode("utf-8", "surrogateescape") for x in v]
    if isinstance(v, (bytes, bytearray, memoryview)):
        s = bytes(v).decode("utf-8", "surrogateescape")
    else:
        s = str(v)
    if not s:
        return None
    parts = s.split("\0")
    if parts and parts[-1] == "":
        parts.pop()
    return parts if parts != [""] else None


def _tid(v: int) -> int:
    """u64 thread ids as signed (0xFFFF... = -1)."""
    return v - (1 << 64) if v >= (1 << 63) else v


class StateEngine:
    """Thread/fd/user/container-id state for one syscall event stream."""

    def __init__(self, *, thread_table_size: int = 262144, purge_interval_s: float = 300,
                 thread_timeout_s: float = 300, alive: Callable[[int], bool] | None = None,
                 container_engines: Iterable[str] = DEFAULT_ENGINES, host_root: str = "") -> None:
        self.threads = ThreadTable(thread_table_size, int(purge_interval_s * 1e9), int(thread_timeout_s * 1e9),
                                   alive)
        self.users = UserTable()
        self.containers = ContainerIdResolver(container_engines)
        self.boot_ts = 0
        self.hostname = ""
        self.host_root = host_root
        self.interfaces: list[Any] = []
        self._pending: list[tuple[Callable[..., None], Any]] = []
        self._recent_exits: dict[int, int] = {}
        self._dispatch: list[Callable[[SyscallEvent, ThreadInfo | None], None] | None] = []
        self._fdparam: list[int] = []
        self._placeholder: list[bool] = []
        self._build_dispatch()

    # ------------------------------------------------------------------------------------ setup
    def _build_dispatch(self) -> None:
        from lanner.events.table import EF_CREATES_FD, EF_DESTROYS_FD, EF_USES_FD, EVENTS

        handlers: dict[str, Callable[[SyscallEvent, ThreadInfo | None], None]] = {
            "clone": self._on_clone, "fork": self._on_clone, "vfork": self._on_clone, "clone3": self._on_clone,
            "execve": self._on_execve, "execveat": self._on_execve, "procexit": self._on_procexit,
            "chdir": self._on_chdir, "fchdir": self._on_fchdir, "getcwd": self._on_getcwd,
            "chroot": self._on_chroot, "setuid": self._on_setuid, "setreuid": self._on_setuid,
            "setresuid": self._on_setuid, "setgid": self._on_setgid, "setregid": self._on_setgid,
            "setresgid": self._on_setgid, "capset": self._on_capset, "unshare": self._on_unshare,
            "setns": self._on_unshare, "setsid": self._on_setsid, "prctl": self._on_prctl,
            "getrlimit": self._on_rlimit, "setrlimit": self._on_rlimit, "prlimit": self._on_prlimit,
            "brk": self._on_vm, "mmap": self._on_vm, "mmap2": self._on_vm, "munmap": self._on_vm,
            "open": self._on_open, "openat": self._on_open, "openat2": self._on_open, "creat": self._on_open,
            "open_by_handle_at": self._on_open, "socket": self._on_socket, "bind": self._on_bind,
            "connect": self._on_connect, "accept": self._on_accept, "accept4": self._on_accept,
            "close": self._on_close, "close_range": self._on_close_range, "dup": self._on_dup,
            "dup2": self._on_dup, "dup3": self._on_dup, "fcntl": self._on_fcntl, "pipe": self._on_pipe,
            "pipe2": self._on_pipe, "socketpair": self._on_socketpair, "memfd_create": self._on_memfd,
            "pidfd_open": self._on_pidfd_open, "pidfd_getfd": self._on_pidfd_getfd,
            "recvfrom": self._on_recv_tuple, "recvmsg": self._on_recv_tuple, "recv": self._on_recv_tuple,
            "sendto": self._on_send_tuple, "sendmsg": self._on_send_tuple, "send": self._on_send_tuple,
            "read": self._on_io, "readv": self._on_io, "pread": self._on_io, "preadv": self._on_io,
            "write": self._on_io, "writev": self._on_io, "pwrite": self._on_io, "pwritev": self._on_io,
            "recvmmsg": self._on_io, "sendmmsg": self._on_io,
            "useradded": self._on_useradded, "userdeleted": self._on_userdeleted,
            "groupadded": self._on_groupadded, "groupdeleted": self._on_groupdeleted,
        }
        for name in _SIMPLE_FD_TYPES:
            handlers[name] = self._on_simple_fd
        enter_store = {"open", "creat", "openat", "openat2", "execve", "execveat", "connect"}
        for e in EVENTS:
            h = None
            fdp = -1
            if e.code & 1:
                h = handlers.get(e.name)
                if e.flags & (EF_USES_FD | EF_DESTROYS_FD) and not e.flags & EF_CREATES_FD or e.name in (
                        "bind", "connect", "fcntl", "dup", "dup2", "dup3"):
                    pname = _FD_PARAM.get(e.name)
                    fdp = e.index.get(pname, -1) if pname is not None else -1
            elif e.name in enter_store:
                h = self._on_enter_store
            elif e.name in ("procexit", "useradded", "userdeleted", "groupadded", "groupdeleted"):
                h = handlers[e.name]
            elif e.name == "switch":
                h = self._on_switch
            self._dispatch.append(h)
            self._fdparam.append(fdp)
            self._placeholder.append(e.name not in _NO_PLACEHOLDER and e.origin in ("SYSCALL", "TRACEPOINT", ""))

    # --------------------------------------------------------------------------------- seeding
    def seed_from_capture(self, meta: Any) -> None:
        """Initial state from a capture's metadata (a ``ScapReader`` after ``read_metadata()``, or any
        object/dict with the same parts): ``machine`` (hostname, boot_ts_epoch), ``interfaces``,
        ``users``, ``groups``, ``threads`` (dict tid -> process-list record, or a list) and ``fds``
        (dict tid -> list of fd-list records). Missing parts are skipped.
        """
        get = meta.get if isinstance(meta, dict) else (lambda k, d=None: getattr(meta, k, d))
        machine = get("machine", None)
        if machine is not None:
            self.hostname = getattr(machine, "hostname", "") or ""
            self.boot_ts = getattr(machine, "boot_ts_epoch", 0) or 0
        self.interfaces = list(get("interfaces", None) or ())
        for u in get("users", None) or ():
            self.users.add_user(u.uid, u.gid, u.name, u.homedir, u.shell)
        for g in get("groups", None) or ():
            self.users.add_group(g.gid, g.name)
        threads = get("threads", None) or get("processes", None) or ()
        for rec in (threads.values() if isinstance(threads, dict) else threads):
            self.seed_thread(rec, link=False)
        self.finish_seeding()
        fdl = get("fds", None) or {}
        items = list(fdl.items() if isinstance(fdl, dict) else fdl)
        normalized = any(getattr(r, "role", "") for _, recs in items for r in recs)
        for tid, recs in items:
            for r in recs:
                self.seed_fd(tid, r, normalized)
        if not normalized:
            self.fixup_seeded_sockets()

    def load_host_interfaces(self, host_root: str = "") -> None:
        """Live capture: this machine's interface addresses decide the local end of sockets."""
        from lanner.state.interfaces import host_interfaces

        self.interfaces = host_interfaces(host_root)

    def seed_thread(self, rec: Any, link: bool = True) -> ThreadInfo:
        """Add one thread from a process-list record (capture block, or a /proc scan).

        Reads the attributes of ``lanner.sources.scap.records.ThreadRecord`` (tid, pid, ptid, sid, vpgid,
        pgid, comm, exe, exepath, args, cwd, fdlimit, flags, uid, gid, vm*_kb, pf*, env, vtid, vpid,
        cgroups (``subsys=path`` strings), root, pidns_init_start_ts, tty, loginuid, exe_* and cap_*);
        a dict with those keys works too. Call :meth:`finish_seeding` after the last one when ``link``
        is False (threads may come before their main thread).
        """
        get: Callable[..., Any] = rec.get if isinstance(rec, dict) else (lambda k, d=None: getattr(rec, k, d))
        tt = self.threads
        tid = _tid(int(get("tid")))
        t = tt.new(tid)
        t.pid = _tid(int(get("pid", -1)))
        t.ptid = _tid(int(get("ptid", -1)))
        for attr in ("sid", "vpgid", "pgid", "vtid", "vpid"):
            v = get(attr, None)
            setattr(t, attr, _tid(int(v)) if v is not None else -1)
        t.comm = get("comm", "") or ""
        t.exe = get("exe", "") or ""
        t.exepath = get("exepath", "") or ""
        t.set_args(strlist(get("args", None)) or [])
        t.uid = int(get("uid", 0) or 0)
        t.gid = int(get("gid", 0) or 0)
        lu = get("loginuid", None)
        t.loginuid = int(lu) if lu is not None else 0xFFFFFFFF
        t.tty = int(get("tty", 0) or 0)
        t.flags = int(get("flags", 0) or 0)
        t.root = get("root", "") or "/"
        for attr in ("pidns_init_start_ts", "cap_inheritable", "cap_permitted", "cap_effective", "exe_ino",
                     "exe_ino_ctime", "exe_ino_mtime", "pfmajor", "pfminor", "clone_ts"):
            setattr(t, attr, int(get(attr, 0) or 0))
        for attr in ("exe_writable", "exe_upper_layer", "exe_lower_layer", "exe_from_memfd"):
            setattr(t, attr, bool(get(attr, False)))
        cg = get("cgroups", None)
        if cg:
            t.cgroups = list(cg) if isinstance(cg[0], tuple) else parse_cgroups(strlist(cg) or [])
        t.container_id = self.containers.id_for(t.cgroups)
        old = tt.get(tid)
        if old is not None and old.tid == old.pid == t.pid:
            t.group = old.group  # a replaced main-thread entry keeps its fds
        if t.pid == tid or t.pid < 0:
            g = t.group
            g.pid = t.pid
            cwd = get("cwd", "") or "/"
            g.cwd = cwd if cwd.endswith("/") else cwd + "/"
            g.env = strlist(get("env", None)) or []
            g.fdlimit = int(get("fdlimit", 0) or 0)
            g.vmsize = int(get("vmsize_kb", 0) or 0)
            g.vmrss = int(get("vmrss_kb", 0) or 0)
            g.vmswap = int(get("vmswap_kb", 0) or 0)
        tt.add(t)
        if link:
            self._link_group(t)
        return t

    def _link_group(self, t: ThreadInfo) -> None:
        tt = self.threads
        if t.pid == t.tid:
            # threads seeded before their main thread
            for other in tt.threads.values():
                if other.pid == t.pid and other is not t and other.group is not t.group:
                    other.group.members.discard(other.tid)
                    other.group = t.group
                    t.group.members.add(other.tid)
        else:
            tt.join_group(t)

    def finish_seeding(self) -> None:
        """Link every seeded thread to its process group (threads may precede their main thread)."""
        tt = self.threads
        for t in list(tt.threads.values()):
            if t.pid != t.tid and t.pid >= 0:
                tt.join_group(t)

    def seed_fd(self, tid: int, rec: Any, normalized: bool = False) -> FdInfo | None:
        """Add one fd from an fd-list record (``lanner.sources.scap.records.FdRecord`` attributes: fd,
        ino, type, name, open_flags, dev, sip, dip, sport, dport, l4proto, unix_src, unix_dst, role,
        connected) to the process of ``tid``. Server sockets carry their address in sip/sport.
        ``normalized``: the records already went through the load-time socket interpretation
        (roles set); otherwise call :meth:`fixup_seeded_sockets` after the last fd.
        """
        get: Callable[..., Any] = rec.get if isinstance(rec, dict) else (lambda k, d=None: getattr(rec, k, d))
        t = self.threads.get(_tid(int(tid)))
        if t is None:
            return None
        num = int(get("fd"))
        typ = int(get("type", 0) or 0)
        f = FdInfo(F.FILE_V2 if typ == F.FILE else typ, get("name", "") or "", int(get("open_flags", 0) or 0))
        f.ino = int(get("ino", 0) or 0)
        f.dev = int(get("dev", 0) or 0)
        role = get("role", "") or ""
        if typ in (F.IPV4_SOCK, F.IPV6_SOCK):
            sip, dip = _ip(get("sip", None)), _ip(get("dip", None))
            f.sport, f.dport = int(get("sport", 0) or 0), int(get("dport", 0) or 0)
            f.l4 = int(get("l4proto", 0) or 0)
            if sip is None:
                sip = F.ZERO4 if typ == F.IPV4_SOCK else F.ZERO6
            if dip is None:
                dip = F.ZERO4 if typ == F.IPV4_SOCK else F.ZERO6
            if typ == F.IPV6_SOCK:
                s4, d4 = F.as_v4(sip), F.as_v4(dip)
                if s4.version == 4 and d4.version == 4:
                    sip, dip, f.type = s4, d4, F.IPV4_SOCK
            f.sip, f.dip = sip, dip
            f.connected = bool(get("connected", False)) or f.l4 == F.L4_TCP
            if normalized:
                f.role = F.ROLE_SERVER if role == "server" else F.ROLE_CLIENT if role == "client" else 0
            elif f.type == F.IPV4_SOCK:
                F.patch_local_address(f, self.interfaces)
            f.name = f"{f.sip}:{f.sport}->{f.dip}:{f.dport}"
        elif typ in (F.IPV4_SERVSOCK, F.IPV6_SERVSOCK):
            f.dip = _ip(get("sip", None) or get("ip", None))
            f.dport = int(get("sport", 0) or get("port", 0) or 0)
            f.l4 = int(get("l4proto", 0) or 0)
            if normalized and role == "server":
                f.role = F.ROLE_SERVER
            f.name = f.render_tuple_name()
        elif typ == F.UNIX_SOCK:
            f.usrc = int(get("unix_src", 0) or 0)
            f.udst = int(get("unix_dst", 0) or 0)
            f.role = F.ROLE_SERVER if f.name else F.ROLE_CLIENT
        t.group.fds[num] = f
        return f

    def fixup_seeded_sockets(self) -> None:
        """Falco's direction fix of sockets read from a process list: an IPv4 socket whose source
        port is a listening port of the host is turned around and marked server, the others client."""
        ports = set()
        groups = {id(t.group): t.group for t in self.threads.threads.values()}.values()
        for g in groups:
            for f in g.fds.values():
                if f.type in F.SERVER_TYPES:
                    ports.add(f.dport)
        for g in groups:
            for f in g.fds.values():
                if f.type == F.IPV4_SOCK and not f.role:
                    if f.sport in ports:
                        F.swap_addresses(f)
                        f.name = f"{f.sip}:{f.sport}->{f.dip}:{f.dport}"
                        f.role = F.ROLE_SERVER
                    else:
                        f.role = F.ROLE_CLIENT

    # ------------------------------------------------------------------------------- event loop
    def process(self, evt: SyscallEvent | PluginEvent) -> None:
        """Update state for one syscall event and attach ``evt.thread`` / ``evt.fd`` / ``evt.fdnum``
        (the engine sends only syscall events here)."""
        if TYPE_CHECKING:
            assert isinstance(evt, SyscallEvent)
        if self._pending:
            self.post_process(None)
        code = evt.type
        tid = evt.tid
        if tid >= 0x8000000000000000:
            tid -= 0x10000000000000000
        tt = self.threads
        t = tt.threads.get(tid)
        if t is None and tid > 0 and self._placeholder[code]:
            t = ThreadInfo(tid, tt)
            t.last_ts = evt.ts
            tt.add(t)
        evt.thread = t
        if t is not None:
            t.last_ts = evt.ts
            fdp = self._fdparam[code]
            if fdp >= 0:
                raw = evt.raw
                if fdp < len(raw) and raw[fdp]:
                    n = int.from_bytes(raw[fdp], "little", signed=True)
                    evt.fdnum = n
                    f = evt.fd = t.group.fds.get(n)
                    if f is not None:
                        f.oldname = f.name
        h = self._dispatch[code]
        if h is not None:
            h(evt, t)
        if evt.ts >= tt.next_purge_ts:
            tt.maybe_purge(evt.ts)

    def post_process(self, evt: SyscallEvent | PluginEvent | None) -> None:
        """Apply the removals ``process`` deferred until the rules had seen the event."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        for fn, arg in pending:
            fn(*arg)

    # ----------------------------------------------------------------------------- threads
    def _resolve_container(self, t: ThreadInfo) -> None:
        t.container_id = self.containers.id_for(t.cgroups) if t.cgroups else ""

    def _on_enter_store(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        if t is not None:
            t.last_enter = evt

    def _on_clone(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        res = _p(p, RES)
        if not isinstance(res, int) or res < 0:
            return
        flags = _int(_p(p, CLONE_FLAGS))
        tt = self.threads
        if res > 0:
            self._clone_parent(evt, t, p, res, flags, tt)
        else:
            self._clone_child(evt, p, flags, tt)

    def _clone_parent(self, evt: SyscallEvent, t: ThreadInfo | None, p: list, res: int, flags: int, tt: ThreadTable) -> None:
        tid = _tid(evt.tid)
        if t is None:
            t = ThreadInfo(tid, tt)
            t.last_ts = evt.ts
            tt.add(t)
            evt.thread = t
        if t.is_invalid():
            t.pid = _int(_p(p, CLONE_PID), -1)
            t.ptid = _int(_p(p, CLONE_PTID), -1)
            vt, vp = _p(p, CLONE_VTID), _p(p, CLONE_VPID)
            t.vtid, t.vpid = (vt, vp) if isinstance(vt, int) and isinstance(vp, int) else (tid, -1)
            tt.join_group(t)
        if flags & (CHILD_IN_PIDNS | CLONE_NEWPID | CLONE_PARENT | CLONE_VFORK) or t.tid != t.vtid \
                or evt.info.name == "vfork" \
                or evt.ts - self._recent_exits.get(res, -CLONE_STALE_NS) < CLONE_STALE_NS:
            return
        old = tt.get(res)
        if old is not None and old.flags & CLONE_INVERTED:
            return
        c = ThreadInfo(res, tt)
        c.flags = flags
        if flags & CLONE_THREAD:
            c.pid = t.pid
            c.ptid = t.ptid
            c.flags |= CLONE_FILES
            c.lastexec_ts = t.lastexec_ts
            m = tt.get(t.pid) or t
            c.group = m.group
        else:
            c.pid = res
            c.ptid = t.tid
            c.group = t.group.fork_copy(res)
        c.vtid, c.vpid = res, c.pid
        self._inherit(c, t)
        self._from_clone_params(c, evt, p)
        c.pidns_init_start_ts = self.boot_ts
        tt.add(c)

    def _clone_child(self, evt: SyscallEvent, p: list, flags: int, tt: ThreadTable) -> None:
        tid = _tid(evt.tid)
        old = tt.get(tid)
        if old is not None and evt.ts - old.clone_ts < CLONE_STALE_NS and old.clone_ts:
            evt.thread = old
            return
        c = ThreadInfo(tid, tt)
        c.pid = _int(_p(p, CLONE_PID), -1)
        c.ptid = _int(_p(p, CLONE_PTID), -1)
        vt, vp = _p(p, CLONE_VTID), _p(p, CLONE_VPID)
        c.vtid, c.vpid = (vt, vp) if isinstance(vt, int) and isinstance(vp, int) else (tid, -1)
        c.flags = flags | CLONE_INVERTED
        is_thread = bool(flags & CLONE_THREAD)
        if is_thread:
            c.flags |= CLONE_FILES
        look = tt.get(c.pid if is_thread else c.ptid)
        if look is not None and not look.is_invalid():
            self._inherit(c, look)
            if is_thread:
                c.lastexec_ts = look.lastexec_ts
                c.group = look.group
            else:
                c.group = look.group.fork_copy(c.pid)
        elif is_thread:
            m = tt.get(c.pid)
            if m is not None:
                c.group = m.group
        if c.group.pid != c.pid and not is_thread:
            c.group.pid = c.pid
        self._from_clone_params(c, evt, p)
        if flags & (CHILD_IN_PIDNS | CLONE_NEWPID) or tid != c.vtid:
            c.pidns_init_start_ts = _int(_p(p, CLONE_PIDNS_INIT_START_TS)) + self.boot_ts
        else:
            c.pidns_init_start_ts = self.boot_ts
        c.last_ts = evt.ts
        if old is not None and old.group is not c.group:
            old.group.members.discard(tid)
        tt.add(c)
        evt.thread = c
        self._recent_exits.pop(tid, None)

    @staticmethod
    def _inherit(c: ThreadInfo, src: ThreadInfo) -> None:
        c.exepath = src.exepath
        c.exe_writable, c.exe_upper_layer = src.exe_writable, src.exe_upper_layer
        c.exe_lower_layer, c.exe_from_memfd = src.exe_lower_layer, src.exe_from_memfd
        c.root, c.sid, c.vpgid, c.pgid, c.tty = src.root, src.sid, src.vpgid, src.pgid, src.tty
        c.loginuid = src.loginuid
        c.cap_inheritable, c.cap_permitted, c.cap_effective = src.cap_inheritable, src.cap_permitted, src.cap_effective
        c.exe_ino, c.exe_ino_ctime, c.exe_ino_mtime = src.exe_ino, src.exe_ino_ctime, src.exe_ino_mtime
        c.comm, c.exe, c.uid, c.gid, c.cgroups = src.comm, src.exe, src.uid, src.gid, src.cgroups
        c.args = src.args
        c.container_id = src.container_id

    def _from_clone_params(self, c: ThreadInfo, evt: SyscallEvent, p: list) -> None:
        exe = _str(_p(p, CLONE_EXE))
        if exe is not None:
            c.exe = exe
        comm = _str(_p(p, CLONE_COMM))
        c.set_comm(comm if comm is not None else c.exe)
        args = strlist(_p(p, CLONE_ARGS))
        c.set_args(args if args is not None else [])
        fdl = _p(p, CLONE_FDLIMIT)
        if isinstance(fdl, int) and c.pid == c.tid:
            c.group.fdlimit = fdl
        for i, attr in ((CLONE_PGFT_MAJ, "pfmajor"), (CLONE_PGFT_MIN, "pfminor")):
            v = _p(p, i)
            if isinstance(v, int):
                setattr(c, attr, v)
        if c.pid == c.tid:
            g = c.group
            for i, attr in ((CLONE_VM_SIZE, "vmsize"), (CLONE_VM_RSS, "vmrss"), (CLONE_VM_SWAP, "vmswap")):
                v = _p(p, i)
                if isinstance(v, int):
                    setattr(g, attr, v)
        uid, gid = _p(p, CLONE_UID), _p(p, CLONE_GID)
        if isinstance(uid, int):
            c.uid = uid
        if isinstance(gid, int):
            c.gid = gid
        cg = strlist(_p(p, CLONE_CGROUPS))
        if cg:
            c.cgroups = parse_cgroups(cg)
            self._resolve_container(c)
        c.clone_ts = evt.ts
        c.last_ts = evt.ts

    def _on_execve(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        if t is None:
            return
        p = evt.params
        res = _p(p, RES)
        if not isinstance(res, int) or res < 0:
            return
        tt = self.threads
        was_invalid = t.is_invalid()
        t.dead = False
        exe = _str(_p(p, EXECVE_EXE))
        if exe is not None:
            t.exe = exe
        t.lastexec_ts = evt.ts
        comm = _str(_p(p, EXECVE_COMM))
        t.set_comm(comm if comm is not None else t.exe)
        args = strlist(_p(p, EXECVE_ARGS))
        t.set_args(args or [])
        pid = _p(p, EXECVE_PID)
        if isinstance(pid, int):
            t.pid = pid
        if was_invalid:
            ptid = _p(p, EXECVE_PTID)
            if isinstance(ptid, int):
                t.ptid = ptid
            if not t.flags & CHILD_IN_PIDNS:
                t.vtid, t.vpid = t.tid, t.pid
            tt.join_group(t)
        g = t.group
        fdl = _p(p, EXECVE_FDLIMIT)
        if isinstance(fdl, int):
            g.fdlimit = fdl
        for i, attr in ((EXECVE_PGFT_MAJ, "pfmajor"), (EXECVE_PGFT_MIN, "pfminor")):
            v = _p(p, i)
            if isinstance(v, int):
                setattr(t, attr, v)
        for i, attr in ((EXECVE_VM_SIZE, "vmsize"), (EXECVE_VM_RSS, "vmrss"), (EXECVE_VM_SWAP, "vmswap")):
            v = _p(p, i)
            if isinstance(v, int):
                setattr(g, attr, v)
        env = strlist(_p(p, EXECVE_ENV))
        if env:
            g.env = env
        cg = strlist(_p(p, EXECVE_CGROUPS))
        if cg:
            t.cgroups = parse_cgroups(cg)
        self._resolve_container(t)
        tty = _p(p, EXECVE_TTY)
        if isinstance(tty, int):
            t.tty = tty
        exepath = _str(_p(p, EXECVE_TRUSTED_EXEPATH))
        if exepath is None:
            # old event versions: rebuilt from the enter event, when it directly precedes the exit
            le = evt.enter
            if le is not None:
                if le.info.name == "execve":
                    fn = _str(_p(le.params, EXECVE_E_FILENAME))
                    if fn is not None:
                        exepath = NA if fn == NA else concat_path(t.get_cwd(), fn)
                elif le.info.name == "execveat":
                    exepath = self._execveat_path(t, le)
        if exepath is not None:
            t.exepath = exepath.removesuffix(" (deleted)")
        t.last_enter = None
        v = _p(p, EXECVE_VPGID)
        if isinstance(v, int):
            t.vpgid = v
        v = _p(p, EXECVE_LOGINUID)
        if isinstance(v, int):
            t.loginuid = v
        v = _p(p, EXECVE_FLAGS)
        if isinstance(v, int):
            t.exe_writable = bool(v & 1)
            t.exe_upper_layer = bool(v & 2)
            t.exe_from_memfd = bool(v & 4)
            t.exe_lower_layer = bool(v & 8)
        for i, attr in ((EXECVE_CAP_INHERITABLE, "cap_inheritable"), (EXECVE_CAP_PERMITTED, "cap_permitted"),
                        (EXECVE_CAP_EFFECTIVE, "cap_effective"), (EXECVE_EXE_INO, "exe_ino"),
                        (EXECVE_EXE_INO_CTIME, "exe_ino_ctime"), (EXECVE_EXE_INO_MTIME, "exe_ino_mtime"),
                        (EXECVE_UID, "uid"), (EXECVE_GID, "gid")):
            v = _p(p, i)
            if isinstance(v, int):
                setattr(t, attr, v)
        v = _p(p, EXECVE_PGID)
        t.pgid = v if isinstance(v, int) else -1
        # close-on-exec purge
        fds = g.fds
        if fds:
            for n in [n for n, f in fds.items() if f.openflags & O_CLOEXEC]:
                del fds[n]
        t.flags = (t.flags & (PIPE_SRC | PIPE_DST | IS_MAIN_THREAD | CLONE_INVERTED)) | ACTIVE | NAME_CHANGED
        # the other threads of the process are gone
        for other in list(g.members):
            if other != t.tid and other != t.pid:
                tt.remove(other)

    def _on_procexit(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        if t is None:
            return
        t.dead = True
        r = _p(evt.params, PROCEXIT_REAPER_TID)
        if isinstance(r, int):
            t.reaper_tid = r
        self._pending.append((self._remove_thread, (t,)))

    def _remove_thread(self, t: ThreadInfo) -> None:
        tt = self.threads
        if tt.threads.get(t.tid) is not t:
            return
        g = t.group
        # where this thread's children go
        new_parent = 0
        r = tt.get(t.reaper_tid) if t.reaper_tid > 0 else None
        if r is not None and not r.is_invalid() and not r.dead:
            new_parent = r.tid
            r.group.reaper = True
        else:
            for m in g.members:
                o = tt.threads.get(m)
                if o is not None and o is not t and not o.dead:
                    new_parent = m
                    break
            else:
                for a in t.ancestors():
                    if a.group.reaper and not a.dead:
                        new_parent = a.tid
                        break
        rp = tt.reparent
        rp[t.tid] = new_parent
        if len(rp) > 65536:
            rp.clear()
        self._recent_exits[t.tid] = t.last_ts
        if len(self._recent_exits) > 4096:
            self._recent_exits.clear()
        live = [m for m in g.members if m != t.tid and (o := tt.threads.get(m)) is not None and not o.dead]
        if t.tid == t.pid and live:
            return  # the main thread (and the fd table) stays while other threads live
        tt.remove(t.tid)
        if not live and t.tid != t.pid:
            main = tt.threads.get(t.pid)
            if main is not None and main.dead:
                tt.remove(main.tid)

    def parent_of(self, t: ThreadInfo) -> ThreadInfo | None:
        """Parent thread, following re-parenting of exited parents (used by ancestry fields)."""
        return t.parent()

    def _on_chdir(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        if t is None or _int(_p(p, RES), -1) < 0:
            return
        path = _str(_p(p, CHDIR_PATH))
        if path is None:
            return
        self._update_cwd(t, path)

    @staticmethod
    def _update_cwd(t: ThreadInfo, path: str) -> None:
        """Falco's cwd change: stored on the main thread (none known: no change), a relative path
        taken against the calling thread's own cwd (a secondary thread has none)."""
        m = t.main_or_none()
        if m is None:
            return
        new = concat_path(t.group.cwd if m is t else "", path)
        m.group.cwd = new if new.endswith("/") else new + "/"

    def _on_fchdir(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        if t is None or _int(_p(evt.params, RES), -1) < 0:
            return
        f = evt.fd
        if f is not None:
            self._update_cwd(t, f.name)

    def _on_getcwd(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        if t is None or _int(_p(p, RES), -1) < 0:
            return
        path = _str(_p(p, GETCWD_PATH))
        self._update_cwd(t, path or "")

    def _on_chroot(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        if t is None or _p(p, RES) != 0:
            return
        path = _str(_p(p, CHROOT_PATH))
        if path:
            t.root = concat_path(t.group.cwd, path)

    def _on_setuid(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        if t is None or _p(p, RES) != 0:
            return
        v = _p(p, SETUID_UID) if evt.info.name == "setuid" else _p(p, SETREUID_EUID)
        if isinstance(v, int):
            t.uid = v

    def _on_setgid(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        if t is None or _p(p, RES) != 0:
            return
        v = _p(p, SETGID_GID) if evt.info.name == "setgid" else _p(p, SETREGID_EGID)
        if isinstance(v, int):
            t.gid = v

    def _on_capset(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        if t is None or _int(_p(p, RES), -1) < 0:
            return
        for i, attr in ((CAPSET_CAP_INHERITABLE, "cap_inheritable"), (CAPSET_CAP_PERMITTED, "cap_permitted"),
                        (CAPSET_CAP_EFFECTIVE, "cap_effective")):
            v = _p(p, i)
            if isinstance(v, int):
                setattr(t, attr, v)

    def _on_unshare(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        if t is None or _int(_p(p, RES), -1) < 0:
            return
        v = _p(p, UNSHARE_FLAGS) if evt.info.name == "unshare" else _p(p, SETNS_NSTYPE)
        if isinstance(v, int) and v & CLONE_NEWUSER:
            t.cap_inheritable = t.cap_permitted = t.cap_effective = ALL_CAPS

    def _on_setsid(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        r = _p(evt.params, RES)
        if t is not None and isinstance(r, int) and r >= 0:
            t.sid = r

    def _on_prctl(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        if t is None or _int(_p(p, RES), -1) < 0:
            return
        if _p(p, PRCTL_OPTION) in (PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER):
            t.group.reaper = _int(_p(p, PRCTL_ARG2_INT)) != 0

    def _on_rlimit(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        if t is None or _int(_p(p, RES), -1) < 0 or _p(p, RLIMIT_RESOURCE) != RLIMIT_NOFILE:
            return
        v = _p(p, RLIMIT_CUR)
        if isinstance(v, int) and v != -1 and v != 0xFFFFFFFFFFFFFFFF:
            t.group.fdlimit = v

    def _on_prlimit(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        if t is None or _p(p, RES) != 0 or _p(p, PRLIMIT_RESOURCE) != RLIMIT_NOFILE:
            return
        v = _p(p, PRLIMIT_NEWCUR)
        if not isinstance(v, int) or v in (-1, 0xFFFFFFFFFFFFFFFF):
            return
        target: ThreadInfo | None = t
        pid = _p(p, PRLIMIT_PID)
        if _int(pid) > 0:
            target = self.threads.get(pid)
        if target is not None:
            target.group.fdlimit = v

    def _on_switch(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        """A context switch carries the thread's page faults and the process's memory sizes."""
        p = evt.params
        if t is None or len(p) <= SWITCH_VM_SWAP or p[SWITCH_VM_SWAP] is None:
            return
        t.pfmajor, t.pfminor = _int(p[SWITCH_PGFT_MAJ]), _int(p[SWITCH_PGFT_MIN])
        m = t.main_or_none()
        if m is not None:
            g = m.group
            g.vmsize, g.vmrss, g.vmswap = _int(p[SWITCH_VM_SIZE]), _int(p[SWITCH_VM_RSS]), _int(p[SWITCH_VM_SWAP])

    def _on_vm(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        if t is None:
            return
        p = evt.params
        g = t.group
        for i, attr in ((MM_VM_SIZE, "vmsize"), (MM_VM_RSS, "vmrss"), (MM_VM_SWAP, "vmswap")):
            v = _p(p, i)
            if isinstance(v, int):
                setattr(g, attr, v)

    # ----------------------------------------------------------------------------- users
    def _on_useradded(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        uid, gid = _p(p, USER_UID), _p(p, USER_GID)
        if isinstance(uid, int):
            self.users.add_user(uid, _int(gid), _str(_p(p, USER_NAME)) or "", _str(_p(p, USER_HOME)) or "",
                                _str(_p(p, USER_SHELL)) or "", _str(_p(p, USER_CONTAINER_ID)) or "")

    def _on_userdeleted(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        uid = _p(p, USER_UID)
        if isinstance(uid, int):
            self.users.remove_user(uid, _str(_p(p, USER_CONTAINER_ID)) or "")

    def _on_groupadded(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        gid = _p(p, GROUP_GID)
        if isinstance(gid, int):
            self.users.add_group(gid, _str(_p(p, GROUP_NAME)) or "", _str(_p(p, GROUP_CONTAINER_ID)) or "")

    def _on_groupdeleted(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        gid = _p(p, GROUP_GID)
        if isinstance(gid, int):
            self.users.remove_group(gid, _str(_p(p, GROUP_CONTAINER_ID)) or "")

    # ----------------------------------------------------------------------------- fds
    def open_path(self, evt: SyscallEvent, t: ThreadInfo | None) -> tuple[str, str, int]:
        """(absolute name, raw name, flags) of an open-family exit event, as Falco builds them: the
        enter event's name/flags/dirfd win when it directly precedes the exit (old captures)."""
        p = evt.params
        name = evt.info.name
        enter = evt.enter
        if name == "open":
            raw = _str(_p(p, OPEN_NAME)) or ""
            flags = _int(_p(p, OPEN_FLAGS))
            if enter is not None and enter.info.name == name:
                en = _str(_p(enter.params, OPEN_E_NAME))
                if en is not None and en != NA:
                    raw = en
                    flags = _int(_p(enter.params, OPEN_E_FLAGS)) | (flags & ~(O_F_CREATED - 1))
            base = t.get_cwd() if t is not None else ""
        elif name == "creat":
            raw = _str(_p(p, CREAT_NAME)) or ""
            cf = _int(_p(p, CREAT_CREAT_FLAGS))
            flags = 0x8000 if cf & 1 else 0x10000 if cf & 2 else 0
            if enter is not None and enter.info.name == name:
                en = _str(_p(enter.params, CREAT_E_NAME))
                if en is not None and en != NA:
                    raw = en
            base = t.get_cwd() if t is not None else ""
        elif name == "open_by_handle_at":
            raw = _str(_p(p, OPEN_BY_HANDLE_AT_PATH)) or ""
            base = ""
            flags = _int(_p(p, OPEN_BY_HANDLE_AT_FLAGS))
        else:
            raw = _str(_p(p, OPENAT_NAME)) or NA
            flags = _int(_p(p, OPENAT_FLAGS))
            dirfd = _p(p, OPENAT_DIRFD)
            if enter is not None and enter.info.name == name:
                en = _str(_p(enter.params, OPENAT_E_NAME))
                if en is not None and en != NA:
                    raw = en
                    flags = _int(_p(enter.params, OPENAT_E_FLAGS)) | (flags & ~(O_F_CREATED - 1))
                    dirfd = _p(enter.params, OPENAT_E_DIRFD)
            base = self.dirfd_base(t, dirfd, raw) if isinstance(dirfd, int) else ""
        return concat_path(base, raw), raw, flags

    def dirfd_base(self, t: ThreadInfo | None, dirfd: Any, name: str = "") -> str:
        """Directory (with trailing ``/``) a dirfd-relative path is resolved against (Falco's parse_dirfd)."""
        if name[:1] == "/":
            return "."
        if t is None:
            return "<UNKNOWN>"
        if dirfd == AT_FDCWD or not isinstance(dirfd, int):
            return t.get_cwd()
        f = t.group.fds.get(dirfd)
        if f is None:
            return "<UNKNOWN>"
        if not f.name or f.name.endswith("/"):
            return f.name
        return f.name + "/"

    def _execveat_path(self, t: ThreadInfo, enter: SyscallEvent) -> str:
        """exepath of an old execveat from its enter event (dirfd, pathname, flags)."""
        ep = enter.params
        dirfd = _p(ep, EXECVEAT_E_DIRFD)
        path = _str(_p(ep, EXECVEAT_E_PATHNAME)) or ""
        flags = _int(_p(ep, EXECVEAT_E_FLAGS))
        sdir = self.dirfd_base(t, dirfd if isinstance(dirfd, int) else AT_FDCWD, path)
        if (not flags & 1 and path == NA) or sdir == "<UNKNOWN>":
            return NA
        if flags & 1:
            return concat_path("", sdir)
        return concat_path(sdir, path)

    def _on_open(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        fdn = _p(p, RES)
        if t is None:
            return
        name, raw, flags = self.open_path(evt, t)
        f = FdInfo(F.DIRECTORY if flags & O_DIRECTORY else F.FILE_V2, name, flags)
        f.nameraw = raw
        idx = evt.info.index
        di, ii = idx.get("dev"), idx.get("ino")
        if di is not None:
            f.dev = _int(_p(p, di))
        if ii is not None:
            f.ino = _int(_p(p, ii))
        if isinstance(fdn, int) and fdn >= 0:
            evt.fdnum = fdn
            t.group.fds[fdn] = f
            evt.fd = f

    def _add_fd(self, evt: SyscallEvent, t: ThreadInfo | None, num: Any, f: FdInfo) -> None:
        if isinstance(num, int):
            evt.fdnum = num
            evt.fd = f
            if num >= 0 and t is not None:
                t.group.fds[num] = f

    def _on_socket(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        raw = evt.raw
        fdn = _rint(raw, RES)
        if t is None or fdn is None or fdn < 0:
            return
        f = F.new_socket(_ruint(raw, SOCKET_DOMAIN), _ruint(raw, SOCKET_TYPE) or 0, _ruint(raw, SOCKET_PROTO) or 0,
                         _ruint(raw, SOCKET_FLAGS) or 0)
        evt.fdnum = fdn
        evt.fd = f
        t.group.fds[fdn] = f

    def _on_bind(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        f = evt.fd
        if f is None or _int(_p(p, RES), -1) < 0:
            return
        a = parse_sockaddr(_p(p, BIND_ADDR))
        if a is None:
            return
        if a.family in (F.AF_INET, F.AF_INET6) and a.ip is not None and a.port > 0:
            ip = a.ip
            ip = F.as_v4(ip)
            f.type = F.IPV4_SERVSOCK if ip.version == 4 else F.IPV6_SERVSOCK
            f.dip, f.dport = ip, a.port
            f.role |= F.ROLE_SERVER
        f.name = F.render_sockaddr(a)

    def _on_connect(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        f = evt.fd
        if t is None or f is None:
            return
        raw = evt.raw
        res = _rint(raw, RES)
        if res is None or (res < 0 and res != EINPROGRESS):
            return
        f.connected = True
        enter = evt.enter
        enter_addr = parse_sockaddr(_p(enter.params, CONNECT_E_ADDR)) \
            if enter is not None and enter.info.name == "connect" else None
        raw_tuple = raw[CONNECT_TUPLE] if len(raw) > CONNECT_TUPLE else b""
        if not raw_tuple:
            if enter_addr is None:
                return
            if enter_addr.family in (F.AF_INET, F.AF_INET6) and enter_addr.ip is not None:
                ip = F.as_v4(enter_addr.ip)
                f.type = F.IPV4_SOCK if ip.version == 4 else F.IPV6_SOCK
                f.dip, f.dport = ip, enter_addr.port
            else:
                f.name = F.render_sockaddr(enter_addr)
            return
        tup = F.tuple_from_raw(raw_tuple)
        if tup is None:
            return
        # the exit's address only matters against the enter's (captures with enter events)
        exit_addr = parse_sockaddr(_p(evt.params, CONNECT_ADDR)) if enter_addr is not None else None
        if tup.family != F.AF_UNIX:
            dip, dport = tup.dip, tup.dport
            if exit_addr is not None and enter_addr is not None and exit_addr.ip is not None \
                    and enter_addr.ip is not None and exit_addr.port == dport \
                    and F.as_v4(exit_addr.ip) == dip:
                cand = F.as_v4(enter_addr.ip) if dip.version == 4 else enter_addr.ip
                if cand.version == dip.version:
                    dip, dport = cand, enter_addr.port
            f.type = F.IPV4_SOCK if tup.family == F.AF_INET else F.IPV6_SOCK
            changed = F.set_addresses(f, tup.sip, tup.sport, dip, dport, overwrite_dest=True)
            if changed and f.role & F.ROLE_SERVER and f.type == F.IPV4_SOCK and f.l4 == F.L4_UDP:
                F.swap_addresses(f)
            f.name = f.render_tuple_name()
        else:
            if f.type != F.UNIX_SOCK:
                return
            path = tup.path
            if exit_addr is not None and enter_addr is not None and exit_addr.path == tup.path:
                path = enter_addr.path
            f.usrc, f.udst = tup.usrc, tup.udst
            f.name = f"{tup.usrc:x}->{tup.udst:x} {path}"
        if not f.role:
            f.role = F.ROLE_CLIENT

    def _on_accept(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        raw = evt.raw
        fdn = _rint(raw, RES)
        if t is None or fdn is None or fdn < 0:
            return
        evt.fdnum = fdn
        tup = F.tuple_from_raw(raw[ACCEPT_TUPLE]) if len(raw) > ACCEPT_TUPLE else None
        if tup is None:
            return
        if tup.family == F.AF_UNIX:
            f = FdInfo(F.UNIX_SOCK)
            f.usrc, f.udst = tup.usrc, tup.udst
        else:
            f = FdInfo(F.IPV4_SOCK if tup.family == F.AF_INET else F.IPV6_SOCK)
            f.l4 = F.L4_TCP
            f.sip, f.sport, f.dip, f.dport = tup.sip, tup.sport, tup.dip, tup.dport
        f.name = F.render_tuple(tup)
        if evt.info.name == "accept4" and (_rint(raw, ACCEPT4_FLAGS) or 0) & O_CLOEXEC:
            f.openflags = O_CLOEXEC
        f.role = F.ROLE_SERVER
        f.connected = True
        evt.fd = f
        t.group.fds[fdn] = f

    def _on_close(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        f = evt.fd
        if t is None or f is None:
            return
        res = _rint(evt.raw, RES)
        if res is None or res < 0:
            return
        self._pending.append((self._drop_fd, (t.group, evt.fdnum, f)))

    @staticmethod
    def _drop_fd(g: ProcessGroup, n: int, f: FdInfo) -> None:
        if g.fds.get(n) is f:
            del g.fds[n]

    def _on_close_range(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        if t is None or _int(_p(p, RES), -1) < 0:
            return
        first, last = _int(_p(p, CLOSE_RANGE_FIRST)), _int(_p(p, CLOSE_RANGE_LAST))
        flags = _int(_p(p, CLOSE_RANGE_FLAGS))
        fds = t.group.fds
        hit = [n for n in fds if first <= n <= last]
        if flags & CLOSE_RANGE_CLOEXEC:
            for n in hit:
                fds[n].openflags |= O_CLOEXEC
        else:
            for n in hit:
                del fds[n]

    def _on_dup(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        res = _p(p, RES)
        old = evt.fd
        if t is None or not isinstance(res, int) or res < 0 or old is None:
            return
        f = old.copy()
        f.openflags &= ~O_CLOEXEC
        if evt.info.name == "dup3" and _int(_p(p, DUP3_FLAGS)) & O_CLOEXEC:
            f.openflags |= O_CLOEXEC
        t.group.fds[res] = f
        evt.fd, evt.fdnum = f, res
        if res == 0:
            t.flags |= PIPE_DST
        elif res == 1:
            t.flags |= PIPE_SRC

    def _on_fcntl(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        res = _p(p, RES)
        old = evt.fd
        if t is None or not isinstance(res, int) or res < 0 or old is None:
            return
        cmd = _p(p, FCNTL_CMD)
        if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
            f = old.copy()
            f.openflags = (f.openflags & ~O_CLOEXEC) | (O_CLOEXEC if cmd == F_DUPFD_CLOEXEC else 0)
            t.group.fds[res] = f
            evt.fd, evt.fdnum = f, res
        elif cmd == F_SETFD:
            if _int(_p(p, FCNTL_ARG)) & 1:
                old.openflags |= O_CLOEXEC
            else:
                old.openflags &= ~O_CLOEXEC

    def _on_pipe(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        if t is None or _int(_p(p, RES), -1) < 0:
            return
        ino = _int(_p(p, PIPE_INO))
        flags = _int(_p(p, PIPE2_FLAGS)) if evt.info.name == "pipe2" else 0
        for i in (PIPE_FD1, PIPE_FD2):
            n = _p(p, i)
            if isinstance(n, int) and n >= 0:
                f = FdInfo(F.FIFO, "", flags)
                f.ino = ino
                t.group.fds[n] = f
        n2 = _p(p, PIPE_FD2)
        if isinstance(n2, int):
            evt.fdnum = n2
            evt.fd = t.group.fds.get(n2)

    def _on_socketpair(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        if t is None or _int(_p(p, RES), -1) < 0:
            return
        n1, n2 = _p(p, SOCKETPAIR_FD1), _p(p, SOCKETPAIR_FD2)
        if not isinstance(n1, int) or not isinstance(n2, int) or n1 == n2:
            return
        src, peer = _int(_p(p, SOCKETPAIR_SOURCE)), _int(_p(p, SOCKETPAIR_PEER))
        for n, a, b in ((n1, src, peer), (n2, peer, src)):
            f = FdInfo(F.UNIX_SOCK)
            f.usrc, f.udst = a, b
            t.group.fds[n] = f
        evt.fdnum = n2
        evt.fd = t.group.fds[n1]

    def _on_simple_fd(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        name = evt.info.name
        res = _p(p, RES)
        if not isinstance(res, int) or res < 0 or t is None:
            return
        flags = 0
        fi = evt.info.index.get("flags")
        if fi is not None and name not in ("timerfd_create", "signalfd"):
            v = _int(_p(p, fi))
            flags = (O_CLOEXEC if v & 1 else 0) if name == "epoll_create1" else v
        self._add_fd(evt, t, res, FdInfo(_SIMPLE_FD_TYPES[name], "", flags))

    def _on_memfd(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        n = _p(p, RES)
        if not isinstance(n, int):
            return
        if n < 0 or t is None:
            return
        name = _str(_p(p, MEMFD_CREATE_NAME)) or ""
        self._add_fd(evt, t, n, FdInfo(F.MEMFD, name, _int(_p(p, MEMFD_CREATE_FLAGS))))

    def _on_pidfd_open(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        n = _p(p, RES)
        if not isinstance(n, int) or n < 0 or t is None:
            return
        pid = _int(_p(p, PIDFD_OPEN_PID))
        f = FdInfo(F.PIDFD, f"{self.host_root}/proc/{pid}")
        f.pid = pid
        self._add_fd(evt, t, n, f)

    def _on_pidfd_getfd(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        p = evt.params
        n = _p(p, RES)
        if not isinstance(n, int) or n < 0 or t is None:
            return
        pidfd = t.group.fds.get(_int(_p(p, PIDFD_GETFD_PID_FD), -1))
        if pidfd is None or pidfd.type != F.PIDFD:
            return
        target = self.threads.get(pidfd.pid)
        src = target.group.fds.get(_int(_p(p, PIDFD_GETFD_TARGET_FD), -1)) if target is not None else None
        if src is None:
            return
        f = src.copy()
        f.openflags |= O_CLOEXEC
        self._add_fd(evt, t, n, f)

    def _on_io(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        f = evt.fd
        if f is not None and f.type in F.SOCK_TYPES and _int(_p(evt.params, RES), -1) >= 0:
            f.connected = True

    def _on_recv_tuple(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        self._io_tuple(evt, t, incoming=True)

    def _on_send_tuple(self, evt: SyscallEvent, t: ThreadInfo | None) -> None:
        self._io_tuple(evt, t, incoming=False)

    def _io_tuple(self, evt: SyscallEvent, t: ThreadInfo | None, incoming: bool) -> None:
        """Falco's read/write exit for the socket calls carrying a tuple."""
        p = evt.params
        if not p or p[RES] is None:
            return  # old recvmmsg/sendmmsg records carry no parameters
        f = evt.fd
        res = _int(_p(p, RES), -1)
        ti = evt.info.index.get("tuple")
        if f is None:
            # a send on a socket whose creation was missed: taken for UDP
            if incoming or t is None or res < 0 or ti is None or evt.info.name == "sendmmsg":
                return
            raw = _p(evt.raw, ti) or b""
            if raw[:1] not in (b"\x02", b"\x0a"):
                return
            n = evt.fdnum
            if not isinstance(n, int):
                return
            f = F.new_socket(F.AF_INET if raw[:1] == b"\x02" else F.AF_INET6, 2, 17)
            self._add_fd(evt, t, n, f)
        if res < 0:
            return
        if f.type in F.SOCK_TYPES:
            f.connected = True
        if ti is None or (f.name and f.type == F.IPV4_SOCK and f.l4 == F.L4_TCP):
            return
        tup = parse_tuple(_p(p, ti))
        if tup is None:
            return
        if not F.update_from_tuple(f, tup, self.interfaces):
            return
        if f.type in F.SOCK_TYPES:
            if not f.role:
                F.guess_role(f, t.group.fds if t is not None else {}, incoming)
            if f.role & (F.ROLE_CLIENT if incoming else F.ROLE_SERVER):
                F.swap_addresses(f)
            f.name = f.render_tuple_name()
        else:
            f.name = F.render_tuple(tup)


def proc_alive(tid: int) -> bool:
    """Liveness check for the inactivity purge in live mode."""
    return os.path.exists(f"/proc/{tid}")


def _ip(v: Any) -> Any:
    import ipaddress
    if v is None:
        return None
    if isinstance(v, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return v
    if isinstance(v, int):
        return ipaddress.IPv4Address(int.from_bytes(v.to_bytes(4, "little"), "big"))
    if isinstance(v, (bytes, bytearray)):
        return ipaddress.ip_address(bytes(v))
    return ipaddress.ip_address(str(v))
