"""Flag/enum tables (PPM values, event-model.md section 4) and their rendering; errno and signal names.

Rendering (section 2.3):
- FLAGS / MODE: walk the table in order; a 0-valued entry matches only when the value is 0; a
  non-zero entry matches when all its bits are still in the remaining value (they are then removed);
  stop after an entry equal to the original value. Names joined with ``|``.
- ENUMFLAGS: every entry whose value equals the value exactly, joined with ``|``.
- Nothing matched -> ``""`` (callers fall back to the plain decimal string).
"""

from __future__ import annotations

from functools import lru_cache

from lanner.events._generated.flag_tables import FLAG_TABLES as _SPEC_TABLES

# Tables referenced by the event table but not listed in section 4, written from Linux/PPM facts.
_EXTRA_TABLES: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {
    "futex_operations": ("FLAGS16", (
        ("FUTEX_CLOCK_REALTIME", 256), ("FUTEX_PRIVATE_FLAG", 128), ("FUTEX_CMP_REQUEUE_PI", 12),
        ("FUTEX_WAIT_REQUEUE_PI", 11), ("FUTEX_WAKE_BITSET", 10), ("FUTEX_WAIT_BITSET", 9),
        ("FUTEX_TRYLOCK_PI", 8), ("FUTEX_UNLOCK_PI", 7), ("FUTEX_LOCK_PI", 6), ("FUTEX_WAKE_OP", 5),
        ("FUTEX_CMP_REQUEUE", 4), ("FUTEX_REQUEUE", 3), ("FUTEX_FD", 2), ("FUTEX_WAKE", 1),
        ("FUTEX_WAIT", 0))),
    "splice_flags": ("FLAGS32", (("SPLICE_F_MOVE", 1), ("SPLICE_F_NONBLOCK", 2), ("SPLICE_F_MORE", 4),
                                 ("SPLICE_F_GIFT", 8))),
    "mlockall_flags": ("FLAGS32", (("MCL_CURRENT", 1), ("MCL_FUTURE", 2), ("MCL_ONFAULT", 4))),
    "mlock2_flags": ("FLAGS32", (("MLOCK_ONFAULT", 1),)),
    "semget_flags": ("FLAGS32", (("IPC_EXCL", 1 << 14), ("IPC_CREAT", 1 << 13))),
    "semctl_commands": ("FLAGS16", (
        ("IPC_STAT", 1), ("IPC_SET", 2), ("IPC_RMID", 4), ("IPC_INFO", 8), ("SEM_INFO", 16), ("SEM_STAT", 32),
        ("GETALL", 64), ("GETNCNT", 128), ("GETPID", 256), ("GETVAL", 512), ("GETZCNT", 1024), ("SETALL", 2048),
        ("SETVAL", 4096))),
    # Linux SOL_SOCKET option numbers, in the order Falco looks them up
    "sockopt_options": ("ENUMFLAGS8", tuple(zip(
        ("SO_COOKIE SO_MEMINFO SO_PEERGROUPS SO_ATTACH_BPF SO_INCOMING_CPU SO_BPF_EXTENSIONS "
         "SO_MAX_PACING_RATE SO_BUSY_POLL SO_SELECT_ERR_QUEUE SO_LOCK_FILTER SO_NOFCS SO_PEEK_OFF SO_WIFI_STATUS "
         "SO_RXQ_OVFL SO_DOMAIN SO_PROTOCOL SO_TIMESTAMPING SO_MARK SO_TIMESTAMPNS SO_PASSSEC SO_PEERSEC "
         "SO_ACCEPTCONN SO_TIMESTAMP SO_PEERNAME SO_DETACH_FILTER SO_ATTACH_FILTER SO_BINDTODEVICE "
         "SO_SECURITY_ENCRYPTION_NETWORK SO_SECURITY_ENCRYPTION_TRANSPORT SO_SECURITY_AUTHENTICATION "
         "SO_SNDTIMEO SO_RCVTIMEO SO_SNDLOWAT SO_RCVLOWAT SO_PEERCRED SO_PASSCRED SO_REUSEPORT SO_BSDCOMPAT "
         "SO_LINGER SO_PRIORITY SO_NO_CHECK SO_OOBINLINE SO_KEEPALIVE SO_RCVBUFFORCE SO_SNDBUFFORCE SO_RCVBUF "
         "SO_SNDBUF SO_BROADCAST SO_DONTROUTE SO_ERROR SO_TYPE SO_REUSEADDR SO_DEBUG UNKNOWN").split(),
        (*range(53, 33, -1), *range(31, 8, -1), 33, 32, *range(8, -1, -1)), strict=True))),
    "semop_flags": ("FLAGS16", (("IPC_NOWAIT", 1), ("SEM_UNDO", 2))),
}

FLAG_TABLES: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {**_EXTRA_TABLES, **_SPEC_TABLES}

ENUM_KINDS = frozenset({"ENUMFLAGS8", "ENUMFLAGS16", "ENUMFLAGS32"})


def table(name: str) -> tuple[tuple[str, int], ...]:
    """Entries of flag table ``name`` in table order (empty for tables lanner has no names for)."""
    t = FLAG_TABLES.get(name)
    return t[1] if t else ()


def render_flags(value: int, entries: tuple[tuple[str, int], ...]) -> str:
    """FLAGS*/MODE rendering (bit sets)."""
    names = []
    rest = value
    for name, v in entries:
        if v == 0:
            if value == 0:
                names.append(name)
        elif rest & v == v:
            names.append(name)
            rest &= ~v
        if v == value:
            break
    return "|".join(names)


