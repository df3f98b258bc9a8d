"""A rule ready to run: its compiled condition and output, the event types it can match and what the
ruleset, engine and outputs read from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lanner.core.priority import Priority
from lanner.fields import registry as reg
from lanner.rules import ast
from lanner.rules.output import OutputFormat


@dataclass
class CompiledRule:
    name: str
    desc: str
    source: str
    priority: Priority
    enabled: bool
    tags: tuple[str, ...]
    position: int
    condition: str                        # final condition text (with exceptions)
    match: Callable[[Any], bool]
    output: OutputFormat
    evttypes: frozenset[int] | None       # None = every event type
    code: str = ""                        # generated Python source
    tree: ast.Node | None = None
    capture: bool = False
    capture_duration: int = 0
    extra_fields: list[tuple[str, Any]] = field(default_factory=list)   # (key, OutputFormat | (fn, ref))
    exception_fields: list[str] = field(default_factory=list)
    fields: list[reg.FieldRef] = field(default_factory=list)
