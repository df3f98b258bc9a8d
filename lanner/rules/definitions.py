"""What the collect phase gathers across rules files: list, macro, rule and exception definitions and the
plugin requirements, kept in one ``RulesState`` that the builder compiles after every file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lanner.core.priority import Priority
from lanner.rules.reader import Ctx
from lanner.rules.result import Location


@dataclass
class ListDef:
    name: str
    items: list[str]
    position: int
    last_touch: int
    loc: Location
    used: bool = False


@dataclass
class MacroDef:
    name: str
    condition: str
    position: int
    last_touch: int
    loc: Location
    cond_loc: Location
    used: bool = False


@dataclass
class ExceptionDef:
    name: str
    fields: str | list[str] | None
    comps: str | list[str] | None
    values: list[Any]
    loc: Location


@dataclass
class RuleDef:
    name: str
    desc: str
    condition: str
    output: str
    priority: Priority
    source: str
    position: int
    loc: Location
    cond_loc: Location
    ctx: Ctx
    enabled: bool = True
    tags: set[str] = field(default_factory=set)
    exceptions: list[ExceptionDef] = field(default_factory=list)
    warn_evttypes: bool = True
    skip_if_unknown_filter: bool = False
    capture: bool = False
    capture_duration: int = 0
    output_loc: Location | None = None


@dataclass
class PluginRequirement:
    alternatives: list[tuple[str, str]]   # (name, version), primary first
    loc: Location


@dataclass
class RulesState:
    """Everything loaded so far, across files."""

    lists: dict[str, ListDef] = field(default_factory=dict)
    macros: dict[str, MacroDef] = field(default_factory=dict)
    rules: dict[str, RuleDef] = field(default_factory=dict)
    counter: int = 0
    engine_version_required: tuple[int, int, int] = (0, 0, 0)
    plugin_requirements: list[PluginRequirement] = field(default_factory=list)

    def tick(self) -> int:
        self.counter += 1
        return self.counter
