"""The condition-tree visitor: dispatch by node class, the generic walk, copy-on-change transformation
(macro trees are shared, so a transformation never changes the tree it reads) and field collection."""

from __future__ import annotations

from lanner.rules import ast
from lanner.rules.canonical import canonical
from lanner.rules.parser import parse
from lanner.rules.visitor import NodeTransformer, NodeVisitor, field_names, iter_children, operand_field_names

COND = "(a.b = 1 and not mac) or tolower(c.d) in (x, y) or join(',', (e.f, g.h)) = z"


class Counter(NodeVisitor):
    def __init__(self) -> None:
        self.checks: list[str] = []
        self.macros: list[str] = []

    def visit_Check(self, node: ast.Check) -> None:
        self.checks.append(node.op)
        self.generic_visit(node)

    def visit_MacroRef(self, node: ast.MacroRef) -> None:
        self.macros.append(node.name)


class Renamer(NodeTransformer):
    def visit_MacroRef(self, node: ast.MacroRef) -> ast.Node:
        return ast.MacroRef("other", node.pos) if node.name == "mac" else node


def test_dispatch_and_generic_walk() -> None:
    c = Counter()
    c.visit(parse(COND))
    assert c.checks == ["=", "in", "="]
    assert c.macros == ["mac"]


def test_children_in_source_order() -> None:
    tree = parse("a.b = 1 and c.d exists")
    assert [type(n).__name__ for n in iter_children(tree)] == ["Check", "Check"]
    check = next(iter_children(tree))
    assert [type(n).__name__ for n in iter_children(check)] == ["Field", "Value"]


def test_transformer_copies_only_the_changed_path() -> None:
    tree = parse(COND)
    before = canonical(tree)
    out = Renamer().visit(tree)
    assert canonical(tree) == before
    assert canonical(out) == before.replace("not mac", "not other")
    assert out is not tree
    assert isinstance(tree, ast.Or) and isinstance(out, ast.Or)
    assert out.children[1] is tree.children[1] and out.children[2] is tree.children[2]
    assert out.children[0] is not tree.children[0]


def test_transformer_returns_the_same_tree_when_nothing_changes() -> None:
    tree = parse("a.b = 1 and not c.d exists")
    assert Renamer().visit(tree) is tree


def test_field_collection() -> None:
    tree = parse(COND)
    assert field_names(tree) == ["a.b", "c.d", "e.f", "g.h"]
    join = tree.children[2].lhs  # type: ignore[attr-defined]
    assert operand_field_names(join) == []       # fields inside a literal list do not make up the operand
    assert operand_field_names(tree.children[1].lhs) == ["c.d"]  # type: ignore[attr-defined]
