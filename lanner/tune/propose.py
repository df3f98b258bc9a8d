"""Proposing exceptions: per rule, the narrowest exception shapes that cover its alerts.

Shapes are tried from narrow to broad and every alert is covered by the first shape whose fields it
carries (in its output fields): the rule's own declared exceptions first (values appended to them), then
process name + the file path (exact when a process touched at most three paths, else a directory
prefix), process + parent, process + container image, process + user, and last single fields. A
shape that would need more than ``max_values`` value tuples is skipped for a broader one.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from typing import Any

from lanner.tune.rules import RuleFacts

PATH_FIELDS = ("fd.name", "evt.arg.filename", "evt.arg.pathname", "evt.arg.path", "fs.path.name")
PAIRS = (("proc.name", "proc.pname"), ("proc.name", "container.image.repository"), ("proc.name", "user.name"))
SINGLES = ("proc.name", "proc.pname", "container.image.repository", "user.name")
_BAD = re.compile(r"[\"(),\n]|^'|^\s|\s$")
_LIST_COMPS = {"in", "intersects", "pmatch"}


@dataclass
class Value:
    """One value tuple of an exception and what it does."""

    values: tuple[Any, ...]          # per field: a string, or a list of strings
    removes: int = 0
    refused: str = ""                # why it was refused (empty = accepted)


@dataclass
class Proposal:
    """One exception of one rule: new (``fields``/``comps`` written) or values appended to a declared one."""

    rule: str
    name: str
    fields: list[str]
    comps: list[str]
    values: list[Value] = field(default_factory=list)
    existing: bool = False
    single: bool = False             # the declared exception uses the single-field form

    @property
    def accepted(self) -> list[Value]:
        return [v for v in self.values if not v.refused]

    def describe(self, v: Value) -> str:
        return " and ".join(f"{f} {c} {_show(x)}" for f, c, x in zip(self.fields, self.comps, v.values, strict=True))

    def matches(self, fields: dict[str, Any], v: Value) -> bool:
        """Would this value tuple except an event with these field values? (unknown operators: yes)"""
        return all(value_match(fields.get(f), c, x) for f, c, x in zip(self.fields, self.comps, v.values, strict=True))


def _show(x: Any) -> str:
    return "(" + ", ".join(x) + ")" if isinstance(x, list) else str(x)


def text(v: Any) -> str:
    from lanner.testing.runner import text as t
    return t(v)


def value_match(actual: Any, comp: str, want: Any) -> bool:
    a = text(actual)
    c = comp.strip()
    if isinstance(want, list):
        items = actual if isinstance(actual, list) else [a]
        return any(text(i) in want for i in items)
    if c in ("=", "==", "in", "intersects"):
        return a == want or (isinstance(actual, list) and want in [text(i) for i in actual])
    if c == "pmatch":
        return a == want or a.startswith(want.rstrip("/") + "/")
    if c in ("startswith", "bstartswith"):
        return a.startswith(want)
    if c == "endswith":
        return a.endswith(want)
    if c in ("contains", "bcontains"):
        return want in a
    if c == "icontains":
        return want.lower() in a.lower()
    if c == "glob":
        return fnmatch.fnmatchcase(a, want)
    if c == "!=":
        return a != want
    return True


def usable(v: Any) -> Any:
    """A field value as an exception value, or None when it cannot be one (missing, or text Falco's
    exception quoting would break: quotes, commas, parentheses)."""
    if v is None:
        return None
    if isinstance(v, list):
        items = [usable(x) for x in v]
        return items if items and all(isinstance(x, str) for x in items) else None
    t = text(v)
    if not t or t == "<NA>" or _BAD.search(t):
        return None
    return t


def _fields(alert: dict[str, Any]) -> dict[str, Any]:
    return alert.get("output_fields") or {}


def _tag(fields: list[str]) -> str:
    return "lanner_tune_" + "_".join(re.sub(r"[^a-z0-9]+", "_", f.lower()).strip("_") for f in fields)


class _RuleProposer:
    def __init__(self, rule: RuleFacts, alerts: list[dict[str, Any]], max_values: int) -> None:
        self.rule = rule
        self.remaining = list(alerts)
        self.max_values = max_values
        self.out: list[Proposal] = []

    def _take(self, prop: Proposal, key_of: Any) -> None:
        """Group the remaining alerts by ``key_of`` (None = not applicable); keep the shape if small enough."""
        groups: dict[Any, list[dict[str, Any]]] = {}
        for a in self.remaining:
            k = key_of(a)
            if k is not None:
                groups.setdefault(k, []).append(a)
        if not groups or len(groups) > self.max_values:
            return
        for k, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), str(kv[0]))):
            prop.values.append(Value(tuple(list(x) if isinstance(x, tuple) else x for x in k), len(members)))
        covered = {id(a) for m in groups.values() for a in m}
        self.remaining = [a for a in self.remaining if id(a) not in covered]
        self._add(prop)

    def _add(self, prop: Proposal) -> None:
        for ex in self.rule.exceptions:      # a tuned exception from an earlier run: append to it
            if ex.name == prop.name and not prop.existing:
                if list(ex.fields if isinstance(ex.fields, list) else [ex.fields]) == prop.fields:
                    prop.existing = True
                else:
                    prop.name += "_2"
        self.out.append(prop)

    def declared(self) -> None:
        def width(ex: Any) -> int:
            return len(ex.fields) if isinstance(ex.fields, list) else 1
        for ex in sorted(self.rule.exceptions, key=lambda e: -width(e)):     # narrowest (most fields) first
            if not ex.fields:
                continue
            single = isinstance(ex.fields, str)
            fields = [ex.fields] if single else list(ex.fields)
            if single:
                comps = [str(ex.comps or "in")]
            else:
                comps = list(ex.comps) if isinstance(ex.comps, list) else ["="] * len(fields)
            if len(comps) != len(fields):
                continue

            def key(a: dict[str, Any], fields: list[str] = fields, comps: list[str] = comps) -> Any:
                vals = []
                for f, c in zip(fields, comps, strict=True):
                    v = usable(_fields(a).get(f))
                    if v is None or (isinstance(v, list) and c.strip() not in _LIST_COMPS):
                        return None
                    vals.append(tuple(v) if isinstance(v, list) else v)
                return tuple(vals)
            self._take(Proposal(self.rule.name, ex.name, fields, comps, existing=True, single=single), key)

    def path_pair(self) -> None:
        by: dict[tuple[str, str], set[str]] = {}
        for a in self.remaining:
            f = _fields(a)
            name = usable(f.get("proc.name"))
            pf = next((p for p in PATH_FIELDS if isinstance(usable(f.get(p)), str) and str(f[p]).startswith("/")), None)
            if isinstance(name, str) and pf:
                by.setdefault((pf, name), set()).add(str(f[pf]))
        for pf in sorted({k[0] for k in by}):
            exact: dict[tuple[str, str], None] = {}
            prefix: dict[tuple[str, str], None] = {}
            for (p, name), paths in sorted(by.items()):
                if p != pf:
                    continue
                if len(paths) <= 3:
                    for x in sorted(paths):
                        exact[(name, x)] = None
                else:
                    common = os.path.commonpath(sorted(paths))
                    if common.count("/") >= 2 or (common != "/" and common.count("/") == 1 and len(common) > 4):
                        prefix[(name, common.rstrip("/") + "/")] = None
                    else:
                        for d in sorted({os.path.dirname(x) for x in paths}):
                            prefix[(name, d.rstrip("/") + "/")] = None

            def key_exact(a: dict[str, Any], pf: str = pf, keys: dict = exact) -> Any:
                f = _fields(a)
                k = (usable(f.get("proc.name")), usable(f.get(pf)))
                return k if k in keys else None

            def key_prefix(a: dict[str, Any], pf: str = pf, keys: dict = prefix) -> Any:
                f = _fields(a)
                name, path = usable(f.get("proc.name")), text(f.get(pf))
                hits = [k for k in keys if k[0] == name and path.startswith(k[1])]
                return max(hits, key=lambda k: len(k[1])) if hits else None
            if exact:
                self._take(Proposal(self.rule.name, _tag(["proc.name", pf]), ["proc.name", pf], ["=", "="]), key_exact)
            if prefix:
                self._take(Proposal(self.rule.name, _tag(["proc.name", pf, "prefix"]), ["proc.name", pf],
                                    ["=", "startswith"]), key_prefix)

    def generic(self, fields: tuple[str, ...]) -> None:
        def key(a: dict[str, Any]) -> Any:
            vals = [usable(_fields(a).get(f)) for f in fields]
            return tuple(vals) if all(isinstance(v, str) for v in vals) else None
        self._take(Proposal(self.rule.name, _tag(list(fields)), list(fields), ["="] * len(fields)), key)

    def run(self) -> list[Proposal]:
        self.declared()
        if self.remaining:
            self.path_pair()
        for shape in (*PAIRS, *((s,) for s in SINGLES)):
            if not self.remaining:
                break
            self.generic(shape)
        return self.out


def propose(by_rule: dict[str, list[dict[str, Any]]], rules: dict[str, RuleFacts],
            max_values: int = 10) -> tuple[list[Proposal], list[str]]:
    """Proposals for every rule with alerts, and notes on what could not be covered (and why)."""
    out: list[Proposal] = []
    notes: list[str] = []
    for name in sorted(by_rule, key=lambda n: (-len(by_rule[n]), n)):
        facts = rules.get(name)
        if facts is None:
            notes.append(f"rule {name!r}: {len(by_rule[name])} alert(s), but no rule of that name in the rules given")
            continue
        rp = _RuleProposer(facts, by_rule[name], max_values)
        out.extend(rp.run())
        if rp.remaining:
            notes.append(f"rule {name!r}: {len(rp.remaining)} of {len(by_rule[name])} alert(s) not covered "
                         "(their output fields carry none of the pivot fields, or too many distinct values)")
    return out, notes
