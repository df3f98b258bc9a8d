"""Condition syntax tree: what the parser produces and the compiler, event-type inference and canonical
printer consume. Nodes are small immutable-ish records carrying the source position of their first
character (used in error messages)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Pos:
    idx: int = 0    # 0-based character offset
    line: int = 1   # 1-based
    col: int = 1    # 1-based


class Node:
    __slots__ = ()


@dataclass(slots=True)
class And(Node):
    children: list[Node]
    pos: Pos = field(default_factory=Pos)


@dataclass(slots=True)
class Or(Node):
    children: list[Node]
    pos: Pos = field(default_factory=Pos)


@dataclass(slots=True)
class Not(Node):
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

    items: list[Node]
    pos: Pos = field(default_factory=Pos)


@dataclass(slots=True)
class Check(Node):
    """``lhs op [modifier] rhs``; ``rhs`` is None for ``exists``."""

    lhs: Node                    # Field or Transformer
    op: str
    rhs: Node | None = None      # Value, ListValue, Field-valued Transformer
    modifier: str | None = None  # oneof / anyof / allof
    pos: Pos = field(default_factory=Pos)


TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt")
