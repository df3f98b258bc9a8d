"""``--list-events``: every event lanner's event table knows, laid out as Falco 0.44 prints it.

Falco groups the events by origin (syscall, tracepoint, plugin, meta), skips unused, generic and
superseded (old-version) codes, then appends the syscalls that only exist as generic events. Each line
gives the direction, the name and the parameters with their type and, for flag parameters, the flag
names; the markdown form is a table that also says whether the event is traced by default (the
high-volume I/O syscalls are not, see ``-i``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lanner.events import flags, table
from lanner.events.ppm_sc import PPM_SC_NAMES
from lanner.events.syscalls import syscall_names
from lanner.run.syscalls import IGNORED_SYSCALLS

SCHEMA_VERSION = "4.3.0"
_SECTIONS = (("SYSCALL", "Syscall events"), ("TRACEPOINT", "Tracepoint events"), ("PLUGIN", "Plugin events"),
             ("METAEVENT", "Metaevents"))
# Falco's names of parameter types where they differ from the PT_ constant.
_TYPE_NAMES = {"DYN": "DYNAMIC"}
# Where libs' syscall table differs from lanner's list of Linux syscall names: names it has no code for
# (32-bit and time64 spellings, never-implemented slots) and recent syscalls it already has.
_ALIASES = frozenset("""
_llseek afs_syscall arm_fadvise64_64 arm_sync_file_range break breakpoint cacheflush chown32 clock_adjtime64
clock_getres_time64 clock_gettime64 clock_nanosleep_time64 clock_settime64 fadvise64_64 fchown32 fcntl64 ftime
ftruncate64 futex_time64 get_tls getdents32 getegid32 geteuid32 getgid32 getgroups32 getresgid32 getresuid32
getuid32 gtty io_pgetevents_time64 lchown32 lock mpx mq_timedreceive_time64 mq_timedsend_time64 ppoll_time64
pread64 preadv64 prlimit64 prof profil pselect6_time64 putpmsg pwrite64 pwritev64 recvmmsg_time64
rt_sigtimedwait_time64 sched_rr_get_interval_time64 security semtimedop_time64 sendfile64 set_tls setfsgid32
setfsuid32 setgid32 setgroups32 setregid32 setresgid32 setresuid32 setreuid32 setuid32 stty timer_gettime64
timer_settime64 timerfd_gettime64 timerfd_settime64 truncate64 tuxcall ugetrlimit ulimit usr26 usr32
utimensat_time64 vm86old vserver""".split())
_RECENT = frozenset("""
file_getattr file_setattr getxattrat listns listxattrat open_tree_attr pciconfig_iobase pciconfig_read
pciconfig_write removexattrat rseq_slice_yield setxattrat timerfd uprobe""".split())
_SKIPPED = table.EF_UNUSED | table.EF_OLD_VERSION


@dataclass(frozen=True)
class Entry:
    direction: str
    name: str
    params: tuple[table.ParamInfo, ...]
    default: bool


def _listed(e: table.EventInfo) -> bool:
    return (e.code not in table.GENERIC_CODES and e.name not in ("", "NA") and not e.flags & _SKIPPED
            and e.origin in dict(_SECTIONS))


def generic_syscalls() -> list[str]:
    """Syscalls without a dedicated event (reported as generic events), by name."""
    dedicated = {e.name for e in table.EVENTS if e.code not in table.GENERIC_CODES}
    known = set(PPM_SC_NAMES.values()) | set(syscall_names()) | _RECENT
    return sorted(n for n in known if n not in dedicated and n not in _ALIASES)


def entries() -> dict[str, list[Entry]]:
    """Listed events by section origin, in code order; generic syscalls last among the syscalls."""
    out: dict[str, list[Entry]] = {o: [] for o, _ in _SECTIONS}
    for e in table.EVENTS:
        if _listed(e):
            out[e.origin].append(Entry(e.direction, e.name, e.params, e.name not in IGNORED_SYSCALLS))
    ge, gx = table.info(table.GENERIC_E), table.info(table.GENERIC_X)
    for n in generic_syscalls():
        out["SYSCALL"].append(Entry(ge.direction, n, ge.params, True))
        out["SYSCALL"].append(Entry(gx.direction, n, gx.params, True))
    return out


def _param(p: table.ParamInfo, markdown: bool) -> str:
    text = f"{_TYPE_NAMES.get(p.type_name, p.type_name)} **{p.name}**"
    names = [n for n, _ in flags.table(p.table)] if p.table and "FLAGS" in p.type_name else []
    if names:
        text += ": " + ", ".join(f"*{n}*" if markdown else n for n in names)
    return text


def event_list_text(markdown: bool) -> str:
    """The whole ``--list-events`` output."""
    lines = [f"The events below are valid for Falco *Schema Version*: {SCHEMA_VERSION}"]
    by_origin = entries()
    for origin, title in _SECTIONS:
        lines += [f"## {title}", ""]
        if markdown:
            lines += ["Default | Dir | Name | Params ", ":-------|:----|:-----|:-----"]
        for en in by_origin[origin]:
            params = ", ".join(_param(p, markdown) for p in en.params)
            if markdown:
                lines.append(f"{'Yes' if en.default else 'No'} | `{en.direction}` | `{en.name}` | {params}")
            else:
                lines.append(f"{en.direction} {en.name}({params})")
        lines.append("")
    return "\n".join(lines) + "\n"


def _param_dict(p: table.ParamInfo) -> dict[str, object]:
    out: dict[str, object] = {"name": p.name, "type": _TYPE_NAMES.get(p.type_name, p.type_name)}
    if p.table and "FLAGS" in p.type_name and flags.table(p.table):
        out["flags"] = [n for n, _ in flags.table(p.table)]
    return out


def event_list_json() -> str:
    """``--list-events --format json``: the same sections as objects, keys sorted, indented as Falco does."""
    by_origin = entries()
    doc: dict[str, object] = {"schema_version": SCHEMA_VERSION}
    for origin, title in _SECTIONS:
        doc[title] = [{"available": en.default, "dir": en.direction, "name": en.name,
                       "params": [_param_dict(p) for p in en.params]} for en in by_origin[origin]]
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
