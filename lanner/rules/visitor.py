"""Walking condition trees: every pass over the syntax tree (compiler, event-type inference, open
push-down, macro expansion, canonical printing, field collection) is a visitor, so a new node kind or a
new pass is one method per node class instead of another chain of type tests.

``visit(node, *args)`` calls ``visit_<NodeClass>(node, *args)`` when the visitor defines it, else
``generic_visit``; the method is looked up once per node class and cached on the visitor class.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from lanner.rules import ast

P = TypeVar("P")


def iter_children(node: ast.Node) -> Iterator[ast.Node]:
    """The child nodes of ``node``, in source order."""
    for name in node._fields:
        value = getattr(node, name)
        if type(value) is list:
            yield from value
        elif value is not None:
            yield value


class NodeVisitor:
    _dispatch: dict[type, Callable[..., Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._dispatch = {}

    def visit(self, node: ast.Node, *args: Any) -> Any:
        fn = self._dispatch.get(type(node))
        if fn is None:
            fn = getattr(type(self), "visit_" + type(node).__name__, None) or type(self).generic_visit
            self._dispatch[type(node)] = fn
        return fn(self, node, *args)

    def generic_visit(self, node: ast.Node, *args: Any) -> Any:
        """Visit every child; the result is None."""
        for child in iter_children(node):
            self.visit(child, *args)
        return None


class PredicateVisitor(NodeVisitor, Generic[P]):
    """The kernel push-down analyses: an over-approximation of the events for which a condition can be
    true, as a union (frozenset) of predicates ``P``. ``and`` meets its children, ``or`` joins them, a
    negated ``and``/``or`` is not analysed (it widens to ``top``). Subclasses give ``top``, ``meet`` and
    ``visit_Check``; ``neg`` tells whether the node sits under an odd number of ``not``."""

    top: frozenset[P]
    #: above this many pairs ``meet`` hands both sides to ``meet_wide`` (an over-approximation)
    cross_limit: int = 256

    def meet_one(self, a: P, b: P) -> P | None:
        """The predicate both ``a`` and ``b`` hold for, None if none."""
        raise NotImplementedError

    def meet_wide(self, x: frozenset[P], y: frozenset[P]) -> frozenset[P]:
        """``meet`` of sides too large to pair one by one: a superset of the exact meet."""
        raise NotImplementedError

    def meet(self, x: frozenset[P], y: frozenset[P]) -> frozenset[P]:
        """The conjunction of two unions of predicates: every pair met."""
        if x == self.top:
            return y
        if y == self.top:
            return x
        if len(x) * len(y) > self.cross_limit:
            return self.meet_wide(x, y)
        out: set[P] = set()
        for a in x:
            for b in y:
                m = self.meet_one(a, b)
                if m is not None:
                    out.add(m)
        return frozenset(out)

    def analyse(self, node: ast.Node | None) -> frozenset[P]:
        if node is None:
            return self.top
        return self.visit(node, False)

    def visit_And(self, n: ast.And, neg: bool) -> frozenset[P]:
        if neg:
            return self.top
        acc = self.top
        for c in n.children:
            acc = self.meet(acc, self.visit(c, False))
            if not acc:
                return frozenset()
        return acc

    def visit_Or(self, n: ast.Or, neg: bool) -> frozenset[P]:
        if neg:
            return self.top
        out: set[P] = set()
        for c in n.children:
            out |= self.visit(c, False)
        return frozenset(out)

    def visit_Not(self, n: ast.Not, neg: bool) -> frozenset[P]:
        return self.visit(n.child, not neg)


class NodeTransformer(NodeVisitor):
    """A visitor whose methods return the node to put in place of the one visited. Nodes are never
    changed in place (macro trees are shared between rules): a node is copied only when one of its
    children was replaced."""

    def generic_visit(self, node: ast.Node, *args: Any) -> ast.Node:
        changes: dict[str, Any] = {}
        for name in node._fields:
            old = getattr(node, name)
            if type(old) is list:
                new = [self.visit(c, *args) for c in old]
                if any(n is not o for n, o in zip(new, old, strict=True)):
                    changes[name] = new
            elif old is not None:
                new = self.visit(old, *args)
                if new is not old:
                    changes[name] = new
        return dataclasses.replace(node, **changes) if changes else node  # type: ignore[type-var]


class FieldCollector(NodeVisitor):
    """Every field reference of a tree, in source order, as (name, argument)."""

    def __init__(self) -> None:
        self.fields: list[tuple[str, str | None]] = []

    def visit_Field(self, node: ast.Field) -> None:
        self.fields.append((node.name, node.arg))


class _OperandFieldCollector(FieldCollector):
    """Fields an operand is computed from: through transformer arguments, not inside literal lists."""

    def visit_ListValue(self, node: ast.ListValue) -> None:
        return None


def field_names(node: ast.Node) -> list[str]:
    """Names of every field the tree refers to."""
    c = FieldCollector()
    c.visit(node)
    return [n for n, _ in c.fields]


def operand_field_names(node: ast.Node) -> list[str]:
    """Names of the fields an operand (a field or a transformer of fields) reads."""
    c = _OperandFieldCollector()
    c.visit(node)
    return [n for n, _ in c.fields]
