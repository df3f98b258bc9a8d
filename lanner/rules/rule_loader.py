"""Loading rules files one after another: collect, then build the whole state after each file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lanner.fields import registry as reg
from lanner.rules.builder import AppendOutput, Builder, EventTable
from lanner.rules.collector import Collector
from lanner.rules.compiled_rule import CompiledRule
from lanner.rules.definitions import RulesState
from lanner.rules.result import Diagnostic, FileResult, LoadError
from lanner.rules.versions import parse_semver, version_compatible


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
                result.schema_statuses = schema_verdict(collector.documents)
                result.schema_valid = result.schema_statuses[0]
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


def schema_verdict(documents: list[Any] | None) -> list[str]:
    """The advisory schema verdict of a file, from the YAML nodes the collector already composed: Falco's
    status chain of its first failing document, ``["ok"]``, or ``["none"]`` when the file is not YAML
    (Falco validates nothing then)."""
    from lanner.rules.schema import construct, schema_statuses
    if documents is None:
        return ["none"]
    verdicts = [schema_statuses(construct(d)) for d in documents] or [["ok"]]
    return next((v for v in verdicts if v != ["ok"]), verdicts[0])


