"""Canonical text of a condition tree (condition-language.md 8), as shown in rule descriptions."""

from __future__ import annotations

from lanner.rules import ast

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


def canonical(node: ast.Node) -> str:
    if isinstance(node, ast.And):
        return "(" + " and ".join(canonical(c) for c in node.children) + ")"
    if isinstance(node, ast.Or):
        return "(" + " or ".join(canonical(c) for c in node.children) + ")"
    if isinstance(node, ast.Not):
        return "not " + canonical(node.child)
    if isinstance(node, ast.MacroRef):
        return node.name
    if isinstance(node, ast.Field):
        return node.name + _arg(node.arg)
    if isinstance(node, ast.Transformer):
        return f"{node.name}(" + ",".join(canonical(a) for a in node.args) + ")" + _arg(node.arg)
    if isinstance(node, ast.Value):
        return quote(node.text)
    if isinstance(node, ast.ListValue):
        return "(" + ", ".join(canonical(i) for i in node.items) + ")"
    if isinstance(node, ast.Check):
        lhs = canonical(node.lhs)
        if node.rhs is None:
            return f"{lhs} {node.op}"
        mod = f"{node.modifier} " if node.modifier else ""
        return f"{lhs} {node.op} {mod}{canonical(node.rhs)}"
    raise TypeError(type(node).__name__)
