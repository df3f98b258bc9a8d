"""Build phase of rule loading: the collected state becomes compiled rules (rules-file.md 9).

Runs after every file, over the whole state: lists are expanded (one level) and substituted textually,
macros parsed and expanded as sub-trees, rule conditions (with exceptions) and outputs compiled against
the field registry of their source, event-type sets inferred, and the warnings of section 13 emitted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lanner.fields import registry as reg
from lanner.rules import ast
from lanner.rules.compiled_rule import CompiledRule
from lanner.rules.compiler import CompileError, ConditionCompiler
from lanner.rules.definitions import RuleDef, RulesState
from lanner.rules.evttype import EvtTypeError, EvtTypeInference
from lanner.rules.lists import quote_item, substitute_list
from lanner.rules.output import OutputCompiler, OutputError
from lanner.rules.parser import ParseError, parse
from lanner.rules.result import Diagnostic, FileResult, LoadError, Location
from lanner.rules.rule_exceptions import exception_condition, exception_fields
from lanner.rules.visitor import NodeTransformer

_START = ast.Pos(0, 0, 0)   # Falco's condition-wide warnings sit at the condition's own position
_UNKNOWN_FAMILY = ("nonexistent field", "invalid formatting token", "unknown event type", "unknown filter:")
_DEPRECATED_OUTPUT_FIELDS = ("evt.dir", "evt.latency", "evt.latency.s", "evt.latency.ns", "evt.latency.human",
                             "evt.wait_latency")
_CONTAINER_INFO_WARNING = ("%container.info is deprecated and no more useful, and will be dropped by Falco 1.0.0. "
                           "The container plugin will automatically add required fields to the output message.")
MAX_EVTTYPES = 100
SUGGESTED_ORDER = ("container.id", "container.name", "container.image.repository", "container.image.tag",
                   "k8s.pod.name", "k8s.ns.name")


@dataclass
class AppendOutput:
    """One ``append_output`` entry of the configuration."""

    source: str = ""
    tags: tuple[str, ...] = ()
    rule: str = ""
    extra_output: str = ""
    suggested_output: bool = False
    extra_fields: list[tuple[str, str | None]] = field(default_factory=list)  # (key, format or None = raw)

    def matches(self, rule: RuleDef) -> bool:
        if self.source and self.source != rule.source:
            return False
        if self.tags and not set(self.tags) <= rule.tags:
            return False
        return not (self.rule and self.rule != rule.name)


@dataclass
class EventTable:
    """What the compiler needs to know about event types (syscall source)."""

    codes_for_name: Callable[[str], frozenset[int]]
    all_codes: frozenset[int]
    is_event_name: Callable[[str], bool]


class Builder:
    def __init__(self, registry: reg.FieldRegistry, sources: set[str], events: EventTable,
                 append_outputs: list[AppendOutput] | None = None, static_fields: dict[str, str] | None = None,
                 base64_fmt: bool = False) -> None:
        self.registry = registry
        self.sources = sources
        self.events = events
        self.append_outputs = append_outputs or []
        self.static_fields = static_fields or {}
        self.base64_fmt = base64_fmt
        self.inference = EvtTypeInference(events.codes_for_name, events.all_codes)

    # --- entry -------------------------------------------------------------------------------
    def build(self, state: RulesState, result: FileResult) -> list[CompiledRule]:
        """Compile the whole state; raises LoadError at the first error, warnings go to ``result``."""
        self.state = state
        self.result = result
        for lst in state.lists.values():
            lst.used = False
        for mac in state.macros.values():
            mac.used = False
        self._expand_lists()
        self._macro_trees: dict[str, ast.Node] = {}
        for mac in sorted(state.macros.values(), key=lambda m: m.position):
            self._parse_macro(mac)
        self._expanded: dict[str, ast.Node] = {}
        for mac in sorted(state.macros.values(), key=lambda m: m.position):
            self._expand_macro(mac.name, ())
        compiled = []
        for rule in sorted(state.rules.values(), key=lambda r: r.position):
            cr = self._rule(rule)
            if cr is not None:
                compiled.append(cr)
        for mac in sorted(state.macros.values(), key=lambda m: m.position):
            if not mac.used:
                self._warn_at(mac.loc, "LOAD_UNUSED_MACRO", "Macro not referred to by any other rule/macro")
        for lst in sorted(state.lists.values(), key=lambda x: x.position):
            if not lst.used:
                self._warn_at(lst.loc, "LOAD_UNUSED_LIST", "List not referred to by any other rule/macro")
        return compiled

    def _warn_at(self, loc: Location, code: str, message: str) -> None:
        chain = [Location("rules content", "", loc.name), loc]
        self.result.warnings.append(Diagnostic(code, message, chain, ""))

    # --- lists -------------------------------------------------------------------------------
    def _expand_lists(self) -> None:
        lists = self.state.lists
        self._list_order = sorted(lists.values(), key=lambda x: x.position)
        self._list_items: dict[str, list[str]] = {}
        for lst in self._list_order:
            items: list[str] = []
            for it in lst.items:
                inner = lists.get(it)
                if inner is not None and inner is not lst and inner.position < lst.last_touch:
                    items.extend(inner.items)
                    inner.used = True
                else:
                    items.append(it)
            self._list_items[lst.name] = [quote_item(i) for i in items]

    def _substitute(self, text: str, mark: bool) -> str:
        for lst in self._list_order:
            if lst.name not in text:
                continue
            text, used = substitute_list(text, lst.name, self._list_items[lst.name])
            if used and mark:
                lst.used = True
        return text

    # --- macros ------------------------------------------------------------------------------
    def _cond_error(self, base: list[Location], text: str, e: ParseError | CompileError | EvtTypeError,
                    code: str = "LOAD_ERR_COMPILE_CONDITION") -> LoadError:
        return LoadError(self._cond_diag(code, e.message, base, text, e.pos))

    @staticmethod
    def _cond_diag(code: str, message: str, base: list[Location], text: str, pos: Any) -> Diagnostic:
        """A diagnostic in a ``condition expression`` location, as Falco builds it: named by the first 17
        characters of the condition, placed at the parent's position plus the parser's (line, column,
        offset), the snippet taken from the condition itself."""
        idx, line, col = (pos.idx, pos.line, pos.col) if pos is not None else (0, 1, 1)
        head = text if len(text) <= 20 else text[:17] + "..."
        name = '"' + head.replace("\n", " ").replace("\r", " ") + '"'
        parent = base[-1]
        loc = Location("condition expression", "", name, parent.line + line, parent.column + col,
                       parent.offset + idx)
        return Diagnostic(code, message, [*base, loc], alt_content=text)

    def _parse_macro(self, mac: Any) -> None:
        text = self._substitute(mac.condition, mark=True)
        base = [Location("rules content", "", mac.loc.name), mac.loc, mac.cond_loc]
        try:
            self._macro_trees[mac.name] = parse(text, 1000)
        except ParseError as e:
            raise self._cond_error(base, text, e) from None

    def _expand_macro(self, name: str, stack: tuple[str, ...], top: tuple[list[Location], str, Any] | None = None
                      ) -> ast.Node:
        """A macro's tree with every reference expanded. Resolution errors (undefined macro, reference loop)
        are Falco's: in the top-level item's context, at the top-level reference, naming the macro met
        again; the top-level macro itself is not on the stack."""
        done = self._expanded.get(name)
        if done is not None:
            return done
        mac = self.state.macros[name]
        if top is None:
            top = ([Location("rules content", "", mac.loc.name), mac.loc], self._substitute(mac.condition, False), None)
        tree = MacroExpander(self, stack, mac.last_touch, top).visit(self._macro_trees[name])
        self._expanded[name] = tree
        return tree

    # --- rules -------------------------------------------------------------------------------
    def _rule_base(self, rule: RuleDef) -> list[Location]:
        return [Location("rules content", "", rule.loc.name), rule.loc]

    def _rule(self, rule: RuleDef) -> CompiledRule | None:
        if rule.source not in self.sources:
            self.result.warnings.append(rule.ctx.diag("LOAD_UNKNOWN_SOURCE", f"Unknown source {rule.source}, skipping"))
            return None
        base = self._rule_base(rule)
        cond_text = exception_condition(rule)
        output_text, extra_fields_spec = self._output_text(rule)
        try:
            out = OutputCompiler(self.registry, rule.source, self.base64_fmt).compile(output_text)
        except OutputError as e:
            d = Diagnostic("LOAD_ERR_COMPILE_OUTPUT", str(e), base + [self._output_loc(rule)])
            if self._skippable(rule, str(e), d):
                return None
            raise LoadError(d) from None
        for f in _DEPRECATED_OUTPUT_FIELDS:
            if f in output_text:
                self.result.warnings.append(Diagnostic(
                    "LOAD_DEPRECATED_ITEM", f"usage of deprecated field '{f}' has been detected in the rule output",
                    base + [self._output_loc(rule)]))
                break
        text = self._substitute(cond_text, mark=True)
        cbase = base + [rule.cond_loc]
        try:
            tree = parse(text, 1000)
        except ParseError as e:
            raise self._cond_error(cbase, text, e) from None
        tree = MacroExpander(self, (), None, (base, text, None)).visit(tree)
        is_syscall = rule.source == "syscall"
        compiler = ConditionCompiler(self.registry, rule.source,
                                     self.events.is_event_name if is_syscall else None)
        try:
            cc = compiler.compile(tree, rule.name)
        except CompileError as e:
            d = self._cond_diag("LOAD_ERR_COMPILE_CONDITION", e.message, cbase, text, e.pos)
            if self._skippable(rule, e.message, d):
                return None
            raise LoadError(d) from None
        for code, msg in cc.warnings:
            self.result.warnings.append(self._cond_diag(code, msg, cbase, text, _START))
        evttypes: frozenset[int] | None = None
        if is_syscall:
            try:
                evttypes = self.inference.infer(tree)
            except EvtTypeError as e:
                raise self._cond_error(cbase, text, e) from None
            if rule.warn_evttypes and self.inference.count(evttypes) > MAX_EVTTYPES:
                self.result.warnings.append(Diagnostic(
                    "LOAD_NO_EVTTYPE", "Rule matches too many evt.type values. This has a significant performance "
                    "penalty.", base))
        extra_fields = self._extra_fields(rule, extra_fields_spec)
        return CompiledRule(
            name=rule.name, desc=rule.desc, source=rule.source, priority=rule.priority, enabled=rule.enabled,
            tags=tuple(sorted(rule.tags)), position=rule.position, condition=text, match=cc.fn, output=out,
            evttypes=evttypes, code=cc.source, tree=tree, capture=rule.capture,
            capture_duration=rule.capture_duration, extra_fields=extra_fields,
            exception_fields=exception_fields(rule.exceptions), fields=cc.fields)

    def _skippable(self, rule: RuleDef, message: str, diag: Diagnostic) -> bool:
        """skip-if-unknown-filter: an unknown field/event type skips the rule with a warning where the
        error would have been."""
        if rule.skip_if_unknown_filter and any(s in message for s in _UNKNOWN_FAMILY):
            self.result.warnings.append(Diagnostic("LOAD_UNKNOWN_FILTER", message, diag.locations,
                                                   alt_content=diag.alt_content))
            return True
        return False

    def _output_loc(self, rule: RuleDef) -> Location:
        return rule.output_loc or Location("rule output", "", rule.loc.name, rule.loc.line, rule.loc.column,
                                           rule.loc.offset)

    def _output_text(self, rule: RuleDef) -> tuple[str, list[tuple[str, str | None]]]:
        text = rule.output
        extra_fields: list[tuple[str, str | None]] = []
        for ao in self.append_outputs:
            if not ao.matches(rule):
                continue
            if ao.extra_output:
                text = text + " " + ao.extra_output
            if ao.suggested_output:
                sugg = self._suggested(rule.source)
                if sugg:
                    text = text + " " + " ".join(f"{n.replace('.', '_')}=%{n}" for n in sugg)
            extra_fields.extend(ao.extra_fields)
        if "%container.info" in text:
            text = text.replace("%container.info", "")
            self.result.warnings.append(rule.ctx.diag("LOAD_DEPRECATED_ITEM", _CONTAINER_INFO_WARNING))
        return text, extra_fields

    def _suggested(self, source: str) -> list[str]:
        names = [f"static.{k}" for k in self.static_fields] if self.registry.find(source, "static.x") else []
        found = [f.name for _c, f in self.registry.all_fields(source) if reg.SUGGESTED in f.flags]
        ordered = [n for n in SUGGESTED_ORDER if n in found] + [n for n in found if n not in SUGGESTED_ORDER]
        return names + ordered

    def _extra_fields(self, rule: RuleDef, spec: list[tuple[str, str | None]]) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        oc = OutputCompiler(self.registry, rule.source, self.base64_fmt)
        for key, fmt in spec:
            try:
                if fmt is None:
                    f = oc.compile("%" + key)
                    out.append((key, f))
                else:
                    out.append((key, oc.compile(fmt)))
            except OutputError:
                continue
        return out


class MacroExpander(NodeTransformer):
    """Replaces macro references by their expanded trees (checks hold no macro reference). ``owner_touch``
    is the last touch of the macro being expanded (it sees only macros defined before), None for a rule
    (sees every macro); ``stack`` the macros being expanded below the top item, to report reference loops.
    ``top`` is (location chain, condition text, position) of the top-level item and of the reference the
    expansion entered by: Falco reports an undefined macro or a loop there."""

    def __init__(self, builder: Builder, stack: tuple[str, ...], owner_touch: int | None,
                 top: tuple[list[Location], str, Any]) -> None:
        self.builder = builder
        self.stack = stack
        self.owner_touch = owner_touch
        self.top = top

    def visit_MacroRef(self, node: ast.MacroRef) -> ast.Node:
        b = self.builder
        base, text, top_pos = self.top
        here = top_pos if top_pos is not None else node.pos
        mac = b.state.macros.get(node.name)
        if mac is None or (self.owner_touch is not None and mac.position >= self.owner_touch):
            raise LoadError(b._cond_diag("LOAD_ERR_VALIDATE", f"Undefined macro '{node.name}' used in filter.",
                                         base, text, here))
        if node.name in self.stack:
            raise LoadError(b._cond_diag("LOAD_ERR_VALIDATE", f"reference loop in macro '{node.name}'",
                                         base, text, here))
        mac.used = True
        done = b._expanded.get(node.name)
        if done is not None:
            return done
        return MacroExpander(b, self.stack + (node.name,), mac.last_touch, (base, text, here)).visit(
            b._macro_trees[node.name])

    def visit_Check(self, node: ast.Check) -> ast.Node:
        return node
