"""Push-down analysis beyond the open family: for one syscall event (exec, connect/accept/bind,
setuid/setgid family, ptrace ...), which results (success / failure) and, for ptrace, which requests
some rule can match, as over-approximations the probe can test before emitting.

The domain is a set of :class:`CallPred` ``(results, requests)``; an event some rule can match always
satisfies at least one predicate of that rule (checks the analysis does not understand widen to "any
result, any request"), so the probe drops only events no rule can match. What the state engine needs
is added by the caller (``lanner.run.syscalls``): a successful state-changing call is always kept.

Result classes follow the probe: ``OK`` is a non-negative return, ``ERR`` a negative one, ``INPROG``
a connect returning ``EINPROGRESS`` (the state engine records it as a connection, rules test it as the
error ``EINPROGRESS``: ``evt.res = EINPROGRESS`` alone keeps no other failure).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from lanner.rules import ast
from lanner.rules.operators import NEGATION, Meaning, meaning_of
from lanner.rules.pushdown import result_mask
from lanner.rules.visitor import PredicateVisitor, field_names

OK, ERR, INPROG = 1, 2, 4
FAILED = ERR | INPROG
ANY_RESULT = OK | ERR | INPROG


def result_names(m: int) -> str:
    if m == ANY_RESULT:
        return "any result"
    if m & FAILED == FAILED:
        m = m & ~FAILED
        return "|".join(x for x in ("ok" if m & OK else "", "failed") if x)
    return "|".join(n for b, n in ((OK, "ok"), (ERR, "failed but EINPROGRESS"), (INPROG, "EINPROGRESS")) if m & b)

#: event names whose request argument the probe can test (ptrace request codes, PPM numbering)
REQUEST_EVENTS = frozenset({"ptrace"})
#: fields whose tests the analysis turns into kernel predicates
PUSHED_FIELDS = frozenset({"evt.type", "evt.res", "evt.rawres", "evt.failed", "evt.arg.request", "evt.dir"})
_CROSS_LIMIT = 64


def _ptrace_requests() -> dict[int, str]:
    from lanner.events._generated.flag_tables import FLAG_TABLES
    return {v: n for n, v in FLAG_TABLES["ptrace_requests"][1]}


@dataclass(frozen=True, order=True)
class CallPred:
    """Events whose result class is in ``results`` and (ptrace) whose request is in ``requests``
    (None: any request)."""

    results: int = ANY_RESULT
    requests: frozenset[int] | None = None

    def describe(self) -> str:
        out = result_names(self.results)
        if self.requests is not None:
            names = _ptrace_requests()
            out += " & request in (" + ", ".join(names.get(r, str(r)) for r in sorted(self.requests)) + ")"
        return out


TOP: frozenset[CallPred] = frozenset({CallPred()})
BOTTOM: frozenset[CallPred] = frozenset()


def _meet1(a: CallPred, b: CallPred) -> CallPred | None:
    res = a.results & b.results
    if not res:
        return None
    if a.requests is None:
        req = b.requests
    elif b.requests is None:
        req = a.requests
    else:
        req = a.requests & b.requests
        if not req:
            return None
    return CallPred(res, req)


def _collapse(s: Iterable[CallPred]) -> CallPred:
    res = 0
    req: set[int] | None = set()
    for p in s:
        res |= p.results
        if p.requests is None or req is None:
            req = None
        else:
            req |= p.requests
    return CallPred(res, None if req is None else frozenset(req))


def _meet_wide(x: frozenset[CallPred], y: frozenset[CallPred]) -> frozenset[CallPred]:
    """Too many combinations: each side collapsed into one predicate, then met."""
    m = _meet1(_collapse(x), _collapse(y))
    return frozenset() if m is None else frozenset({m})


def _holds(op: Meaning, text: str, vals: list[str]) -> bool:
    if op is Meaning.EQUAL:
        return text in vals
    if op is Meaning.CONTAINS:
        return any(v in text for v in vals)
    if op is Meaning.PREFIX:
        return any(text.startswith(v) for v in vals)
    return True


class CallPushdown(PredicateVisitor[CallPred]):
    """Analyse conditions for one event name: ``analyse(tree)`` gives its predicates."""

    top = TOP

    def __init__(self, name: str, codes_for_name: Callable[[str], Iterable[int]]) -> None:
        self.name = name
        self.codes = frozenset(codes_for_name(name))
        self.codes_for_name = codes_for_name

    cross_limit = _CROSS_LIMIT
    meet_one = staticmethod(_meet1)
    meet_wide = staticmethod(_meet_wide)

    def visit_Check(self, c: ast.Check, neg: bool) -> frozenset[CallPred]:
        name = ast.plain_field(c.lhs)
        if name is None or c.modifier is not None:
            return TOP
        op = meaning_of(c.op)
        if op is None:
            return TOP
        vals = ast.literal_texts(c.rhs)
        if vals is None:
            return TOP
        if name == "evt.type":
            return self._evttype(op, vals, neg)
        if neg:
            inv = NEGATION.get(op)
            if inv is None or name not in ("evt.res", "evt.rawres", "evt.failed"):
                return TOP
            op = inv
        if name == "evt.rawres":
            return self._rawres(op, vals)
        if name == "evt.res" and len(vals) == 1:
            v = vals[0]
            if op is Meaning.EQUAL and v == "SUCCESS":
                return frozenset({CallPred(OK)})
            if op is Meaning.EQUAL and v == "EINPROGRESS":
                return frozenset({CallPred(INPROG)})
            if op is Meaning.NOT_EQUAL and v == "SUCCESS" or op in (Meaning.EQUAL, Meaning.PREFIX) and v.startswith("E"):
                return frozenset({CallPred(FAILED)})
            return TOP
        if name == "evt.failed" and op is Meaning.EQUAL and len(vals) == 1:
            t = vals[0].lower()
            return frozenset({CallPred(FAILED if t == "true" else OK)}) if t in ("true", "false") else TOP
        if name == "evt.arg.request" and self.name in REQUEST_EVENTS:
            return self._requests(op, vals)
        return TOP

    def generic_visit(self, n: ast.Node, *args: object) -> frozenset[CallPred]:
        return TOP

    def _evttype(self, op: Meaning, vals: list[str], neg: bool) -> frozenset[CallPred]:
        if op not in (Meaning.EQUAL, Meaning.NOT_EQUAL):
            return TOP
        codes: set[int] = set()
        for v in vals:
            codes.update(self.codes_for_name(v))
        is_in = bool(self.codes & codes)
        equal = (op is Meaning.EQUAL) != neg
        if equal:
            return TOP if is_in else BOTTOM
        return BOTTOM if self.codes <= codes else TOP

    @staticmethod
    def _rawres(op: Meaning, vals: list[str]) -> frozenset[CallPred]:
        res = result_mask(op, vals, OK, FAILED, ANY_RESULT)
        return TOP if res is None else frozenset({CallPred(res)})

    @staticmethod
    def _requests(op: Meaning, vals: list[str]) -> frozenset[CallPred]:
        """Requests whose rendered name or number satisfies the check (an over-approximation: either
        representation may be what a comparison sees)."""
        if op not in (Meaning.EQUAL, Meaning.CONTAINS, Meaning.PREFIX):
            return TOP
        req = frozenset(code for code, nm in _ptrace_requests().items()
                        if _holds(op, nm, vals) or _holds(op, str(code), vals))
        return frozenset({CallPred(ANY_RESULT, req)}) if req else BOTTOM


@dataclass
class CallPlan:
    """Per event name: the result classes and (ptrace) requests some rule can match, and per rule
    what was pushed down for each of its events."""

    results: dict[str, int] = field(default_factory=dict)
    requests: dict[str, frozenset[int] | None] = field(default_factory=dict)
    per_rule: dict[str, dict[str, frozenset[CallPred]]] = field(default_factory=dict)
    #: per rule: the fields its condition tests that no kernel predicate stands for
    not_pushed: dict[str, list[str]] = field(default_factory=dict)

    def rule_report(self, why: Callable[[str], str] | None = None) -> list[str]:
        """One line per rule: per event, what the probe tests for it; then the fields it tests that
        stay in userspace, with ``why(event)`` saying why for its events."""
        out = []
        for rname, per in sorted(self.per_rule.items()):
            parts = []
            evs = []
            for ev, s in sorted(per.items()):
                if s == TOP:
                    parts.append(f"{ev}: nothing pushed down")
                elif s:
                    parts.append(f"{ev}: " + " OR ".join(p.describe() for p in sorted(s)))
                if s:
                    evs.append(ev)
            if not parts:
                continue
            line = f"{rname}: " + "; ".join(parts)
            rest = self.not_pushed.get(rname)
            if rest:
                reasons = sorted({why(ev) for ev in evs} - {""}) if why else []
                line += f" | not pushed down: {', '.join(rest)}" + (f" ({'; '.join(reasons)})" if reasons else "")
            out.append(line)
        return out


def plan_calls(rules: Iterable, names: Iterable[str], codes_for_name: Callable[[str], Iterable[int]],
               name_of_code: Callable[[int], str]) -> CallPlan:
    """Result classes / requests each event name in ``names`` needs for the enabled syscall ``rules``
    (``name``, ``source``, ``evttypes``, ``tree``). A name no rule can match gets results 0."""
    names = sorted(set(names))
    analysers = {n: CallPushdown(n, codes_for_name) for n in names}
    plan = CallPlan(results=dict.fromkeys(names, 0), requests=dict.fromkeys(names, frozenset()))
    for r in rules:
        if getattr(r, "source", "syscall") != "syscall":
            continue
        ev = r.evttypes
        evnames = set(names) if ev is None else {name_of_code(c) for c in ev} & set(names)
        per: dict[str, frozenset[CallPred]] = {}
        for n in sorted(evnames):
            s = analysers[n].analyse(r.tree)
            per[n] = s
            for p in s:
                plan.results[n] |= p.results
                cur = plan.requests[n]
                if cur is None or p.requests is None:
                    plan.requests[n] = None
                else:
                    plan.requests[n] = cur | p.requests
        if per:
            plan.per_rule[r.name] = per
            if r.tree is not None:
                rest = sorted(set(field_names(r.tree)) - PUSHED_FIELDS)
                if rest:
                    plan.not_pushed[r.name] = rest
    return plan
