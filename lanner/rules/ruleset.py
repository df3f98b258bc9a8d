"""Loading rules files into a ruleset, selecting rules, and the event-type index evaluation uses."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lanner.core.errors import LannerError
from lanner.core.priority import Priority
from lanner.fields import registry as reg
from lanner.rules.build import AppendOutput, Builder, CompiledRule, EventTable
from lanner.rules.loader import Collector, RulesState, parse_semver, version_compatible
from lanner.rules.result import Diagnostic, FileResult, LoadError


class RulesFileError(LannerError):
    """A rules path that cannot be used (missing file given with -r)."""


def expand_rules_paths(paths: Iterable[str], *, strict: bool) -> list[str]:
    """Files to load, in order: directories give their *.yaml/*.yml files sorted by path (not recursive);
    plain files not ending in .yaml/.yml are ignored. ``strict`` (the -r flag) makes a missing path an
    error; configuration entries that do not exist are dropped silently."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            names = sorted(os.path.join(p, n) for n in os.listdir(p))
            out.extend(n for n in names if os.path.isfile(n) and n.endswith((".yaml", ".yml")))
        elif os.path.exists(p):
            if p.endswith((".yaml", ".yml")):
                out.append(p)
        elif strict:
            raise RulesFileError(f"Could not open file {p} for reading")
    return out


@dataclass
class RuleLoader:
    """Loads files one after another into one state and recompiles it after each (rules-file.md 1, 10)."""

    registry: reg.FieldRegistry
    sources: set[str]
    events: EventTable
    append_outputs: list[AppendOutput] = field(default_factory=list)
    static_fields: dict[str, str] = field(default_factory=dict)
    base64_fmt: bool = False
    state: RulesState = field(default_factory=RulesState)
    rules: list[CompiledRule] = field(default_factory=list)
    results: list[FileResult] = field(default_factory=list)

    def field_exists(self, source: str, text: str) -> bool:
        from lanner.rules.compiler import CompileError, ConditionCompiler
        from lanner.rules.parser import ParseError, parse
        if "(" in text:
            try:
                ConditionCompiler(self.registry, source).compile(parse(f"{text} exists"))
                return True
            except (ParseError, CompileError):
                return False
        name, _, rest = text.partition("[")
        arg = rest[:-1] if rest.endswith("]") else None
        try:
            self.registry.resolve(source, name, arg)
            return True
        except reg.FieldError:
            return False

    def load_text(self, name: str, text: str) -> FileResult:
        result = FileResult(name, text)
        collector = Collector(self.state, self.sources, self.field_exists)
        try:
            try:
                collector.load(name, text, result)
            finally:
                result.schema_valid = schema_verdict(collector.documents)
            builder = Builder(self.registry, self.sources, self.events, self.append_outputs, self.static_fields,
                              self.base64_fmt)
            self.rules = builder.build(self.state, result)
        except LoadError as e:
            result.errors.append(e.diag)
        self.results.append(result)
        return result

    def load_file(self, path: str) -> FileResult:
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError as e:
            r = FileResult(path)
            r.errors.append(Diagnostic("LOAD_ERR_FILE_READ", f"Could not open file {path} for reading: {e.strerror}"))
            self.results.append(r)
            return r
        return self.load_text(path, text)

    def load_files(self, paths: Iterable[str]) -> bool:
        """Load files in order; stop at the first that fails. True if all loaded."""
        return all(self.load_file(p).successful for p in paths)

    def check_plugin_requirements(self, loaded: dict[str, str]) -> list[str]:
        """Errors for unmet ``required_plugin_versions`` given loaded plugin name -> version."""
        errors = []
        for req in self.state.plugin_requirements:
            for name, version in req.alternatives:
                if name in loaded:
                    have = parse_semver(loaded[name])
                    need = parse_semver(version)
                    if have is None:
                        errors.append(f"Plugin '{name}' has invalid version string '{loaded[name]}'")
                    elif need is not None and not version_compatible(have, need):
                        errors.append(f"Plugin '{name}' version '{loaded[name]}' is not compatible with required "
                                      f"plugin version '{version}'")
                    break
            else:
                alts = ", ".join(f"{n} (>= {v})" for n, v in req.alternatives)
                errors.append(f"Plugin requirement not satisfied, must load one of: {alts}")
        return errors


def schema_verdict(documents: list[Any] | None) -> str:
    """The advisory schema verdict of a file, from the YAML nodes the collector already composed
    (None: the file is not valid YAML)."""
    from lanner.rules.schema import construct, validate_rules_document
    if documents is None:
        return "failed for $: not valid YAML"
    verdicts = [validate_rules_document(construct(d)) for d in documents] or ["ok"]
    return next((v for v in verdicts if v != "ok"), verdicts[0])


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
