"""The rules that may run, indexed by source and event type for the engine, with rule selection by name
and tag."""

from __future__ import annotations

import fnmatch

from lanner.core.priority import Priority
from lanner.rules.compiled_rule import CompiledRule


def wildcard_match(pattern: str, name: str) -> bool:
    """Rule-name patterns of the ``rules:`` config: ``*`` is the only wildcard."""
    if "*" not in pattern:
        return pattern == name
    return fnmatch.fnmatchcase(name, pattern.replace("[", "[[]").replace("?", "[?]"))


class Ruleset:
    """The rules that may run: above the minimum priority, with their enabled state, indexed by source and
    event type. ``candidates(source, code)`` gives enabled rules in position order."""

    def __init__(self, rules: list[CompiledRule], all_codes: frozenset[int],
                 min_priority: Priority = Priority.DEBUG) -> None:
        self.rules = [r for r in rules if r.priority <= min_priority]
        self.enabled = {r.name: r.enabled for r in self.rules}
        self.all_codes = all_codes
        self.reindex()

    def select(self, enable: bool, *, rule: str | None = None, tag: str | None = None) -> int:
        n = 0
        for r in self.rules:
            if (rule is None or wildcard_match(rule, r.name)) and (tag is None or tag in r.tags):
                self.enabled[r.name] = enable
                n += 1
        self.reindex()
        return n

    def reindex(self) -> None:
        by_source: dict[str, dict[int, list[CompiledRule]]] = {}
        any_type: dict[str, list[CompiledRule]] = {}
        for r in self.rules:
            if not self.enabled[r.name]:
                continue
            idx = by_source.setdefault(r.source, {})
            codes = self.all_codes if r.evttypes is None else r.evttypes
            if r.source != "syscall":
                any_type.setdefault(r.source, []).append(r)
                continue
            for c in codes:
                idx.setdefault(c, []).append(r)
        self.index = {s: {c: tuple(v) for c, v in d.items()} for s, d in by_source.items()}
        self.plugin_rules = {s: tuple(v) for s, v in any_type.items()}
        self.syscall_index: dict[int, tuple[CompiledRule, ...]] = self.index.get("syscall", {})

    def candidates(self, source: str, code: int) -> tuple[CompiledRule, ...]:
        if source == "syscall":
            return self.index.get("syscall", {}).get(code, ())
        return self.plugin_rules.get(source, ())

    def enabled_rules(self) -> list[CompiledRule]:
        return [r for r in self.rules if self.enabled[r.name]]

    def interesting_codes(self) -> frozenset[int] | None:
        """Event codes some enabled syscall rule can match (None: all)."""
        codes: set[int] = set()
        for r in self.enabled_rules():
            if r.source != "syscall":
                continue
            if r.evttypes is None:
                return None
            codes |= r.evttypes
        return frozenset(codes)
