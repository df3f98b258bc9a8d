"""Canonical text of a condition tree (condition-language.md 8), as shown in rule descriptions."""

from __future__ import annotations

from lanner.rules import ast
from lanner.rules.visitor import NodeVisitor

_NEEDS_QUOTES = set(" \t\r\n\"'=\\(),")


def quote(text: str) -> str:
    if text == "" or any(c in _NEEDS_QUOTES or ord(c) < 32 for c in text):
        esc = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
               .replace("\t", "\\t"))
        return '"' + esc + '"'
    return text


def _arg(arg: str | None) -> str:
    if arg is None:
        return ""
    if arg == "" or any(c in _NEEDS_QUOTES or c in "[]" for c in arg):
        return '["' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return f"[{arg}]"


class _Printer(NodeVisitor):
    def visit_And(self, node: ast.And) -> str:
        return "(" + " and ".join(self.visit(c) for c in node.children) + ")"

    def visit_Or(self, node: ast.Or) -> str:
        return "(" + " or ".join(self.visit(c) for c in node.children) + ")"

    def visit_Not(self, node: ast.Not) -> str:
        return "not " + self.visit(node.child)

    def visit_MacroRef(self, node: ast.MacroRef) -> str:
        return node.name

    def visit_Field(self, node: ast.Field) -> str:
        return node.name + _arg(node.arg)

    def visit_Transformer(self, node: ast.Transformer) -> str:
        return f"{node.name}(" + ",".join(self.visit(a) for a in node.args) + ")" + _arg(node.arg)

    def visit_Value(self, node: ast.Value) -> str:
        return quote(node.text)

    def visit_ListValue(self, node: ast.ListValue) -> str:
        return "(" + ", ".join(self.visit(i) for i in node.items) + ")"

    def visit_Check(self, node: ast.Check) -> str:
        lhs = self.visit(node.lhs)
        if node.rhs is None:
            return f"{lhs} {node.op}"
        mod = f"{node.modifier} " if node.modifier else ""
        return f"{lhs} {node.op} {mod}{self.visit(node.rhs)}"

    def generic_visit(self, node: ast.Node, *args: object) -> str:
        raise TypeError(type(node).__name__)


_PRINTER = _Printer()


def canonical(node: ast.Node) -> str:
    return _PRINTER.visit(node)
