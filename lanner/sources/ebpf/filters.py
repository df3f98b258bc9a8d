"""Kernel-side filtering: which syscalls the probe emits, and what it drops before emitting.

Two levels, both applied in the kernel so an uninteresting event costs neither ring-buffer space nor
Python time:

1. **Event set** (as Falco's ``base_syscalls``): a per-syscall "interesting" bit. Names are event
   names (``evt.type`` values such as ``openat``, ``procexit``, ``pread``) or syscall names
   (``pread64``); anything not captured by a dedicated handler is emitted as a generic event.
2. **Open-family push-down** (beyond Falco): for open/openat/openat2/creat, a table of entries
   (flag class x result class, and any path / a path prefix / an exact path) derived from the rules
   by ``lanner.rules.pushdown``; an open is emitted when some entry matches. Relative and
   non-normalised paths are always kept (the probe cannot resolve them). The ``close`` of an fd whose
   open was dropped is dropped too (an LRU map of (tgid, fd)). Caveat: an fd whose open was dropped is
   unknown to the state engine, so later events on it carry no ``fd.name``; the push-down analysis
   disables itself when a rule reads file fd fields on non-open events.
3. **Result and request push-down** (the other families, ``lanner.rules.pushdown_calls``): per
   syscall, which results (success, failure, a connect in progress) to keep, and for ptrace which
   requests. A failure changes no state, so a failed exec / setuid / connect ... no rule can match is
   dropped; a success the state engine needs is always kept.

Every event filtered by 2 or 3 is counted per family (``filtered_<family>``, ``FAMILIES``). Under
overload, events no rule can match (state-only event types, ``SC_RULE`` unset) are shed once the ring
is filled above ``shed_fraction``, leaving the rest of the ring to events rules can match.

:class:`KernelFilter` is the value the rules side builds; ``Probe.apply_filter`` pushes it down.
"""

from __future__ import annotations

from dataclasses import dataclass

from lanner.core.errors import LannerError
from lanner.events.syscalls import X86_64

# native syscall name -> current-generation exit event code of the probe's dedicated handler
HANDLED: dict[str, int] = {
    "read": 7, "write": 9, "open": 3, "close": 5, "socket": 19, "connect": 23, "accept": 247,
    "sendto": 31, "recvfrom": 35, "sendmsg": 49, "recvmsg": 53, "bind": 21, "listen": 25,
    "clone": 223, "fork": 225, "vfork": 227, "execve": 293, "kill": 129, "chdir": 95, "fchdir": 97,
    "rename": 175, "mkdir": 277, "rmdir": 279, "creat": 59, "link": 309, "unlink": 301,
    "symlink": 179, "chmod": 315, "fchmod": 317, "ptrace": 169, "setuid": 199, "setgid": 201,
    "setsid": 275, "setreuid": 427, "setregid": 429, "setresuid": 193, "setresgid": 195,
    "capset": 353, "prctl": 401, "chroot": 267, "mount": 257, "umount2": 391, "init_module": 411,
    "delete_module": 425, "tkill": 131, "tgkill": 133, "openat": 307, "mkdirat": 305,
    "unlinkat": 303, "renameat": 177, "linkat": 311, "symlinkat": 181, "fchmodat": 313,
    "unshare": 285, "accept4": 389, "dup3": 365, "pipe2": 393, "setns": 241, "finit_module": 413,
    "renameat2": 319, "memfd_create": 405, "bpf": 369, "execveat": 331, "userfaultfd": 321,
    "clone3": 335, "openat2": 327, "dup": 367, "dup2": 363, "pipe": 61,
    "pread64": 113, "pwrite64": 115, "readv": 117, "writev": 119, "preadv": 121, "pwritev": 123,
    "sendmmsg": 51, "recvmmsg": 55,
}

# evt.type names that differ from the syscall name
EVENT_ALIASES: dict[str, tuple[str, ...]] = {
    "pread": ("pread64",), "pwrite": ("pwrite64",), "prlimit": ("prlimit64",),
    "umount": ("umount2",), "fstatat": ("newfstatat",),
}

#: non-syscall events the probe produces (tracepoints)
TRACEPOINT_EVENTS = frozenset({"procexit"})

