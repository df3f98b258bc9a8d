"""Fused matching: all candidate rules of one event type compiled into one Python function.

Evaluating rules one by one repeats work the rules share: every rule of an ``openat`` event re-reads
``evt.type``, ``fd.name``, ``proc.name`` and re-tests the same macros (``open_write``, ``open_read``).
The fused function of an event type reads each field at most once per event (a lazily set local) and
knows the event type, so ``evt.type`` checks are decided when it is compiled; rules that cannot match
that type are left out. It returns the position of the first matching rule (or, for
``rule_matching: all``, the positions of all of them) in the candidate order, so the alerts are those
of the rule-by-rule loop. Field extractors are pure and never raise (fields/registry contract); if a
fused function raises nevertheless, the engine falls back to the rule-by-rule loop for that event.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from lanner.fields import registry as reg
from lanner.rules import ast
from lanner.rules.compiled_rule import CompiledRule
from lanner.rules.compiler import ConditionCompiler, Operand

_UNSET = object()
_MEMO_REF = re.compile(r"\b_m[0-9]+\b")
_EVT_TYPE_OPS = ("=", "==", "!=", "in")


class FusedMatcher:
    """The fused function of one candidate tuple (``rules``): ``first(e)`` -> index or -1,
    ``every(e)`` -> list of indices (``rule_matching: all``)."""

    __slots__ = ("rules", "first", "every", "source")

    def __init__(self, rules: tuple[CompiledRule, ...], first: Callable[[Any], int],
                 every: Callable[[Any], list[int]], source: str) -> None:
        self.rules = rules
        self.first = first
        self.every = every
        self.source = source


class FusedCompiler(ConditionCompiler):
    """A condition compiler whose plain fields become lazily read locals shared by all conditions of one
    generated function, and whose ``evt.type`` checks are constants when the event type is known."""

    def __init__(self, registry: reg.FieldRegistry, source: str, type_name: str | None) -> None:
        self.type_name = type_name
        super().__init__(registry, source, None)

    def reset(self) -> None:
        super().reset()
        self.slots: list[str] = []
        self._slot_of: dict[str, str] = {}
        self._interned: dict[tuple[type, Any], str] = {}
        self._visits: list[str] = []          # text of every and/or node, in visiting order
        self._shared: dict[str, str] = {}     # text of a node met more than once -> its memo local
        self._memo: list[str] | None = None   # pass 2: the first pass's texts by visit

    def _name(self, prefix: str, value: Any) -> str:
        """Equal constants share one name, so equal sub-conditions (a macro in many rules) read alike."""
        if prefix != "c":
            return super()._name(prefix, value)
        try:
            key = (type(value), value)
            n = self._interned.get(key)
        except TypeError:
            return super()._name(prefix, value)
        if n is None:
            n = self._interned[key] = super()._name(prefix, value)
        return n

    # --- fields as lazy locals ---------------------------------------------------------------
    def _field(self, node: ast.Field) -> Operand:
        op = super()._field(node)
        if op.mode == "ancestors":
            return op               # read inside a generator's iterable, where ":=" is not allowed
        fname = op.code[:-3]        # "<name>(e)"
        slot = "_l" + fname
        if slot not in self.slots:
            self.slots.append(slot)
        code = f"({slot} if {slot} is not _U else ({slot} := {op.code}))"
        self._slot_of[code] = slot
        op.code = code
        return op

    def _apply(self, lhs: Operand, tpl: str, positive: str | None = None) -> str:
        slot = self._slot_of.get(lhs.code)
        if slot is not None and not lhs.mode:
            return f"({lhs.code} is not None and {tpl.format(v=slot)})"
        return super()._apply(lhs, tpl, positive)

    # --- evt.type decided at compile time ------------------------------------------------------
    def check(self, node: ast.Check) -> str:
        folded = self._fold_evt_type(node)
        if folded is not None:
            return folded
        return super().check(node)

    def _fold_evt_type(self, node: ast.Check) -> str | None:
        name = self.type_name
        lhs, rhs = node.lhs, node.rhs
        if (name is None or not isinstance(lhs, ast.Field) or lhs.name != "evt.type" or lhs.arg is not None
                or node.modifier is not None or node.op not in _EVT_TYPE_OPS):
            return None
        if node.op == "in":
            if not isinstance(rhs, ast.ListValue) or not all(isinstance(i, ast.Value) for i in rhs.items):
                return None
            hit = any(i.text == name for i in rhs.items)  # type: ignore[attr-defined]
        else:
            if not isinstance(rhs, ast.Value):
                return None
            hit = rhs.text == name
            if node.op == "!=":
                hit = not hit
        return "True" if hit else "False"

    # --- boolean structure with constants folded ---------------------------------------------
    def visit_And(self, node: ast.And) -> str:
        return self._folded(node.children, "False", "True", " and ")

    def visit_Or(self, node: ast.Or) -> str:
        return self._folded(node.children, "True", "False", " or ")

    def _folded(self, children: Sequence[ast.Node], absorbing: str, neutral: str, joiner: str) -> str:
        """An and/or with constant operands folded: ``absorbing`` decides it, ``neutral`` drops out."""
        parts = []
        for c in children:
            s = self.expr(c)
            if s == absorbing:
                return absorbing
            if s != neutral:
                parts.append(s)
        if not parts:
            return neutral
        return parts[0] if len(parts) == 1 else self._shared_node("(" + joiner.join(parts) + ")")

    def _shared_node(self, text: str) -> str:
        """An and/or node: the first pass notes its text; the second makes a node whose first-pass text
        was met more than once a lazily set local, so a macro shared by rules is evaluated once."""
        if self._memo is None:
            self._visits.append(text)
            return text
        first = self._memo[len(self._visits)]
        self._visits.append(first)
        slot = self._shared.get(first)
        if slot is None:
            return text
        return f"({slot} if {slot} is not _U else ({slot} := {text}))"

    def visit_Not(self, node: ast.Not) -> str:
        s = self.expr(node.child)
        if s in ("True", "False"):
            return "False" if s == "True" else "True"
        return f"(not {s})"

    # --- the function ------------------------------------------------------------------------
    def fuse(self, trees: Sequence[ast.Node], label: str) -> tuple[Callable[[Any], int], Callable[[Any], list[int]]]:
        """Two functions over the same conditions: first matching index (-1: none), and all of them."""
        self.reset()
        for t in trees:
            self.expr(t)
        seen: dict[str, int] = {}
        for text in self._visits:
            seen[text] = seen.get(text, 0) + 1
        memo = self._visits
        self.reset()
        self._memo = memo
        self._shared = {t: f"_m{i}" for i, t in enumerate(t for t, n in seen.items() if n > 1)}
        conds = [(i, self.expr(t)) for i, t in enumerate(trees)]
        conds = [(i, c) for i, c in conds if c != "False"]
        slots = self.slots + sorted(set(self._shared.values()) & set(_MEMO_REF.findall("".join(c for _, c in conds))))
        init = f"    {' = '.join(slots)} = _U\n" if slots else ""
        first = "".join(f"    if {c}:\n        return {i}\n" for i, c in conds)
        every = "".join(f"    if {c}:\n        _r.append({i})\n" for i, c in conds)
        src = (f"def _first(e, _U=_U):\n{init}{first}    return -1\n\n"
               f"def _every(e, _U=_U):\n{init}    _r = []\n{every}    return _r\n")
        self.ns["_U"] = _UNSET
        self.src = src
        exec(compile(src, f"<fused rules of {label}>", "exec"), self.ns)  # noqa: S102 - from checked trees
        return self.ns["_first"], self.ns["_every"]


def fuse(registry: reg.FieldRegistry, rules: tuple[CompiledRule, ...], source: str,
         type_name: str | None) -> FusedMatcher | None:
    """The fused matcher of ``rules`` (all of ``source``; ``type_name``: the ``evt.type`` every event
    it sees has, None when that is not fixed), or None when a rule keeps no syntax tree."""
    trees = [r.tree for r in rules]
    if any(t is None for t in trees):
        return None
    first, every = FusedCompiler(registry, source, type_name).fuse(trees, type_name or source)  # type: ignore[arg-type]
    return FusedMatcher(rules, first, every, source)
