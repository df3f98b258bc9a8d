"""The engine: field registry, loaded rules, and the per-event loop (state -> match -> alert).

``Engine.process(event)`` is the hot path: it looks up the candidate rules for the event's source and
type, evaluates their compiled conditions and returns the alerts (``rule_matching: first`` stops at the
first match). State updates for syscall events are done by the state engine before and after; outputs
are handed alerts through a callback and never block here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lanner.config import Config, ConfigError
from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.events.base import ASYNC_EVENT_TYPE, PLUGIN_EVENT_TYPE, PluginEvent
from lanner.events.syscall import SyscallEvent
from lanner.fields import registry as reg
from lanner.fields import types as ft
from lanner.rules.builder import AppendOutput, EventTable
from lanner.rules.compiled_rule import CompiledRule
from lanner.rules.fused import FusedMatcher, fuse
from lanner.rules.rule_loader import RuleLoader
from lanner.rules.ruleset import Ruleset
from lanner.sources.registry import plugin_field_classes
from lanner.state.containers import apply_container_event

log = logging.getLogger("lanner")
_MISSING: Any = object()

def default_registry(state: Any, containers: Any, hostname: str = "",
                     static_fields: dict[str, str] | None = None,
                     plugins: Iterable[Any] = ()) -> reg.FieldRegistry:
    """Every field class lanner serves: generic event fields, syscall classes bound to the state engine,
    container/k8s metadata, the plugin-style sources' classes, and ``static.*``.

    ``plugins`` are the loaded plugin libraries: their field classes join the registry, replacing the
    classes of a built-in plugin of the same name, and their ``evt.plugininfo`` summaries."""
    from lanner.fields import cloudtrail, container, k8s, k8saudit
    from lanner.fields.syscall_classes import generic_field_classes, syscall_field_classes
    libs = [p for p in plugins if getattr(p, "lib", None) is not None]
    info = {"k8saudit": k8saudit.event_info, "cloudtrail": cloudtrail.event_info}
    info.update({p.name: p.event_to_string for p in libs})
    replaced = {p.name for p in libs}
    builtin = [c for c in plugin_field_classes() if c.name not in replaced]
    classes = [*generic_field_classes(hostname, plugin_info=info), *syscall_field_classes(state),
               container.field_class(containers), k8s.field_class(containers), *builtin,
               *(c for p in libs for c in p.field_classes())]
    registry = reg.FieldRegistry(classes)
    if static_fields is not None:
        registry.add(static_field_class(static_fields))
    return registry


def static_field_class(values: dict[str, str]) -> reg.FieldClass:
    """``static.<name>`` constant fields from the ``static_fields`` configuration."""
    fields = [reg.fdef("static", ft.CHARBUF, "constant field from static_fields configuration",
                       dotted_arg=True, arg=reg.ARG_REQUIRED, flags=(reg.HIDDEN,))]

    def bind(f: reg.FieldDef, arg: str | None) -> reg.Extractor:
        if arg not in values:
            raise reg.FieldError(f"filter_check called with nonexistent field static.{arg}")
        v = str(values[arg])
        return lambda e: v

    return reg.FieldClass("static", "Static fields", (), fields, bind)


def syscall_event_table(async_names: Iterable[str] = ()) -> EventTable:
    """The syscall event types rules may name; ``async_names`` are the async events plugins declare
    (``evt.type = <name>`` matches those ``asyncevent`` records, as in libs' event table)."""
    from lanner.events import table
    names = frozenset(async_names)
    if not names:
        return EventTable(table.codes_for_name, table.all_codes(), table.is_event_name)
    async_codes = frozenset({ASYNC_EVENT_TYPE})

    def codes_for_name(name: str) -> frozenset[int]:
        return async_codes if name in names else table.codes_for_name(name)

    return EventTable(codes_for_name, table.all_codes(), lambda n: n in names or table.is_event_name(n))


def parse_append_output(config: Config) -> list[AppendOutput]:
    out: list[AppendOutput] = []
    for i, item in enumerate(config.list("append_output")):
        if not isinstance(item, dict):
            raise ConfigError(f"append_output[{i}]: expected a mapping")
        match = item.get("match") or {}
        if not isinstance(match, dict):
            raise ConfigError(f"append_output[{i}].match: expected a mapping")
        tags = match.get("tags") or []
        if isinstance(tags, str):
            tags = [tags]
        if match.get("rule") and tags:
            log.warning("append_output[%d]: both 'rule' and 'tags' are set in 'match'", i)
        extra_fields: list[tuple[str, str | None]] = []
        keys: set[str] = set()
        for ef in item.get("extra_fields") or []:
            if isinstance(ef, dict):
                for k, v in ef.items():
                    if k in keys:
                        raise ConfigError(f"append_output[{i}].extra_fields: duplicate key '{k}'")
                    keys.add(k)
                    extra_fields.append((str(k), str(v)))
            else:
                extra_fields.append((str(ef), None))
        sugg = item.get("suggested_output", False)
        out.append(AppendOutput(source=str(match.get("source") or ""), tags=tuple(str(t) for t in tags),
                                rule=str(match.get("rule") or ""), extra_output=str(item.get("extra_output") or ""),
                                suggested_output=str(sugg).lower() in ("true", "yes", "on", "1"),
                                extra_fields=extra_fields))
    return out


@dataclass
class Stats:
    events: int = 0
    alerts: int = 0
    by_priority: dict[Priority, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)
    eval_errors: int = 0


class Engine:
    """One engine per lanner process: registry, rules, and evaluation."""

    def __init__(self, config: Config | None = None, *, registry: reg.FieldRegistry | None = None,
                 sources: Iterable[str] | None = None, events: EventTable | None = None,
                 hostname: str = "", containers: Any = None, state: Any = None,
                 plugins: Iterable[Any] = ()) -> None:
        self.config = config or Config()
        static = {str(k): str(v) for k, v in self.config.dict("static_fields").items()}
        if registry is None:
            from lanner.state.containers import ContainerManager
            from lanner.state.engine import StateEngine
            self.containers = containers if containers is not None else ContainerManager()
            self.state = state if state is not None else StateEngine(
                thread_table_size=self.config.int("falco_libs.thread_table_size", 262144),
                purge_interval_s=self.config.int("falco_libs.thread_table_auto_purging_interval_s", 300),
                thread_timeout_s=self.config.int("falco_libs.thread_table_auto_purging_thread_timeout_s", 300))
            registry = default_registry(self.state, self.containers, hostname, static, plugins)
        else:
            self.containers = containers
            self.state = state
        self.registry = registry
        #: plugin event parsers, called with every event after lanner's own state update
        self.parsers: tuple[Callable[[Any], None], ...] = ()
        self.attach_plugins(plugins)
        self.sources = set(sources) if sources is not None else (set(self.registry.sources()) | {"syscall"})
        self.events = events or syscall_event_table(
            n for p in plugins for n in getattr(getattr(p, "lib", None), "async_events", ()))
        self.hostname = hostname
        self.match_all = self.config.choice(
            "rule_matching", "first", ("first", "all"),
            'Unknown rule matching strategy "{}"--must be one of first, all') == "all"
        prio = self.config.str("priority", "debug")
        try:
            self.min_priority = Priority.parse(prio)
        except ValueError:
            raise ConfigError(f'Unknown priority "{prio}"--must be one of emergency, alert, critical, error, '
                              "warning, notice, informational, debug") from None
        self.loader = RuleLoader(self.registry, self.sources, self.events, parse_append_output(self.config),
                                 static, self.config.bool("buffer_format_base64", False))
        self.ruleset = Ruleset([], self.events.all_codes, self.min_priority)
        self.stats = Stats()
        #: every alert as it is made (the output pipeline)
        self.on_alert: Callable[[Alert], object] | None = None
        #: every alert with its event, before the post-rule state removals (``lanner test`` reads fields here)
        self.on_match: Callable[[Alert, Any], None] | None = None
        #: fused matching (rules/fused.py); False = the plain rule-by-rule loop, the reference it must equal
        self.fast = True
        self._fused: dict[tuple[str, int, bool], FusedMatcher | None] = {}

    def attach_plugins(self, plugins: Iterable[Any]) -> None:
        """Give loaded plugin libraries lanner's thread state (their ``threads`` table) and take their
        event parsers."""
        parsers = []
        for p in plugins:
            host = getattr(p, "host", None)
            if host is not None and self.state is not None:
                host.tables.attach_state(self.state)
            parse = p.parser() if hasattr(p, "parser") else None
            if parse is not None:
                parsers.append(parse)
        self.parsers = tuple(parsers)

    # --- rules -------------------------------------------------------------------------------
    def load_rules_files(self, paths: Iterable[str]) -> bool:
        ok = self.loader.load_files(paths)
        self.ruleset = Ruleset(self.loader.rules, self.events.all_codes, self.min_priority)
        return ok

    def load_rules_text(self, name: str, text: str) -> bool:
        ok = self.loader.load_text(name, text).successful
        self.ruleset = Ruleset(self.loader.rules, self.events.all_codes, self.min_priority)
        return ok

    def apply_rule_selection(self, selections: list[Any]) -> list[str]:
        """The ``rules:`` configuration: enable/disable by name wildcard or tag, in order."""
        logs = []
        for i, sel in enumerate(selections or []):
            if not isinstance(sel, dict) or len(sel) != 1:
                raise ConfigError(f"rules[{i}]: expected one of 'enable' or 'disable'")
            (action, spec), = sel.items()
            if action not in ("enable", "disable") or not isinstance(spec, dict):
                raise ConfigError(f"rules[{i}]: expected 'enable: {{rule|tag: ...}}' or 'disable: {{...}}'")
            if "rule" not in spec and "tag" not in spec:
                raise ConfigError(f"rules[{i}].{action}: needs 'rule' and/or 'tag'")
            rule = str(spec["rule"]) if "rule" in spec else None
            tag = str(spec["tag"]) if "tag" in spec else None
            self.ruleset.select(action == "enable", rule=rule, tag=tag)
            verb = "Enabling" if action == "enable" else "Disabling"
            if rule is not None:
                logs.append(f"{verb} rules with name: {rule}")
            if tag is not None:
                logs.append(f"{verb} rules with tag: {tag}")
        return logs

    # --- evaluation --------------------------------------------------------------------------
    def process(self, e: SyscallEvent | PluginEvent) -> list[Alert]:
        """One event through the whole engine, for every caller (run, ``lanner test``, bench, tests):
        state update, container events, the rules, then the state removals the rules had to see first.
        Returns the alerts (each also handed to ``on_alert``/``on_match`` as it is made)."""
        state = self.state
        code = e.type
        if state is None or code == PLUGIN_EVENT_TYPE:
            if self.parsers:
                self._parse(e)
            return self.evaluate(e)
        state.process(e)
        if (code == 324 or code == 402) and self.containers is not None:
            apply_container_event(e, self.containers)
        if self.parsers:
            self._parse(e)
        out: list[Alert] = []
        if not e.hidden:
            self.stats.events += 1
            rules = self.ruleset.syscall_index.get(code)
            if rules:
                out = self._match(rules, e, code if e.__class__ is SyscallEvent else -1)
        state.post_process(e)
        return out

    def _parse(self, e: SyscallEvent | PluginEvent) -> None:
        for parse in self.parsers:
            try:
                parse(e)
            except Exception:  # noqa: BLE001 - a plugin parser error never stops the agent
                self.stats.eval_errors += 1

    def evaluate(self, e: SyscallEvent | PluginEvent) -> list[Alert]:
        """The rules alone for one event whose state (if any) the caller keeps; returns the alerts."""
        self.stats.events += 1
        rules = self.ruleset.candidates(e.source, e.type)
        if not rules:
            return []
        return self._match(rules, e)

    def _match(self, rules: tuple[CompiledRule, ...], e: SyscallEvent | PluginEvent, code: int = -1) -> list[Alert]:
        """The alerts of the candidate ``rules`` that match ``e`` (only the first with ``rule_matching: first``).

        ``code``: the syscall event code when every event of that code has the same ``evt.type`` (-1: not
        known). With ``fast`` the rules' fused function decides; its result is that of the plain loop."""
        if self.fast:
            key = (e.source, e.type, code >= 0)
            f = self._fused.get(key, _MISSING)
            if f is _MISSING or (f is not None and f.rules is not rules):
                f = self._fuse(key, rules)
            if f is not None:
                try:
                    if self.match_all:
                        return [self.alert(rules[i], e) for i in f.every(e)]
                    i = f.first(e)
                except Exception:  # noqa: BLE001 - the plain loop below counts the error per rule
                    return self._match_plain(rules, e)
                return [] if i < 0 else [self.alert(rules[i], e)]
        return self._match_plain(rules, e)

    def _fuse(self, key: tuple[str, int, bool], rules: tuple[CompiledRule, ...]) -> FusedMatcher | None:
        code = key[1]
        type_name = None
        if key[2] and key[0] == "syscall" and code > 1 and code not in (ASYNC_EVENT_TYPE, PLUGIN_EVENT_TYPE):
            from lanner.events import table
            type_name = table.EVENTS[code].name
        try:
            f = fuse(self.registry, rules, key[0], type_name)
        except Exception as e:  # noqa: BLE001 - a condition the fused form cannot express runs rule by rule
            log.debug("rules of %s event %d run one by one: %s", key[0], code, e)
            f = None
        self._fused[key] = f
        return f

    def _match_plain(self, rules: Iterable[CompiledRule], e: SyscallEvent | PluginEvent) -> list[Alert]:
        out: list[Alert] = []
        for r in rules:
            try:
                matched = r.match(e)
            except Exception:  # noqa: BLE001 - a broken extractor must never stop the agent
                self.stats.eval_errors += 1
                continue
            if matched:
                out.append(self.alert(r, e))
                if not self.match_all:
                    break
        return out

    def alert(self, r: CompiledRule, e: SyscallEvent | PluginEvent) -> Alert:
        msg, fields = r.output.render(e)
        extra = {}
        for key, fmt in r.extra_fields:
            if len(fmt.parts) == 1 and not isinstance(fmt.parts[0], str) and fmt.text == "%" + key:
                extra.update(fmt.fields(e))
            else:
                extra[key] = fmt.message(e)
        a = Alert(e.ts, r.name, r.priority, r.source, msg, fields, r.tags, self.hostname, extra)
        st = self.stats
        st.alerts += 1
        st.by_priority[r.priority] = st.by_priority.get(r.priority, 0) + 1
        st.by_rule[r.name] = st.by_rule.get(r.name, 0) + 1
        if self.on_alert is not None:
            self.on_alert(a)
        if self.on_match is not None:
            self.on_match(a, e)
        return a
