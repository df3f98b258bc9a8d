"""Why tracing could not start, as one line naming the cause and the setting to change."""

from __future__ import annotations

import errno as _errno
import os

from lanner.core.errors import LannerError

YAMA_SCOPE = "/proc/sys/kernel/yama/ptrace_scope"


class TraceError(LannerError):
    """The userspace driver cannot trace (or launch) what it was asked to."""


class CommandNotFound(TraceError):
    """The command is not in PATH: exit status 127, as a shell gives."""

    code = 127


class CommandNotExecutable(TraceError):
    """The command exists but cannot be executed (permission, format): exit status 126, as a shell gives."""

    code = 126


class PtraceDenied(TraceError):
    """The kernel refused ``ptrace`` (Yama, a seccomp profile, another user's process, already traced)."""


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _status_field(field: str, status_path: str) -> str | None:
    text = _read(status_path)
    for line in (text or "").splitlines():
        key, _, value = line.partition(":")
        if key == field:
            return value.strip()
    return None


def ptrace_denied_message(err: int, pid: int, *, attach: bool, yama_path: str = YAMA_SCOPE,
                          status_path: str = "/proc/self/status") -> str:
    """The one-line reason a ``PTRACE_SEIZE`` of ``pid`` failed with ``err``, and what to change.

    Checked in the order the kernel applies them: a seccomp filter on lanner itself answers before
    ptrace runs at all, then Yama, then the ordinary same-user / CAP_SYS_PTRACE rule.
    """
    what = f"attach to pid {pid}" if attach else f"trace the command it started (pid {pid})"
    head = f"userspace driver: cannot {what}: ptrace failed ({_errno.errorcode.get(err, err)})"
    if err == _errno.ESRCH:
        return f"{head}: the process does not exist or is gone"
    if err == _errno.ENOSYS:
        return (f"{head}: this kernel or sandbox does not offer ptrace (gVisor and some serverless runtimes "
                "do not); use engine.kind=modern_ebpf where the kernel allows it")
    if err not in (_errno.EPERM, _errno.EACCES):
        return head
    yama = _read(yama_path)
    seccomp = _status_field("Seccomp", status_path)
    if seccomp == "2" and (yama in (None, "0") or (yama == "1" and not attach)):
        return (f"{head}: lanner runs under a seccomp filter (Seccomp: 2 in /proc/self/status) that blocks ptrace; "
                "allow ptrace in the container's seccomp profile (docker: --security-opt seccomp=<profile "
                "allowing ptrace>, or Docker >= 19.03 on a kernel >= 4.8; Kubernetes: seccompProfile)")
    if yama == "3":
        return (f"{head}: Yama forbids every ptrace attach ({yama_path} is 3, which only a reboot lowers); "
                "boot with kernel.yama.ptrace_scope at most 1")
    if yama == "2" and not _has_cap_sys_ptrace(status_path):
        return (f"{head}: Yama allows ptrace to admins only ({yama_path} is 2); give lanner CAP_SYS_PTRACE "
                "or set kernel.yama.ptrace_scope=1 (sysctl -w kernel.yama.ptrace_scope=1)")
    if yama == "1" and attach and not _has_cap_sys_ptrace(status_path):
        return (f"{head}: Yama allows ptrace of descendants only ({yama_path} is 1); run lanner as root or with "
                "CAP_SYS_PTRACE, or set kernel.yama.ptrace_scope=0 (sysctl -w kernel.yama.ptrace_scope=0)")
    if attach:
        tracer = _status_field("TracerPid", f"/proc/{pid}/status")
        if tracer not in (None, "0"):
            return f"{head}: pid {pid} is already traced by pid {tracer} (a debugger or another tracer)"
        return (f"{head}: pid {pid} belongs to another user or is more privileged than lanner; run lanner as "
                "root or with CAP_SYS_PTRACE")
    return (f"{head}: denied by a security module (SELinux/AppArmor deny_ptrace, or a seccomp filter); allow "
            "ptrace for lanner in that policy")


def _has_cap_sys_ptrace(status_path: str) -> bool:
    eff = _status_field("CapEff", status_path)
    try:
        return bool(int(eff or "0", 16) & (1 << 19))
    except ValueError:
        return False


def exec_error(path: str, err: int) -> TraceError:
    """The shell-like error for a command whose ``execve`` failed with ``err``."""
    reason = os.strerror(err)
    if err == _errno.ENOENT:
        return CommandNotFound(f"userspace driver: command not found: {path} ({reason})")
    return CommandNotExecutable(f"userspace driver: cannot execute {path}: {reason}")
