"""Condition syntax tree: what the parser produces and the compiler, event-type inference and canonical
printer consume. Nodes are small immutable-ish records carrying the source position of their first
character (used in error messages)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Pos:
    idx: int = 0    # 0-based character offset
    line: int = 1   # 1-based
    col: int = 1    # 1-based


class Node:
    """Base of every node; ``_fields`` names the attributes holding child nodes (a node or a list of
    nodes), in source order, for the generic walk of ``rules.visitor``."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()


@dataclass(slots=True)
class And(Node):
    _fields: ClassVar[tuple[str, ...]] = ("children",)
    children: list[Node]
    pos: Pos = field(default_factory=Pos)


@dataclass(slots=True)
class Or(Node):
    _fields: ClassVar[tuple[str, ...]] = ("children",)
    children: list[Node]
    pos: Pos = field(default_factory=Pos)


@dataclass(slots=True)
class Not(Node):
    _fields: ClassVar[tuple[str, ...]] = ("child",)
    child: Node
    pos: Pos = field(default_factory=Pos)


@dataclass(slots=True)
class MacroRef(Node):
    name: str
    pos: Pos = field(default_factory=Pos)


@dataclass(slots=True)
class Field(Node):
    """A field reference; ``arg`` is None when no bracket argument was written ("" is an empty one)."""

    name: str
    arg: str | None = None
    pos: Pos = field(default_factory=Pos)


@dataclass(slots=True)
class Transformer(Node):
    """``name(args...)``; ``val`` is represented as a transformer too (RHS only)."""

    _fields: ClassVar[tuple[str, ...]] = ("args",)
    name: str
    args: list[Node]
    pos: Pos = field(default_factory=Pos)
    arg: str | None = None       # a trailing ``[arg]`` (getopt's option letter; an error elsewhere)


@dataclass(slots=True)
class Value(Node):
    """A literal value as written (after unescaping quoted strings)."""

    text: str
    quoted: bool = False
    pos: Pos = field(default_factory=Pos)


@dataclass(slots=True)
class ListValue(Node):
    """A literal list ``(a, b, c)``, or a list used inside transformer arguments."""

    _fields: ClassVar[tuple[str, ...]] = ("items",)
    items: list[Node]
    pos: Pos = field(default_factory=Pos)


@dataclass(slots=True)
class Check(Node):
    """``lhs op [modifier] rhs``; ``rhs`` is None for ``exists``."""

    _fields: ClassVar[tuple[str, ...]] = ("lhs", "rhs")
    lhs: Node                    # Field or Transformer
    op: str
    rhs: Node | None = None      # Value, ListValue, Field-valued Transformer
    modifier: str | None = None  # oneof / anyof / allof
    pos: Pos = field(default_factory=Pos)


TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt")


def plain_field(node: Node | None) -> str | None:
    """The name of a field written without argument nor transformer, else None."""
    return node.name if type(node) is Field and node.arg is None else None


def literal_texts(node: Node | None) -> list[str] | None:
    """The texts of a literal value or of a list of literal values, else None."""
    if type(node) is Value:
        return [node.text]
    if type(node) is ListValue and all(type(i) is Value for i in node.items):
        return [i.text for i in node.items]  # type: ignore[attr-defined]
    return None


def items_of(node: Node | None) -> list[Node]:
    """The items of a list, or the node itself as the only item."""
    return node.items if type(node) is ListValue else [node]  # type: ignore[list-item]
