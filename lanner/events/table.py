"""The syscall event table: for each of the 454 event codes, name, direction, category, flags and
parameter list (event-model.md Appendix A), plus the name lookups the rules compiler needs.

The data lives in ``_generated/event_table.py`` (generated from the spec by
``_gen/gen_event_table.py``); this module turns it into :class:`EventInfo` objects once at import.
"""

from __future__ import annotations

from lanner.events._generated.event_table import EVENT_ROWS
from lanner.events.syscalls import syscall_names as _all_syscall_names

PPM_EVENT_MAX = 454

# Parameter type ids (event-model.md section 2).
PT_NONE, PT_INT8, PT_INT16, PT_INT32, PT_INT64 = 0, 1, 2, 3, 4
PT_UINT8, PT_UINT16, PT_UINT32, PT_UINT64 = 5, 6, 7, 8
PT_CHARBUF, PT_BYTEBUF, PT_ERRNO, PT_SOCKADDR, PT_SOCKTUPLE, PT_FD, PT_PID = 9, 10, 11, 12, 13, 14, 15
PT_FDLIST, PT_FSPATH, PT_SYSCALLID, PT_SIGTYPE, PT_RELTIME, PT_ABSTIME = 16, 17, 18, 19, 20, 21
PT_PORT, PT_L4PROTO, PT_SOCKFAMILY, PT_BOOL, PT_IPV4ADDR, PT_DYN = 22, 23, 24, 25, 26, 27
PT_FLAGS8, PT_FLAGS16, PT_FLAGS32, PT_UID, PT_GID, PT_DOUBLE, PT_SIGSET = 28, 29, 30, 31, 32, 33, 34
PT_CHARBUFARRAY, PT_CHARBUF_PAIR_ARRAY, PT_IPV4NET, PT_IPV6ADDR, PT_IPV6NET = 35, 36, 37, 38, 39
PT_IPADDR, PT_IPNET, PT_MODE, PT_FSRELPATH = 40, 41, 42, 43
PT_ENUMFLAGS8, PT_ENUMFLAGS16, PT_ENUMFLAGS32, PT_FD32, PT_PID32 = 44, 45, 46, 47, 48

PT_IDS: dict[str, int] = {k[3:]: v for k, v in globals().items() if k.startswith("PT_") and isinstance(v, int)}
PT_NAMES: dict[int, str] = {v: k for k, v in PT_IDS.items()}

# Print formats.
PF_NA, PF_DEC, PF_HEX, PF_OCT = "NA", "DEC", "HEX", "OCT"

# Event flags (libs EF_* values).
EF_CREATES_FD = 1
EF_DESTROYS_FD = 2
EF_USES_FD = 4
EF_READS_FROM_FD = 8
EF_WRITES_TO_FD = 16
EF_MODIFIES_STATE = 32
EF_UNUSED = 64
EF_WAITS = 128
EF_SKIPPARSERESET = 256
EF_OLD_VERSION = 512
EF_LARGE_PAYLOAD = 2048
EF_CONVERTER_MANAGED = 4096

_FLAG_LETTERS = {"C": EF_CREATES_FD, "D": EF_DESTROYS_FD, "U": EF_USES_FD, "R": EF_READS_FROM_FD,
                 "W": EF_WRITES_TO_FD, "S": EF_MODIFIES_STATE, "O": EF_OLD_VERSION,
                 "M": EF_CONVERTER_MANAGED, "L": EF_LARGE_PAYLOAD, "k": EF_SKIPPARSERESET,
                 "w": EF_WAITS, "-": EF_UNUSED}

# Origin classes of the category column; the other component is the category proper.
_ORIGINS = ("SYSCALL", "TRACEPOINT", "METAEVENT", "PLUGIN", "ITER")


class ParamInfo:
    """One parameter of an event: ``name``, ``type`` (PT_* id), ``type_name`` ("FD"),
    ``fmt`` (print format "DEC"/"HEX"/"OCT"/"NA"), ``table`` (flag table name or None),
    ``dirfd`` (index of the dirfd parameter for FSRELPATH, or None)."""

    __slots__ = ("name", "type", "type_name", "fmt", "table", "dirfd")

    def __init__(self, name: str, type_name: str, fmt: str, table: str | None, dirfd: int | None) -> None:
        self.name = name
        self.type_name = type_name
        self.type = PT_IDS[type_name]
        self.fmt = fmt
        self.table = table
        self.dirfd = dirfd

    def __repr__(self) -> str:
        return f"ParamInfo({self.name}:{self.type_name})"


