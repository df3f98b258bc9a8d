"""Linux capabilities: what live capture needs, and giving up the rest once lanner has started.

Live capture does not need root, only these capabilities (what Falco's least-privileged mode grants):

================  ====================================================================================
CAP_BPF           load the probe's programs and maps (bpf(2))
CAP_PERFMON       attach them to tracepoints / tp_btf and read kernel memory from BPF (CO-RE reads)
CAP_SYS_PTRACE    read other processes' /proc/<pid>/{fd,exe,cwd,environ} (the start-up scan, lookups)
CAP_DAC_READ_SEARCH  walk /proc/<pid>/fd of processes of other users, read tracefs and root-only files
================  ====================================================================================

CAP_SYS_RESOURCE (raising RLIMIT_MEMLOCK) is not needed on kernels >= 5.11, which charge BPF memory to the
cgroup; a failed bump is ignored. Everything else root holds (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_MODULE,
CAP_DAC_OVERRIDE, CAP_SETUID ...) is never used, so :func:`drop_unneeded` removes it, before lanner starts
its threads, from the effective, permitted and inheritable sets and the ambient set, and from the
bounding set when CAP_SETPCAP allows, so neither lanner nor a program it starts (``program_output``) can
use it again. CAP_BPF and CAP_PERFMON stay because a hot restart (SIGHUP, changed rules) loads the probe
again. ``security.drop_capabilities: false`` keeps everything (Falco's behaviour).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

from lanner.core.errors import LannerError

log = logging.getLogger("lanner")

CAP_NAMES = {
    0: "chown", 1: "dac_override", 2: "dac_read_search", 3: "fowner", 4: "fsetid", 5: "kill", 6: "setgid",
    7: "setuid", 8: "setpcap", 9: "linux_immutable", 10: "net_bind_service", 11: "net_broadcast",
    12: "net_admin", 13: "net_raw", 14: "ipc_lock", 15: "ipc_owner", 16: "sys_module", 17: "sys_rawio",
    18: "sys_chroot", 19: "sys_ptrace", 20: "sys_pacct", 21: "sys_admin", 22: "sys_boot", 23: "sys_nice",
    24: "sys_resource", 25: "sys_time", 26: "sys_tty_config", 27: "mknod", 28: "lease", 29: "audit_write",
    30: "audit_control", 31: "setfcap", 32: "mac_override", 33: "mac_admin", 34: "syslog", 35: "wake_alarm",
    36: "block_suspend", 37: "audit_read", 38: "perfmon", 39: "bpf", 40: "checkpoint_restore",
}
CAP_NUMBERS = {v: k for k, v in CAP_NAMES.items()}

LIVE_CAPTURE = ("bpf", "perfmon", "sys_ptrace", "dac_read_search")
PROBE_ONLY = ("bpf", "perfmon")

_PR_CAPBSET_DROP = 24
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class PrivilegeError(LannerError):
    """The capability sets could not be read or changed."""


def capability_sets(pid: int | str = "self") -> dict[str, set[str]]:
    """{"inheritable", "permitted", "effective", "bounding", "ambient"} -> capability names, from /proc."""
    keys = {"CapInh": "inheritable", "CapPrm": "permitted", "CapEff": "effective", "CapBnd": "bounding",
            "CapAmb": "ambient"}
    out: dict[str, set[str]] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in keys:
                    out[keys[k]] = names_of(int(v.strip(), 16))
    except OSError as e:
        raise PrivilegeError(f"cannot read capabilities of {pid}: {e.strerror}") from None
    return out


def names_of(mask: int) -> set[str]:
    return {CAP_NAMES.get(i, f"cap_{i}") for i in range(64) if mask >> i & 1}


def missing_for_live_capture() -> tuple[list[str], list[str]]:
    """(missing to load the probe at all, missing for a complete /proc view) in the effective set.
    CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON (older kernels and container engines that do not
    know the newer names grant it instead)."""
    eff = capability_sets()["effective"]
    admin = "sys_admin" in eff
    fatal = ["CAP_" + c.upper() for c in PROBE_ONLY if c not in eff and not admin]
    partial = ["CAP_" + c.upper() for c in LIVE_CAPTURE if c not in PROBE_ONLY and c not in eff]
    return fatal, partial


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _mask(names: set[str]) -> int:
    m = 0
    for n in names:
        if n in CAP_NUMBERS:
            m |= 1 << CAP_NUMBERS[n]
    return m


def limit_to(keep: set[str]) -> set[str]:
    """Reduce this process's capabilities to ``keep`` (names such as "bpf"). Returns what was dropped.

    capset(2) applies to the calling thread only: call it before other threads start, or accept that
    threads started earlier keep their sets (lanner calls it from the capture thread after start-up; the
    kernel checks the capabilities of the thread making each call)."""
    libc = _libc()
    before = capability_sets()
    held = before["permitted"] | before["effective"]
    keep_now = keep & held
    dropped = held - keep_now
    if _prctl(libc, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL) != 0:
        log.debug("capabilities: cannot clear the ambient set: %s", os.strerror(ctypes.get_errno()))
    if "setpcap" in before["effective"]:
        for name in sorted(before["bounding"] - keep):
            _prctl(libc, _PR_CAPBSET_DROP, CAP_NUMBERS.get(name, -1))
    m = _mask(keep_now)
    hdr = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    for i in range(2):
        part = (m >> (32 * i)) & 0xFFFFFFFF
        data[i].effective = part
        data[i].permitted = part
        data[i].inheritable = 0
    if libc.capset(ctypes.byref(hdr), data) != 0:
        raise PrivilegeError(f"capset failed: {os.strerror(ctypes.get_errno())}")
    return dropped


def _prctl(libc: ctypes.CDLL, option: int, arg2: int) -> int:
    return int(libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(0), ctypes.c_ulong(0),
                          ctypes.c_ulong(0)))


def drop_unneeded(keep_probe: bool = True) -> set[str]:
    """Live capture: keep what capture needs (start-up and hot restarts), drop every other capability from
    all sets. Called from the main thread before lanner starts any other thread, so every thread and every
    program it starts inherits the reduced sets (capabilities are per thread)."""
    keep = set(LIVE_CAPTURE) if keep_probe else set(LIVE_CAPTURE) - set(PROBE_ONLY)
    eff = capability_sets()["effective"]
    if _last_cap() < CAP_NUMBERS["bpf"] or not set(PROBE_ONLY) <= eff:
        keep.add("sys_admin")       # no CAP_BPF/CAP_PERFMON (old kernel, or granted as CAP_SYS_ADMIN)
    try:
        dropped = limit_to(keep)
    except PrivilegeError as e:
        log.warning("capabilities: could not drop the unneeded ones: %s", e)
        return set()
    if dropped:
        kept = sorted(capability_sets()["effective"])
        log.info("capabilities: kept %s; dropped %d others", ", ".join("CAP_" + c.upper() for c in kept) or "none",
                 len(dropped))
    return dropped


def _last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 40
