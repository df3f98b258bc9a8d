"""Predicate push-down analysis: what a rule set can match on open-family events, as simple
predicates a kernel probe can test before emitting.

For every enabled syscall rule that can match an open event (``open``, ``openat``, ``openat2``,
``creat``), the condition tree is over-approximated by a set of :class:`OpenPred` entries, each one a
flag-class mask (read / write / create / failed) and a path test (any path, a path prefix, an exact
path). An open event some rule can match always satisfies at least one entry of that rule (the
approximation only ever widens), so a probe that keeps the events satisfying *any* entry of *any* rule
drops only events no rule can match. Checks the analysis does not understand widen to "any class, any
path"; one such rule disables the path push-down for everyone.

Paths are matched on the raw path the program passed. ``fd.name`` is that path made absolute and
normalised, so the probe must keep relative paths and paths with ``.``/``..`` components or doubled
slashes unconditionally (the ``NONNORM`` kind stands for "only such paths", which the probe keeps
anyway).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lanner.rules import ast
from lanner.rules.operators import NEGATION, Meaning, meaning_of
from lanner.rules.visitor import PredicateVisitor, field_names

# class masks: two dimensions, flags (bits 0-2) and result (bits 3-4); an event matches a mask when it
# shares a bit with it in both dimensions (an open has one or more flag bits and one result bit)
READ, WRITE, CREATE, OK, ERR = 1, 2, 4, 8, 16
ANY_FLAGS, ANY_RESULT = READ | WRITE | CREATE, OK | ERR
ALL_CLASSES = ANY_FLAGS | ANY_RESULT
SUCCESS = ANY_FLAGS | OK
FAILED = ANY_FLAGS | ERR
CLASS_NAMES = {READ: "read", WRITE: "write", CREATE: "create", OK: "ok", ERR: "failed"}

ANY, PREFIX, EXACT, NONNORM = "any", "prefix", "exact", "nonnorm"

OPEN_EVENTS = ("open", "openat", "openat2", "creat")
MAX_ENTRIES = 16          # probe table size
MAX_PATH_BYTES = 64       # probe compares at most this many bytes
_CROSS_LIMIT = 256

_NAME_FIELDS = ("fd.name", "evt.arg.name", "evt.arg.path", "fs.path.name")
_DIR_FIELDS = ("fd.directory",)
_RAW_FIELDS = ("fd.nameraw",)
_FILE_FIELDS = ("fd.name", "fd.directory", "fd.filename", "fd.nameraw")


def class_names(mask: int) -> str:
    fl = "|".join(n for b, n in CLASS_NAMES.items() if mask & b & ANY_FLAGS)
    res = "|".join(n for b, n in CLASS_NAMES.items() if mask & b & ANY_RESULT)
    fl = "any flags" if mask & ANY_FLAGS == ANY_FLAGS else fl
    res = "" if mask & ANY_RESULT == ANY_RESULT else f" {res}"
    return fl + res


def valid(mask: int) -> bool:
    return bool(mask & ANY_FLAGS) and bool(mask & ANY_RESULT)


@dataclass(frozen=True, order=True)
class OpenPred:
    """One keep-entry: open events whose flag class is in ``classes`` and whose path passes the test."""

    classes: int
    kind: str = ANY
    value: str = ""

    def describe(self) -> str:
        path = {ANY: "any path", PREFIX: f"path startswith {self.value}", EXACT: f"path = {self.value}",
                NONNORM: "non-normalised paths only"}[self.kind]
        return f"{class_names(self.classes)} & {path}"


Preds = frozenset  # frozenset[OpenPred]
TOP: frozenset[OpenPred] = frozenset({OpenPred(ALL_CLASSES)})
BOTTOM: frozenset[OpenPred] = frozenset()


def _meet_path(a: OpenPred, b: OpenPred) -> tuple[str, str] | None:
    """Path test implied by both (None: contradictory). Non-normalised paths are always kept by the
    probe, so NONNORM absorbs anything it is combined with."""
    if a.kind == ANY:
        return b.kind, b.value
    if b.kind == ANY:
        return a.kind, a.value
    if NONNORM in (a.kind, b.kind):
        return NONNORM, ""
    if a.kind == EXACT and b.kind == EXACT:
        return (EXACT, a.value) if a.value == b.value else None
    if a.kind == EXACT or b.kind == EXACT:
        ex, pf = (a, b) if a.kind == EXACT else (b, a)
        return (EXACT, ex.value) if ex.value.startswith(pf.value) else None
    if a.value.startswith(b.value):
        return PREFIX, a.value
    if b.value.startswith(a.value):
        return PREFIX, b.value
    return None


def _meet_one(a: OpenPred, b: OpenPred) -> OpenPred | None:
    cls = a.classes & b.classes
    if not valid(cls):
        return None
    path = _meet_path(a, b)
    return None if path is None else OpenPred(cls, *path)


def _meet_wide(x: frozenset[OpenPred], y: frozenset[OpenPred]) -> frozenset[OpenPred]:
    """Too many combinations: keep the side with the narrower paths, classes from both."""
    cls = _classes(x) & _classes(y)
    side = x if _narrowness(x) >= _narrowness(y) else y
    return frozenset(OpenPred(p.classes & cls, p.kind, p.value) for p in side if valid(p.classes & cls))


def _classes(s: frozenset[OpenPred]) -> int:
    m = 0
    for p in s:
        m |= p.classes
    return m


def _narrowness(s: frozenset[OpenPred]) -> int:
    if not s:
        return 1 << 30
    score = {ANY: 0, PREFIX: 1, EXACT: 3, NONNORM: 4}
    return min(score[p.kind] * 1000 + len(p.value) for p in s)


def _int(s: str) -> int | None:
    try:
        return int(s, 0)
    except ValueError:
        return None


def result_mask(op: Meaning | None, vals: list[str], ok: int, failed: int, every: int) -> int | None:
    """The results that can satisfy ``res <op> x`` for some ``x`` of ``vals``, as a union of ``ok`` (res >= 0),
    ``failed`` (res < 0) and ``every``; None when a value is not a number or the operator is not analysed."""
    mask = 0
    for v in vals:
        x = _int(v)
        if x is None:
            return None
        if op is Meaning.EQUAL:
            mask |= failed if x < 0 else ok
        elif op in (Meaning.GREATER_EQUAL, Meaning.GREATER):
            mask |= ok if x >= 0 else every
        elif op in (Meaning.LESS, Meaning.LESS_EQUAL):
            mask |= failed if (x <= 0 if op is Meaning.LESS else x < 0) else every
        else:
            return None
    return mask


def _truth(v: str) -> bool | None:
    t = v.lower()
    return True if t == "true" else False if t == "false" else None


def _glob_prefix(pat: str) -> str:
    for i, ch in enumerate(pat):
        if ch in "*?[\\":
            return pat[:i]
    return pat


class OpenPushdown(PredicateVisitor[OpenPred]):
    """Analyse compiled rules; ``plan(rules)`` gives the keep-entries and a per-rule report."""

    top = TOP
    cross_limit = _CROSS_LIMIT
    meet_one = staticmethod(_meet_one)
    meet_wide = staticmethod(_meet_wide)

    def __init__(self, open_codes: Iterable[int], codes_for_name) -> None:
        self.open_codes = frozenset(open_codes)
        self.codes_for_name = codes_for_name

    # ---------------------------------------------------------------- condition analysis
    # (analyse, and/or/not: PredicateVisitor)
    def visit_Check(self, c: ast.Check, neg: bool) -> frozenset[OpenPred]:
        return self._not(c) if neg else self._check(c)

    def generic_visit(self, n: ast.Node, *args: object) -> frozenset[OpenPred]:
        return TOP

    def _not(self, c: ast.Check) -> frozenset[OpenPred]:
        name = ast.plain_field(c.lhs)
        meaning = meaning_of(c.op)
        if name == "evt.type" and meaning is Meaning.EQUAL:
            vals = ast.literal_texts(c.rhs)
            if vals is not None:
                codes = set()
                for v in vals:
                    codes |= self.codes_for_name(v)
                if self.open_codes <= codes:
                    return BOTTOM
        inv = NEGATION.get(meaning) if meaning is not None else None
        if inv and name in ("fd.num", "evt.rawres", "evt.res", "evt.failed") or (
                inv and name and name.startswith("evt.is_open_")):
            return self._check(c, inv)
        return TOP

    def _check(self, c: ast.Check, op: Meaning | None = None) -> frozenset[OpenPred]:
        """Open events for which the check can be true; ``op`` overrides the meaning of its operator
        (a negated check)."""
        name = ast.plain_field(c.lhs)
        if name is None or c.modifier is not None:
            return TOP
        if op is None:
            op = meaning_of(c.op)
        vals = ast.literal_texts(c.rhs)
        if name == "evt.type":
            if op is Meaning.EQUAL and vals is not None:
                codes: set[int] = set()
                for v in vals:
                    codes |= self.codes_for_name(v)
                return TOP if codes & self.open_codes else BOTTOM
            return TOP
        if vals is None:
            return TOP
        if name.startswith("evt.is_open_") and op is Meaning.EQUAL and len(vals) == 1:
            t = _truth(vals[0])
            cls = {"evt.is_open_read": READ, "evt.is_open_write": WRITE, "evt.is_open_create": CREATE,
                   "evt.is_open_exec": CREATE}.get(name)
            if cls is not None and t is True:
                return frozenset({OpenPred(cls | ANY_RESULT)})
            return TOP
        if name in ("fd.num", "evt.rawres"):
            return self._result_check(op, vals)
        if name == "evt.res" and len(vals) == 1:
            v = vals[0]
            if op is Meaning.EQUAL and v == "SUCCESS":
                return frozenset({OpenPred(SUCCESS)})
            if op is Meaning.NOT_EQUAL and v == "SUCCESS" or op in (Meaning.EQUAL, Meaning.PREFIX) and v.startswith("E"):
                return frozenset({OpenPred(FAILED)})
            return TOP
        if name == "evt.failed" and op is Meaning.EQUAL and len(vals) == 1:
            t = _truth(vals[0])
            return frozenset({OpenPred(FAILED if t else SUCCESS)}) if t is not None else TOP
        if name in _NAME_FIELDS:
            return self._path_check(op, vals, directory=False)
        if name in _DIR_FIELDS:
            return self._path_check(op, vals, directory=True)
        if name in _RAW_FIELDS and op in (Meaning.CONTAINS, Meaning.GLOB) and len(vals) == 1:
            v = vals[0]
            if "../" in v or "/.." in v or "/./" in v or "//" in v:
                return frozenset({OpenPred(ALL_CLASSES, NONNORM)})
            if op is Meaning.GLOB and v.startswith("/"):
                return self._prefixes([_glob_prefix(v)])
        return TOP

    @staticmethod
    def _result_check(op: Meaning | None, vals: list[str]) -> frozenset[OpenPred]:
        cls = result_mask(op, vals, SUCCESS, FAILED, ALL_CLASSES)
        return TOP if cls is None else frozenset({OpenPred(cls)})

    def _path_check(self, op: Meaning | None, vals: list[str], directory: bool) -> frozenset[OpenPred]:
        if op is Meaning.EQUAL:
            if directory:
                return self._prefixes([v.rstrip("/") + "/" for v in vals])
            return frozenset(OpenPred(ALL_CLASSES, EXACT, v) if len(v.encode()) <= MAX_PATH_BYTES
                             else OpenPred(ALL_CLASSES, PREFIX, v.encode()[:MAX_PATH_BYTES].decode(errors="ignore"))
                             for v in vals)
        if op is Meaning.PREFIX:
            return self._prefixes(vals)
        if op is Meaning.GLOB and len(vals) == 1:
            return self._prefixes([_glob_prefix(vals[0])])
        return TOP

    @staticmethod
    def _prefixes(vals: list[str]) -> frozenset[OpenPred]:
        out = set()
        for v in vals:
            if not v.startswith("/") or v == "/":
                return TOP  # relative or root prefix: no constraint on absolute paths
            b = v.encode()[:MAX_PATH_BYTES]
            out.add(OpenPred(ALL_CLASSES, PREFIX, b.decode(errors="ignore")))
        return frozenset(out)

    # ---------------------------------------------------------------- whole rule set
    def plan(self, rules: Iterable, file_fields_guard: bool = True) -> PushdownPlan:
        """Keep-entries for a list of compiled rules (``name``, ``source``, ``evttypes``, ``tree``,
        ``fields``)."""
        per_rule: dict[str, frozenset[OpenPred]] = {}
        reasons: list[str] = []
        for r in rules:
            if getattr(r, "source", "syscall") != "syscall":
                continue
            ev = r.evttypes
            if ev is not None and not (ev & self.open_codes):
                if file_fields_guard and _uses_file_fields(r) and _uses_fd_events(ev):
                    reasons.append(f"rule '{r.name}' reads file fd fields on non-open events")
                continue
            per_rule[r.name] = self.analyse(r.tree)
        return PushdownPlan(per_rule, reasons)


def _uses_file_fields(r) -> bool:
    names = set()
    for ref in getattr(r, "fields", None) or ():
        n = getattr(ref, "name", None) or getattr(getattr(ref, "fielddef", None), "name", None)
        if n:
            names.add(n)
    if not names and r.tree is not None:
        names = set(field_names(r.tree))
    return bool(names & set(_FILE_FIELDS))


_FD_EVENT_NAMES = ("read", "write", "pread", "pwrite", "readv", "writev", "preadv", "pwritev", "fchmod",
                   "fchown", "mmap", "sendfile", "splice", "fstat", "lseek", "llseek", "ioctl", "flock",
                   "close", "dup", "dup2", "dup3", "fcntl", "fchdir", "getdents", "getdents64")


def _uses_fd_events(codes: frozenset[int]) -> bool:
    from lanner.events import table as T
    return any(T.EVENTS[c].name in _FD_EVENT_NAMES for c in codes)


@dataclass
class PushdownPlan:
    """Per-rule keep-entries and the merged table the probe gets (``entries`` None: no push-down)."""

    per_rule: dict[str, frozenset[OpenPred]]
    blockers: list[str] = field(default_factory=list)
    entries: tuple[OpenPred, ...] | None = None
    classes: int = ALL_CLASSES

    def __post_init__(self) -> None:
        self.entries, self.classes = self._merge()

    def _merge(self) -> tuple[tuple[OpenPred, ...] | None, int]:
        if self.blockers:
            return None, ALL_CLASSES
        if not self.per_rule:
            return (), 0
        union: set[OpenPred] = set()
        for s in self.per_rule.values():
            union |= s
        classes = _classes(frozenset(union))
        if self.blockers:
            return None, ALL_CLASSES
        # NONNORM entries are implied (the probe always keeps such paths within ``classes``)
        ents = [p for p in union if p.kind != NONNORM]
        ents = _simplify(ents)
        if len(ents) > MAX_ENTRIES:
            # too many paths for the probe: keep only the class push-down
            return tuple(sorted({OpenPred(classes)})), classes
        if any(p.kind == ANY and p.classes == ALL_CLASSES for p in ents):
            return None, ALL_CLASSES
        return tuple(sorted(ents)), classes

    def rule_report(self) -> list[str]:
        """One line per analysed rule: the predicates pushed down for it (or why none)."""
        out = []
        for name, s in sorted(self.per_rule.items()):
            if not s:
                out.append(f"{name}: never matches an open event")
            elif any(p.kind == ANY and p.classes == ALL_CLASSES for p in s):
                out.append(f"{name}: no open predicate recognised (blocks push-down)")
            else:
                out.append(f"{name}: " + " OR ".join(p.describe() for p in sorted(s)))
        for b in self.blockers:
            out.append(f"push-down disabled: {b}")
        return out


def _simplify(ents: list[OpenPred]) -> list[OpenPred]:
    """Merge entries with the same path; drop entries covered by a wider one."""
    by_path: dict[tuple[str, str], int] = {}
    for p in ents:
        by_path[(p.kind, p.value)] = by_path.get((p.kind, p.value), 0) | p.classes
    merged = [OpenPred(c, k, v) for (k, v), c in by_path.items()]
    out = []
    for p in merged:
        covered = False
        for q in merged:
            if q is p or (q.classes | p.classes) != q.classes:
                continue
            if q.kind == ANY or (q.kind == PREFIX and p.kind in (PREFIX, EXACT) and p.value.startswith(q.value)
                                 and (p.kind, p.value) != (q.kind, q.value)):
                covered = True
                break
        if not covered:
            out.append(p)
    return out
