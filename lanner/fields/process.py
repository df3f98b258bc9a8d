"""``proc.*`` fields: the process of the event's thread, its parent and ancestors (event-model 5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lanner.events.syscall import SyscallEvent
from lanner.fields import types as ft
from lanner.fields.registry import (
    ANY_ANCESTOR,
    ARG_OPTIONAL,
    Extractor,
    FieldClass,
    FieldDef,
    FieldError,
    fdef,
)
from lanner.state import fds as F
from lanner.state.threads import CHILD_IN_PIDNS, ThreadInfo

_SHELLS = frozenset({"ash", "bash", "csh", "ksh", "sh", "tcsh", "zsh", "dash"})


def _env_lookup(env: list[str], key: str) -> str | None:
    pre = key + "="
    for kv in env:
        if kv.startswith(pre):
            return kv[len(pre):]
    return None


def _leader(t: ThreadInfo, attr: str) -> ThreadInfo | None:
    """Session / process-group leader as Falco finds it: the thread whose tid is the id (looked up
    directly unless a virtual id is read inside a pid namespace), else the eldest consecutive
    ancestor carrying the same id."""
    ident = getattr(t, attr)
    if ident == -1:
        return None
    table = t.table
    if table is not None and (attr == "pgid" or not (t.flags & CHILD_IN_PIDNS or (t.tid != t.vtid and t.vtid >= 0))):
        lead = table.threads.get(ident)
        if lead is not None:
            return lead
    best = None
    for a in t.ancestors():
        if getattr(a, attr) != ident:
            break
        best = a
    return best


def _std(t: ThreadInfo, n: int, what: str) -> str | None:
    f = t.group.fds.get(n)
    if f is None:
        return None
    return F.TYPENAME.get(f.type, "<NA>") if what == "type" else f.name


# per-thread value getters, shared by proc.X, proc.pX and proc.aX[N]
_VALUES: dict[str, Callable[[ThreadInfo], Any]] = {
    "name": lambda t: t.comm,
    "exe": lambda t: t.exe,
    "exepath": lambda t: t.exepath,
    "cmdline": lambda t: t.cmdline,
    "args": lambda t: " ".join(t.args),
    "pid": lambda t: t.pid,
    "env": lambda t: " ".join(t.group.env),
}


def process_class(state: Any = None) -> FieldClass:
    def th(fn: Callable[[ThreadInfo], Any]) -> Extractor:
        def get(e: SyscallEvent) -> Any:
            t = e.thread
            return fn(t) if t is not None else None
        return get

    def par(fn: Callable[[ThreadInfo], Any]) -> Extractor:
        def get(e: SyscallEvent) -> Any:
            t = e.thread
            p = t.parent() if t is not None else None
            return fn(p) if p is not None else None
        return get

    def duration(e: SyscallEvent) -> int | None:
        t = e.thread
        if t is None or not t.clone_ts:
            return None
        return max(0, e.ts - t.clone_ts)

    def loginshellid(e: SyscallEvent) -> int | None:
        """pid of the eldest ancestor (main thread first) whose name ends in "sh"."""
        t = e.thread
        m = t.main_or_none() if t is not None else None
        if m is None:
            return None
        found = None
        for a in (m, *m.ancestors()):
            if a.comm.endswith("sh"):
                found = a.pid
        return found

    def leader_value(attr: str, fn: Callable[[ThreadInfo], Any]) -> Extractor:
        def get(e: SyscallEvent) -> Any:
            t = e.thread
            if t is None:
                return None
            lead = _leader(t, attr)
            return fn(lead) if lead is not None else ""
        return get

    def alive_in_group(t: ThreadInfo) -> int:
        """Live threads of the process (Falco's thread-group count; 0 for a thread of no known process)."""
        if t.pid < 0 or t.ptid < 0 or t.table is None:
            return 0
        threads = t.table.threads
        return sum(1 for m in t.group.members if (o := threads.get(m)) is not None and not o.dead)

    def nchilds(e: SyscallEvent) -> int | None:
        """Falco's proc.nchilds: the threads of the process other than a live main thread."""
        t = e.thread
        if t is None:
            return None
        n = alive_in_group(t)
        if n == 0:
            return 0
        m = t.main_or_none()
        return n - 1 if m is not None and not m.dead else n

    def ppid_duration(e: SyscallEvent) -> int | None:
        """ns since the parent process started; Falco, not knowing that start, reads the open-fd count."""
        t = e.thread
        p = t.parent() if t is not None else None
        if p is None:
            return None
        return e.ts - p.clone_ts if p.clone_ts else fdopencount(e)

    def fdopencount(e: SyscallEvent) -> int | None:
        t = e.thread
        if t is None:
            return None
        m = t.main_or_none()
        return len(m.group.fds) if m is not None else 0

    def fdlimit(e: SyscallEvent) -> int | None:
        t = e.thread
        if t is None:
            return None
        m = t.main_or_none()
        return m.group.fdlimit if m is not None else 0

    def fdusage(e: SyscallEvent) -> float | None:
        t = e.thread
        m = t.main_or_none() if t is not None else None
        if m is None or m.group.fdlimit <= 0:
            return None if t is None else 0.0
        n = len(m.group.fds)
        return min(100.0, 100.0 * n / m.group.fdlimit)

    def ctime_minus(e: SyscallEvent, base: str) -> int | None:
        t = e.thread
        if t is None or not t.exe_ino_ctime:
            return None
        b = t.clone_ts if base == "proc" else t.pidns_init_start_ts
        if not b:
            return None
        return b - t.exe_ino_ctime

    simple: dict[str, Extractor] = {
        "proc.pid": th(lambda t: t.pid),
        "proc.exe": th(lambda t: t.exe),
        "proc.name": th(lambda t: t.comm),
        "proc.cmdline": th(lambda t: t.cmdline),
        "proc.exeline": th(lambda t: t.exe + " " + " ".join(t.args)),
        "proc.cwd": th(lambda t: t.get_cwd()),
        "proc.nthreads": th(alive_in_group),
        "proc.nchilds": nchilds,
        "proc.ppid": par(lambda p: p.pid),
        "proc.pname": par(lambda p: p.comm),
        "proc.pcmdline": par(lambda p: p.cmdline),
        "proc.pexe": par(lambda p: p.exe),
        "proc.pexepath": par(lambda p: p.exepath),
        "proc.pvpid": th(lambda t: p.vpid if t.table is not None and (p := t.table.threads.get(t.ptid)) is not None
                         else None),
        "proc.ppid.ts": th(lambda t: p.clone_ts if t.table is not None and (p := t.table.threads.get(t.ptid))
                           is not None else None),
        "proc.ppid.duration": ppid_duration,
        "proc.pid.ts": th(lambda t: t.clone_ts or None),
        "proc.loginshellid": loginshellid,
        "proc.duration": duration,
        "proc.fdopencount": fdopencount,
        "proc.fdlimit": fdlimit,
        "proc.fdusage": fdusage,
        "proc.vmsize": th(lambda t: t.group.vmsize),
        "proc.vmrss": th(lambda t: t.group.vmrss),
        "proc.vmswap": th(lambda t: t.group.vmswap),
        "proc.vpid": th(lambda t: t.vpid if t.vpid != -1 else None),
        "proc.sid": th(lambda t: t.sid),
        "proc.sname": leader_value("sid", lambda a: a.comm),
        "proc.sid.exe": leader_value("sid", lambda a: a.exe),
        "proc.sid.exepath": leader_value("sid", lambda a: a.exepath),
        "proc.vpgid": th(lambda t: t.vpgid),
        "proc.vpgid.name": leader_value("vpgid", lambda a: a.comm),
        "proc.vpgid.exe": leader_value("vpgid", lambda a: a.exe),
        "proc.vpgid.exepath": leader_value("vpgid", lambda a: a.exepath),
        "proc.pgid": th(lambda t: t.pgid),
        "proc.pgid.name": leader_value("pgid", lambda a: a.comm),
        "proc.pgid.exe": leader_value("pgid", lambda a: a.exe),
        "proc.pgid.exepath": leader_value("pgid", lambda a: a.exepath),
        "proc.is_sid_leader": th(lambda t: t.sid == t.vpid),
        "proc.is_vpgid_leader": th(lambda t: t.vpgid == t.vpid),
        "proc.is_pgid_leader": th(lambda t: t.pgid == t.pid),
        "proc.tty": th(lambda t: t.tty),
        "proc.exepath": th(lambda t: t.exepath),
        "proc.is_exe_writable": th(lambda t: t.exe_writable),
        "proc.is_exe_upper_layer": th(lambda t: t.exe_upper_layer),
        "proc.is_exe_lower_layer": th(lambda t: t.exe_lower_layer),
        "proc.is_exe_from_memfd": th(lambda t: t.exe_from_memfd),
        "proc.exe_ino": th(lambda t: t.exe_ino or None),
        "proc.exe_ino.ctime": th(lambda t: t.exe_ino_ctime or None),
        "proc.exe_ino.mtime": th(lambda t: t.exe_ino_mtime or None),
        "proc.exe_ino.ctime_duration_proc_start": lambda e: ctime_minus(e, "proc"),
        "proc.exe_ino.ctime_duration_pidns_start": lambda e: ctime_minus(e, "pidns"),
        "proc.pidns_init_start_ts": th(lambda t: t.pidns_init_start_ts or None),
        "proc.cmdnargs": th(lambda t: len(t.args)),
        "proc.cmdlenargs": th(lambda t: sum(len(a) for a in t.args)),
        "proc.stdin.type": th(lambda t: _std(t, 0, "type")),
        "proc.stdin.name": th(lambda t: _std(t, 0, "name")),
        "proc.stdout.type": th(lambda t: _std(t, 1, "type")),
        "proc.stdout.name": th(lambda t: _std(t, 1, "name")),
        "proc.stderr.type": th(lambda t: _std(t, 2, "type")),
        "proc.stderr.name": th(lambda t: _std(t, 2, "name")),
    }

    def bind_args(arg: str | None) -> Extractor:
        if arg is None:
            return th(lambda t: " ".join(t.args))
        if not arg.isdigit():
            raise FieldError(f"field 'proc.args' expects a numeric index as argument but got: {arg}")
        n = int(arg)
        return th(lambda t: t.args[n] if n < len(t.args) else None)

    def bind_env(arg: str | None) -> Extractor:
        if arg is None:
            return th(lambda t: " ".join(t.group.env))
        return th(lambda t: _env_lookup(t.group.env, arg) or "")

    def bind_ancestor(value: Callable[[ThreadInfo], Any], fname: str) -> Callable[[str | None], Extractor]:
        def factory(arg: str | None) -> Extractor:
            if arg is None:
                def anyof(e: SyscallEvent) -> Any:
                    t = e.thread
                    if t is None or t.main_or_none() is None:
                        return None
                    return [value(a) for a in t.ancestors()] or None
                return anyof
            if not arg.isdigit():
                raise FieldError(f"field '{fname}' expects a numeric index as argument but got: {arg}")
            n = int(arg)

            def nth(e: SyscallEvent) -> Any:
                t = e.thread
                a = t.ancestor(n) if t is not None else None
                return value(a) if a is not None else None
            return nth
        return factory

    def bind_aenv(arg: str | None) -> Extractor:
        if arg is None or arg.isdigit():
            n = int(arg) if arg is not None else 0
            if n == 0:
                # as Falco: without a name (or with [0]) the process's own environment
                return th(lambda t: " ".join(t.group.env))
            return bind_ancestor(lambda a: " ".join(a.group.env), "proc.aenv")(str(n))

        def get(e: SyscallEvent) -> Any:
            t = e.thread
            if t is None:
                return None
            for a in (t, *t.ancestors()):
                v = _env_lookup(a.group.env, arg)
                if v is not None:
                    return v
            return ""
        return get

    factories: dict[str, Callable[[str | None], Extractor]] = {
        "proc.args": bind_args,
        "proc.env": bind_env,
        "proc.aenv": bind_aenv,
        "proc.aname": bind_ancestor(lambda a: a.comm, "proc.aname"),
        "proc.apid": bind_ancestor(lambda a: a.pid, "proc.apid"),
        "proc.aexe": bind_ancestor(lambda a: a.exe, "proc.aexe"),
        "proc.aexepath": bind_ancestor(lambda a: a.exepath, "proc.aexepath"),
        "proc.acmdline": bind_ancestor(lambda a: a.cmdline, "proc.acmdline"),
        "proc.aargs": bind_ancestor(lambda a: " ".join(a.args), "proc.aargs"),
    }

    S, I64, U64 = ft.CHARBUF, ft.INT64, ft.UINT64
    anc = [ANY_ANCESTOR]
    fields = [
        fdef("proc.pid", I64, "id of the process generating the event"),
        fdef("proc.exe", S, "first command line argument (argv[0]) as given at exec"),
        fdef("proc.name", S, "name of the executable generating the event (comm)"),
        fdef("proc.args", S, "command line arguments (argv[1..]); [N] = the Nth one", arg=ARG_OPTIONAL,
             arg_kind="index"),
        fdef("proc.env", S, "environment variables; [NAME] = the value of one", arg=ARG_OPTIONAL, arg_kind="key"),
        fdef("proc.aenv", S, "environment of an ancestor ([N]) or a variable searched up the tree ([NAME])",
             arg=ARG_OPTIONAL),
        fdef("proc.cmdline", S, "name + arguments"),
        fdef("proc.exeline", S, "exe + arguments"),
        fdef("proc.cwd", S, "current working directory (trailing /)"),
        fdef("proc.nthreads", U64, "number of live threads of the process"),
        fdef("proc.nchilds", U64, "number of child threads/processes"),
        fdef("proc.ppid", I64, "pid of the parent process"),
        fdef("proc.pname", S, "name of the parent"),
        fdef("proc.pcmdline", S, "cmdline of the parent"),
        fdef("proc.pexe", S, "exe of the parent"),
        fdef("proc.pexepath", S, "exepath of the parent"),
        fdef("proc.pvpid", I64, "vpid of the parent"),
        fdef("proc.apid", I64, "pid of the Nth ancestor; no argument: any ancestor", arg=ARG_OPTIONAL,
             arg_kind="index", flags=anc),
        fdef("proc.aname", S, "name of the Nth ancestor ([1] = parent); no argument: any ancestor",
             arg=ARG_OPTIONAL, arg_kind="index", flags=anc),
        fdef("proc.aexe", S, "exe of the Nth ancestor; no argument: any ancestor", arg=ARG_OPTIONAL,
             arg_kind="index", flags=anc),
        fdef("proc.aexepath", S, "exepath of the Nth ancestor; no argument: any ancestor", arg=ARG_OPTIONAL,
             arg_kind="index", flags=anc),
        fdef("proc.acmdline", S, "cmdline of the Nth ancestor; no argument: any ancestor", arg=ARG_OPTIONAL,
             arg_kind="index", flags=anc),
        fdef("proc.aargs", S, "args of the Nth ancestor; no argument: any ancestor", arg=ARG_OPTIONAL,
             arg_kind="index", flags=anc),
        fdef("proc.loginshellid", I64, "pid of the eldest shell ancestor"),
        fdef("proc.duration", ft.RELTIME, "ns since the process started"),
        fdef("proc.ppid.duration", ft.RELTIME, "ns since the parent started"),
        fdef("proc.pid.ts", ft.ABSTIME, "start time of the process"),
        fdef("proc.ppid.ts", ft.ABSTIME, "start time of the parent"),
        fdef("proc.fdopencount", U64, "number of open fds"),
        fdef("proc.fdlimit", I64, "maximum number of fds"),
        fdef("proc.fdusage", ft.DOUBLE, "open fds as a percentage of the limit"),
        fdef("proc.vmsize", U64, "virtual memory size (kB)"),
        fdef("proc.vmrss", U64, "resident memory (kB)"),
        fdef("proc.vmswap", U64, "swapped memory (kB)"),
        fdef("proc.vpid", I64, "pid inside the process's pid namespace"),
        fdef("proc.sid", I64, "session id"),
        fdef("proc.sname", S, "name of the session leader"),
        fdef("proc.sid.exe", S, "exe of the session leader"),
        fdef("proc.sid.exepath", S, "exepath of the session leader"),
        fdef("proc.vpgid", I64, "process group id (pid namespace view)"),
        fdef("proc.vpgid.name", S, "name of the process group leader"),
        fdef("proc.vpgid.exe", S, "exe of the process group leader"),
        fdef("proc.vpgid.exepath", S, "exepath of the process group leader"),
        fdef("proc.pgid", I64, "process group id (host view)"),
        fdef("proc.pgid.name", S, "name of the process group leader (host view)"),
        fdef("proc.pgid.exe", S, "exe of the process group leader (host view)"),
        fdef("proc.pgid.exepath", S, "exepath of the process group leader (host view)"),
        fdef("proc.is_sid_leader", ft.BOOL, "true if the process leads its session"),
        fdef("proc.is_vpgid_leader", ft.BOOL, "true if the process leads its process group"),
        fdef("proc.is_pgid_leader", ft.BOOL, "true if the process leads its process group (host view)"),
        fdef("proc.tty", ft.UINT32, "controlling terminal; 0 = none"),
        fdef("proc.exepath", S, "full path of the executable"),
        fdef("proc.is_exe_writable", ft.BOOL, "true if the executable is writable by the process"),
        fdef("proc.is_exe_upper_layer", ft.BOOL, "true if the executable is in an overlayfs upper layer"),
        fdef("proc.is_exe_lower_layer", ft.BOOL, "true if the executable is in an overlayfs lower layer"),
        fdef("proc.is_exe_from_memfd", ft.BOOL, "true if the executable is a memfd file"),
        fdef("proc.exe_ino", I64, "inode of the executable"),
        fdef("proc.exe_ino.ctime", ft.ABSTIME, "ctime of the executable inode"),
        fdef("proc.exe_ino.mtime", ft.ABSTIME, "mtime of the executable inode"),
        fdef("proc.exe_ino.ctime_duration_proc_start", ft.ABSTIME, "ns from the executable ctime to process start"),
        fdef("proc.exe_ino.ctime_duration_pidns_start", ft.ABSTIME,
             "ns from the executable ctime to the pid namespace start"),
        fdef("proc.pidns_init_start_ts", U64, "start time of the pid namespace init"),
        fdef("proc.cmdnargs", U64, "number of command line arguments"),
        fdef("proc.cmdlenargs", U64, "total length of the command line arguments"),
        fdef("proc.stdin.type", S, "fd type of stdin"),
        fdef("proc.stdin.name", S, "fd name of stdin"),
        fdef("proc.stdout.type", S, "fd type of stdout"),
        fdef("proc.stdout.name", S, "fd name of stdout"),
        fdef("proc.stderr.type", S, "fd type of stderr"),
        fdef("proc.stderr.name", S, "fd name of stderr"),
    ]
    missing = [f.name for f in fields if f.name not in simple and f.name not in factories]
    if missing:
        raise RuntimeError(f"proc fields without extractor: {missing}")

    def bind(f: FieldDef, arg: str | None) -> Extractor:
        fac = factories.get(f.name)
        if fac is not None:
            return fac(arg)
        return simple[f.name]

    return FieldClass("process", "Process information", ("syscall",), fields, bind)
