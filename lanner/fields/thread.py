"""``thread.*`` fields: per-thread ids, capabilities, cgroups, page faults."""

from __future__ import annotations

from typing import Any

from lanner.events.syscall import SyscallEvent
from lanner.fields import types as ft
from lanner.fields.registry import ARG_REQUIRED, Extractor, FieldClass, FieldDef, fdef

CAP_NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)


def cap_string(v: int) -> str:
    """Capability bit set as space-separated CAP_* names."""
    return " ".join(n for i, n in enumerate(CAP_NAMES) if v >> i & 1)


def thread_class() -> FieldClass:
    def th(fn):
        def get(e: SyscallEvent) -> Any:
            t = e.thread
            return fn(t) if t is not None else None
        return get

    simple: dict[str, Extractor] = {
        "thread.tid": th(lambda t: t.tid),
        "thread.vtid": th(lambda t: t.vtid if t.vtid != -1 else None),
        "thread.ismain": th(lambda t: t.tid == t.pid),
        "thread.cap_permitted": th(lambda t: cap_string(t.cap_permitted)),
        "thread.cap_inheritable": th(lambda t: cap_string(t.cap_inheritable)),
        "thread.cap_effective": th(lambda t: cap_string(t.cap_effective)),
        "thread.cgroups": th(lambda t: " ".join(f"{s}={p}" for s, p in t.cgroups) or None),
        "thread.exectime": th(lambda t: 0),
        "thread.totexectime": th(lambda t: 0),
        "thread.pfmajor": th(lambda t: t.pfmajor),
        "thread.pfminor": th(lambda t: t.pfminor),
        "thread.vmsize": th(lambda t: t.group.vmsize if t.tid == t.pid else 0),
        "thread.vmrss": th(lambda t: t.group.vmrss if t.tid == t.pid else 0),
        "thread.cpu": lambda e: None,
        "thread.cpu.user": lambda e: None,
        "thread.cpu.system": lambda e: None,
    }

    def cgroup(arg: str | None) -> Extractor:
        def get(e: SyscallEvent) -> Any:
            t = e.thread
            if t is None:
                return None
            for s, p in t.cgroups:
                if s == arg:
                    return p
            return None
        return get

    fields = [
        fdef("thread.tid", ft.INT64, "id of the thread generating the event"),
        fdef("thread.vtid", ft.INT64, "thread id in its pid namespace"),
        fdef("thread.ismain", ft.BOOL, "true if the thread is the main one of its process"),
        fdef("thread.cap_permitted", ft.CHARBUF, "permitted capabilities"),
        fdef("thread.cap_inheritable", ft.CHARBUF, "inheritable capabilities"),
        fdef("thread.cap_effective", ft.CHARBUF, "effective capabilities"),
        fdef("thread.cgroups", ft.CHARBUF, "all cgroups of the thread as one string"),
        fdef("thread.cgroup", ft.CHARBUF, "cgroup of one subsystem (thread.cgroup[cpuacct])", arg=ARG_REQUIRED,
             arg_kind="key"),
        fdef("thread.exectime", ft.RELTIME, "CPU time of the last scheduled run (needs switch events)"),
        fdef("thread.totexectime", ft.RELTIME, "total CPU time (needs switch events)"),
        fdef("thread.pfmajor", ft.UINT64, "major page faults"),
        fdef("thread.pfminor", ft.UINT64, "minor page faults"),
        fdef("thread.vmsize", ft.UINT64, "virtual memory of the main thread (kB), 0 for other threads"),
        fdef("thread.vmrss", ft.UINT64, "resident memory of the main thread (kB), 0 for other threads"),
        fdef("thread.cpu", ft.DOUBLE, "CPU consumed by the thread (not tracked)"),
        fdef("thread.cpu.user", ft.DOUBLE, "user CPU consumed by the thread (not tracked)"),
        fdef("thread.cpu.system", ft.DOUBLE, "system CPU consumed by the thread (not tracked)"),
    ]

    def bind(f: FieldDef, arg: str | None) -> Extractor:
        if f.name == "thread.cgroup":
            return cgroup(arg)
        return simple[f.name]

    return FieldClass("thread", "Thread information", ("syscall",), fields, bind)