def render_enum(value: int, entries: tuple[tuple[str, int], ...]) -> str:
    """ENUMFLAGS* rendering: every name whose value equals ``value``."""
    return "|".join(n for n, v in entries if v == value)


@lru_cache(maxsize=4096)
def render(table_name: str, value: int, kind: str) -> str:
    """Resolved string of ``value`` in table ``table_name``; ``kind`` is the parameter type name."""
    entries = table(table_name)
    if kind in ENUM_KINDS:
        return render_enum(value, entries)
    return render_flags(value, entries)


def names_of(table_name: str) -> frozenset[str]:
    return frozenset(n for n, _ in table(table_name))


# Linux errno names (asm-generic), plus the kernel-internal codes drivers can report.
_ERRNO = """EPERM ENOENT ESRCH EINTR EIO ENXIO E2BIG ENOEXEC EBADF ECHILD EAGAIN ENOMEM EACCES EFAULT
ENOTBLK EBUSY EEXIST EXDEV ENODEV ENOTDIR EISDIR EINVAL ENFILE EMFILE ENOTTY ETXTBSY EFBIG ENOSPC
ESPIPE EROFS EMLINK EPIPE EDOM ERANGE EDEADLK ENAMETOOLONG ENOLCK ENOSYS ENOTEMPTY ELOOP _41 ENOMSG
EIDRM ECHRNG EL2NSYNC EL3HLT EL3RST ELNRNG EUNATCH ENOCSI EL2HLT EBADE EBADR EXFULL ENOANO EBADRQC
EBADSLT _58 EBFONT ENOSTR ENODATA ETIME ENOSR ENONET ENOPKG EREMOTE ENOLINK EADV ESRMNT ECOMM EPROTO
EMULTIHOP EDOTDOT EBADMSG EOVERFLOW ENOTUNIQ EBADFD EREMCHG ELIBACC ELIBBAD ELIBSCN ELIBMAX ELIBEXEC
EILSEQ ERESTART ESTRPIPE EUSERS ENOTSOCK EDESTADDRREQ EMSGSIZE EPROTOTYPE ENOPROTOOPT EPROTONOSUPPORT
ESOCKTNOSUPPORT EOPNOTSUPP EPFNOSUPPORT EAFNOSUPPORT EADDRINUSE EADDRNOTAVAIL ENETDOWN ENETUNREACH
ENETRESET ECONNABORTED ECONNRESET ENOBUFS EISCONN ENOTCONN ESHUTDOWN ETOOMANYREFS ETIMEDOUT
ECONNREFUSED EHOSTDOWN EHOSTUNREACH EALREADY EINPROGRESS ESTALE EUCLEAN ENOTNAM ENAVAIL EISNAM
EREMOTEIO EDQUOT ENOMEDIUM EMEDIUMTYPE ECANCELED ENOKEY EKEYEXPIRED EKEYREVOKED EKEYREJECTED
EOWNERDEAD ENOTRECOVERABLE ERFKILL EHWPOISON""".split()  # noqa: SIM905 - a word list reads best as text

ERRNO_NAMES: dict[int, str] = {i + 1: n for i, n in enumerate(_ERRNO) if not n.startswith("_")}
ERRNO_NAMES.update({512: "ERESTARTSYS", 513: "ERESTARTNOINTR", 514: "ERESTARTNOHAND",
                    515: "ENOIOCTLCMD", 516: "ERESTART_RESTARTBLOCK", 517: "EPROBE_DEFER",
                    518: "EOPENSTALE", 519: "ENOPARAM", 521: "EBADHANDLE", 522: "ENOTSYNC",
                    523: "EBADCOOKIE", 524: "ENOTSUPP", 525: "ETOOSMALL", 526: "ESERVERFAULT",
                    527: "EBADTYPE", 528: "EJUKEBOX", 529: "EIOCBQUEUED", 530: "ERECALLCONFLICT"})
ERRNO_VALUES: dict[str, int] = {n: v for v, n in ERRNO_NAMES.items()}


def errno_name(value: int) -> str:
    """Name of a negative (or positive) errno value, e.g. -2 -> ``ENOENT``; unknown -> ``""``."""
    return ERRNO_NAMES.get(-value if value < 0 else value, "")


_SIGNALS = """SIGHUP SIGINT SIGQUIT SIGILL SIGTRAP SIGABRT SIGBUS SIGFPE SIGKILL SIGUSR1 SIGSEGV SIGUSR2
SIGPIPE SIGALRM SIGTERM SIGSTKFLT SIGCHLD SIGCONT SIGSTOP SIGTSTP SIGTTIN SIGTTOU SIGURG SIGXCPU
SIGXFSZ SIGVTALRM SIGPROF SIGWINCH SIGIO SIGPWR SIGSYS""".split()  # noqa: SIM905 - a word list reads best as text
SIGNAL_NAMES: dict[int, str] = {i + 1: n for i, n in enumerate(_SIGNALS)}


def signal_name(sig: int) -> str:
    return SIGNAL_NAMES.get(sig, "")


def sigset_names(mask: int) -> str:
    """SIGSET rendering: names of the signals whose bit (sig-1) is set, space separated."""
    return " ".join(n for s, n in SIGNAL_NAMES.items() if mask & (1 << (s - 1)))


# Linux mode bits (octal) rendered as a MODE table when a generic mode is wanted.
MODE_BITS = table("chmod_mode")