# open push-down classes: flags (read/write/create) x result (ok/failed); see lanner.rules.pushdown
OPEN_READ, OPEN_WRITE, OPEN_CREATE, OPEN_OK, OPEN_FAILED = 1, 2, 4, 8, 16
OPEN_ANY_FLAGS, OPEN_ANY_RESULT = 7, 24
OPEN_ALL = 31
OPEN_EXACT = 128
OPEN_CLASS_NAMES = {"read": OPEN_READ, "write": OPEN_WRITE, "create": OPEN_CREATE, "ok": OPEN_OK,
                    "failed": OPEN_FAILED}
ENTRY_KINDS = ("any", "prefix", "exact")

MAX_PREFIXES = 16
MAX_PREFIX_LEN = 64

# per-syscall table flags (probe: SC_*): emitted at all, successful / failed results kept, some rule
# can match the event (overload sheds the others first)
SC_INTERESTING, SC_KEEP_OK, SC_KEEP_ERR, SC_RULE, SC_KEEP_INPROG = 1, 4, 8, 16, 32
#: result classes: success, failure, a connect in progress (EINPROGRESS; other calls: a failure)
RESULT_OK, RESULT_ERR, RESULT_INPROG = 1, 2, 4
RESULT_ALL = 7

#: event families: the probe counts what it filters (``filtered_<family>``) and what it drops
#: (``dropped_<family>``) per family; at most N_FAM (16) in the probe
FAMILIES = ("other", "open", "close", "exec", "net", "cred", "ptrace", "fd", "clone", "procexit", "file")
_FAMILY_OF = {
    **dict.fromkeys(("open", "openat", "openat2", "creat"), "open"),
    "close": "close",
    **dict.fromkeys(("execve", "execveat"), "exec"),
    **dict.fromkeys(("connect", "accept", "accept4", "bind", "listen", "socket", "sendto", "recvfrom",
                     "sendmsg", "recvmsg", "sendmmsg", "recvmmsg"), "net"),
    **dict.fromkeys(("setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "capset"), "cred"),
    "ptrace": "ptrace",
    **dict.fromkeys(("dup", "dup2", "dup3", "pipe", "pipe2", "memfd_create", "userfaultfd"), "fd"),
    **dict.fromkeys(("clone", "clone3", "fork", "vfork"), "clone"),
    "procexit": "procexit",
    **dict.fromkeys(("mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2", "link",
                     "linkat", "symlink", "symlinkat", "chdir", "fchdir", "chmod", "fchmod", "fchmodat"), "file"),
}


def family_of(name: str) -> int:
    """Index of the push-down family of a syscall name (``FAMILIES``)."""
    return FAMILIES.index(_FAMILY_OF.get(name, "other"))

NR_BY_NAME = {n: nr for nr, n in X86_64.items()}
_NR_BY_NAME = NR_BY_NAME


class FilterError(LannerError, ValueError):
    """A filter names an unknown event or an unusable prefix."""


def class_mask(names) -> int:
    """Mask from class names; a dimension (flags, result) with no name given means 'any'."""
    m = 0
    for c in names:
        if c not in OPEN_CLASS_NAMES:
            raise FilterError(f"unknown open class {c!r} (known: {', '.join(OPEN_CLASS_NAMES)})")
        m |= OPEN_CLASS_NAMES[c]
    if not m & OPEN_ANY_FLAGS:
        m |= OPEN_ANY_FLAGS
    if not m & OPEN_ANY_RESULT:
        m |= OPEN_ANY_RESULT
    return m


@dataclass(frozen=True)
class OpenFilter:
    """Open-family push-down: keep an open event when some entry ``(class mask, kind, path)`` matches it
    (kind ``any``, ``prefix`` or ``exact``). Relative paths and paths that normalisation would change
    are kept whenever their class is in the union of the entries' classes. Optionally drop the
    ``close`` of every fd whose open was dropped (``close_filter``)."""

    entries: tuple[tuple[int, str, str], ...] = ((OPEN_ALL, "any", ""),)
    close_filter: bool = True

    @classmethod
    def simple(cls, classes=("read", "write", "create", "ok", "failed"), prefixes=(),
               close_filter: bool = True) -> OpenFilter:
        m = class_mask(classes)
        ents = tuple((m, "prefix", p) for p in prefixes) or ((m, "any", ""),)
        return cls(ents, close_filter)

    def union_classes(self) -> int:
        m = 0
        for c, _, _ in self.entries:
            m |= c
        return m

    def check(self) -> None:
        if len(self.entries) > MAX_PREFIXES:
            raise FilterError(f"at most {MAX_PREFIXES} open push-down entries, got {len(self.entries)}")
        for c, kind, p in self.entries:
            if kind not in ENTRY_KINDS:
                raise FilterError(f"open push-down entry kind {kind!r} (known: {', '.join(ENTRY_KINDS)})")
            if not 0 < c <= OPEN_ALL or not c & OPEN_ANY_FLAGS or not c & OPEN_ANY_RESULT:
                raise FilterError(f"open push-down class mask {c:#x} must name a flag and a result class")
            if kind != "any" and (not p.startswith("/") or len(p.encode()) > MAX_PREFIX_LEN):
                raise FilterError(f"open path {p!r} must be absolute and <= {MAX_PREFIX_LEN} bytes")


@dataclass(frozen=True)
class KernelFilter:
    """What the probe emits. ``events`` None = every syscall (filtering disabled).

    ``open_filter`` None = every open is emitted (no push-down).
    """

    events: frozenset[str] | None = None
    open_filter: OpenFilter | None = None
    self_filter: bool = True
    snaplen: int = 80
    drop_failed: bool = False        # every failed syscall exit (Falco's drop_failed_exit)
    drop_failed_close: bool = False  # failed close only (no state change; set when no rule needs close)
    #: result push-down: event name -> RESULT_* classes to keep (absent: all)
    results: tuple[tuple[str, int], ...] = ()
    #: ptrace push-down: PPM request codes to keep (None: every request)
    ptrace_requests: frozenset[int] | None = None
    #: event names some rule can match (None: all); the others are shed first under overload
    rule_events: frozenset[str] | None = None
    #: ring fill (fraction) above which events no rule can match are shed; 0: never
    shed_fraction: float = 0.75

    def result_mask(self, name: str) -> int:
        for n, m in self.results:
            if n == name:
                return m
        return RESULT_ALL

    def entries(self) -> dict[int, tuple[int, int, int]]:
        """native nr -> (event code, SC_* flags, family index) for every syscall to emit."""
        out: dict[int, tuple[int, int, int]] = {}
        names = self.events
        by_nr: dict[int, str] = {}
        if names is None:
            by_nr = dict(X86_64)
        else:
            for name in names:
                for c in EVENT_ALIASES.get(name, ()) + (name,):
                    nr = _NR_BY_NAME.get(c)
                    if nr is not None:
                        by_nr[nr] = name
        codes = self.syscall_numbers()
        for nr, code in codes.items():
            name = by_nr.get(nr, X86_64.get(nr, ""))
            flags = SC_INTERESTING
            m = self.result_mask(name)
            if name != "connect" and m & RESULT_INPROG:
                m |= RESULT_ERR
            flags |= (SC_KEEP_OK if m & RESULT_OK else 0) | (SC_KEEP_ERR if m & RESULT_ERR else 0)
            flags |= SC_KEEP_INPROG if m & RESULT_INPROG or name != "connect" and m & RESULT_ERR else 0
            if self.rule_events is None or name in self.rule_events:
                flags |= SC_RULE
            out[nr] = (code, flags, family_of(name))
        return out

    def syscall_numbers(self) -> dict[int, int]:
        """native nr -> event code for every syscall to emit (generic code 1 when not handled)."""
        if self.events is None:
            return {nr: HANDLED.get(name, 1) for nr, name in X86_64.items()}
        names = set(self.events)
        out: dict[int, int] = {}
        for name in names:
            if name in TRACEPOINT_EVENTS:
                continue
            cands = EVENT_ALIASES.get(name, ()) + (name,)
            found = False
            for c in cands:
                nr = _NR_BY_NAME.get(c)
                if nr is not None:
                    out[nr] = HANDLED.get(c, 1)
                    found = True
            if not found and name not in ("syscall",):
                raise FilterError(f"unknown event or syscall name {name!r}")
        return out

    def wants(self, name: str) -> bool:
        if self.events is None:
            return True
        return name in self.events


def open_prefix_words(prefix: str) -> tuple[list[int], list[int]]:
    """A prefix as 8 little-endian u64 words and masks, as the probe compares them."""
    b = prefix.encode()
    words, masks = [], []
    for j in range(8):
        chunk = b[8 * j: 8 * j + 8]
        if not chunk:
            words.append(0)
            masks.append(0)
            continue
        words.append(int.from_bytes(chunk.ljust(8, b"\0"), "little"))
        masks.append(int.from_bytes(b"\xff" * len(chunk) + b"\0" * (8 - len(chunk)), "little"))
    return words, masks
