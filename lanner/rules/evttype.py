"""Event-type inference (condition-language.md 10): the set of event codes a syscall rule can match.

Sets are of event *codes*; ``ALL`` stands for every code. Negation is pushed to the leaves (De Morgan),
neutral checks give ``ALL`` whether negated or not, so the result is always a superset of the codes for
which the condition can be true.
"""

from __future__ import annotations

from collections.abc import Callable

from lanner.core.errors import LannerError
from lanner.rules import ast
from lanner.rules.operators import Meaning, meaning_of
from lanner.rules.visitor import NodeVisitor, operand_field_names

ALL: frozenset[int] | None = None  # sentinel: every event type


class EvtTypeError(LannerError):
    def __init__(self, message: str, pos: ast.Pos | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


def _inter(a: frozenset[int] | None, b: frozenset[int] | None) -> frozenset[int] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _union(a: frozenset[int] | None, b: frozenset[int] | None) -> frozenset[int] | None:
    if a is None or b is None:
        return None
    return a | b


class EvtTypeInference(NodeVisitor):
    def __init__(self, codes_for_name: Callable[[str], frozenset[int]], all_codes: frozenset[int]) -> None:
        self.codes_for_name = codes_for_name
        self.all_codes = all_codes

    def infer(self, node: ast.Node) -> frozenset[int] | None:
        """Codes the condition may match; None means every event type."""
        return self.visit(node, False)

    def count(self, codes: frozenset[int] | None) -> int:
        return len(self.all_codes) if codes is None else len(codes)

    def _names(self, names: list[str]) -> frozenset[int]:
        out: set[int] = set()
        for n in names:
            out |= self.codes_for_name(n)
        return frozenset(out)

    def _complement(self, s: frozenset[int]) -> frozenset[int]:
        return self.all_codes - s

    # ``neg``: the node sits under an odd number of ``not`` (De Morgan pushes negation to the checks)
    def visit_Not(self, node: ast.Not, neg: bool) -> frozenset[int] | None:
        return self.visit(node.child, not neg)

    def visit_And(self, node: ast.And, neg: bool) -> frozenset[int] | None:
        return self._combine(node.children, neg, intersect=not neg)

    def visit_Or(self, node: ast.Or, neg: bool) -> frozenset[int] | None:
        return self._combine(node.children, neg, intersect=neg)

    def generic_visit(self, node: ast.Node, *args: object) -> frozenset[int] | None:
        return ALL

    def _combine(self, children: list[ast.Node], neg: bool, *, intersect: bool) -> frozenset[int] | None:
        parts = [self.visit(c, neg) for c in children]
        acc = parts[0]
        for p in parts[1:]:
            acc = _inter(acc, p) if intersect else _union(acc, p)
        return acc

    def visit_Check(self, node: ast.Check, neg: bool) -> frozenset[int] | None:
        lhs = node.lhs
        if isinstance(lhs, ast.Transformer):
            if _mentions_evt_type(lhs):
                raise EvtTypeError("event code search does not support evt.type checks with transformers",
                                   node.pos)
            return ALL
        if not isinstance(lhs, ast.Field):
            return ALL
        if lhs.name == "evt.num" and lhs.arg is None:
            return self._evt_num(node, neg)
        if lhs.name not in ("evt.type", "syscall.type") or lhs.arg is not None:
            return ALL
        if isinstance(node.rhs, ast.Transformer):
            raise EvtTypeError("right-hand field comparisons on evt.type/syscall.type checks are not supported "
                               "by event code search", node.pos)
        meaning = meaning_of(node.op)
        if meaning is Meaning.EXISTS:
            return frozenset() if neg else ALL
        if node.modifier is not None:
            return ALL
        names = _rhs_texts(node.rhs)
        if meaning is Meaning.EQUAL:
            s = self._names(names)
            return self._complement(s) if neg else s
        if meaning is Meaning.NOT_EQUAL:
            s = self._names(names)
            return s if neg else self._complement(s)
        return ALL

    def _evt_num(self, node: ast.Check, neg: bool) -> frozenset[int] | None:
        texts = _rhs_texts(node.rhs) if node.rhs is not None else []
        if not all(t.isdigit() for t in texts):
            return ALL
        nums = [int(t) for t in texts]
        m = meaning_of(node.op)
        first = nums[0] if nums else None
        impossible = possible = False
        if (m is Meaning.EQUAL and all(n == 0 for n in nums) or m is Meaning.LESS and first in (0, 1)
                or m is Meaning.LESS_EQUAL and nums == [0]):
            impossible = True
        elif (m is Meaning.NOT_EQUAL and nums == [0] or m is Meaning.GREATER and nums == [0]
              or m is Meaning.GREATER_EQUAL and first in (0, 1)):
            possible = True
        if impossible:
            return ALL if neg else frozenset()
        if possible:
            return frozenset() if neg else ALL
        return ALL


def _rhs_texts(rhs: ast.Node | None) -> list[str]:
    return ast.literal_texts(rhs) or []


def _mentions_evt_type(node: ast.Node) -> bool:
    return any(n in ("evt.type", "syscall.type") for n in operand_field_names(node))