class EventInfo:
    """Event-table entry of one code.

    ``code``, ``constant`` (PPME name without prefix), ``name`` (``evt.type``; "NA" for unused
    slots), ``direction`` (">" enter / "<" exit), ``category`` (e.g. "file", "io_read", "net";
    ``evt.category``), ``category_raw`` ("FILE|SYSCALL"), ``origin`` ("SYSCALL", "TRACEPOINT", ...),
    ``flags`` (EF_* bits), ``params`` (tuple of ParamInfo), ``nparams``, ``large`` (u32 param lengths),
    ``index`` (param name -> first index).
    """

    __slots__ = ("code", "constant", "name", "direction", "category", "category_raw", "origin", "flags",
                 "params", "nparams", "large", "index", "is_syscall", "decoders")

    def __init__(self, row: tuple) -> None:
        code, const, name, d, cat, letters, params = row
        self.code = code
        self.constant = const
        self.name = name
        self.direction = ">" if d == "E" else "<"
        self.category_raw = cat
        parts = cat.split("|")
        origins = [p for p in parts if p in _ORIGINS]
        cats = [p for p in parts if p not in _ORIGINS]
        self.origin = origins[0] if origins else ""
        self.category = (cats[0] if cats else parts[0]).lower()
        self.is_syscall = "SYSCALL" in parts
        f = 0
        for ch in letters:
            f |= _FLAG_LETTERS.get(ch, 0)
        self.flags = f
        self.params = tuple(ParamInfo(*p) for p in params)
        self.nparams = len(self.params)
        self.large = bool(f & EF_LARGE_PAYLOAD)
        idx: dict[str, int] = {}
        for i, p in enumerate(self.params):
            idx.setdefault(p.name, i)
        self.index = idx
        self.decoders: tuple = ()  # filled by lanner.events.params

    @property
    def is_enter(self) -> bool:
        return not self.code & 1

    def __repr__(self) -> str:
        return f"EventInfo({self.code} {self.name} {self.direction})"


EVENTS: tuple[EventInfo, ...] = tuple(EventInfo(r) for r in EVENT_ROWS)
assert len(EVENTS) == PPM_EVENT_MAX

GENERIC_E, GENERIC_X = 0, 1
GENERIC_CODES = frozenset({GENERIC_E, GENERIC_X})

_BY_NAME: dict[str, frozenset[int]] = {}
for _e in EVENTS:
    if _e.name != "NA" and not _e.flags & EF_UNUSED:
        _BY_NAME[_e.name] = _BY_NAME.get(_e.name, frozenset()) | {_e.code}
_BY_CONSTANT = {e.constant: e.code for e in EVENTS}
_ALL = frozenset(range(PPM_EVENT_MAX))

# Enter types the kmod still emits; the reader passes them to the state engine but they never reach rules.
STATE_ONLY_ENTER_TYPES = frozenset({2, 22, 58, 306, 326, 292, 330})


def info(code: int) -> EventInfo:
    """Table entry of ``code``; IndexError for codes >= PPM_EVENT_MAX."""
    return EVENTS[code]


def code_of_constant(constant: str) -> int:
    """Code of a PPME constant without prefix, e.g. ``SYSCALL_OPENAT_2_X`` -> 307."""
    return _BY_CONSTANT[constant]


def event_names() -> frozenset[str]:
    """Every ``evt.type`` name of the table (unused "NA" slots excluded)."""
    return frozenset(_BY_NAME)


def syscall_names() -> frozenset[str]:
    """Every Linux syscall name lanner knows (for the compiler's unknown-event-type check)."""
    return _all_syscall_names()


def is_event_name(name: str) -> bool:
    """True for a known event name or syscall name."""
    return name in _BY_NAME or name in _all_syscall_names()


def codes_for_name(name: str) -> frozenset[int]:
    """All codes with ``evt.type == name``: enter and exit, every generation.

    A syscall name without a dedicated event maps to the generic codes (0, 1); unknown -> empty.
    """
    codes = _BY_NAME.get(name)
    if codes is not None:
        return codes
    if name in _all_syscall_names():
        return GENERIC_CODES
    return frozenset()


def all_codes() -> frozenset[int]:
    return _ALL
