"""Collect phase of rule loading: YAML items into the shared state of lists, macros and rules.

Implements rules-file.md sections 2-8 and 10: item kinds, key decoding, definitions, legacy ``append``,
``override`` (append/replace per key), enable-only items, exceptions and version requirements. Every
definition, append or replace takes the next value of one global counter: a name's *position* is its
first definition (evaluation order), its *last touch* the latest change (visibility of nested lists and
macros). Compilation of the collected state lives in ``rules.builder``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from lanner.core.priority import Priority
from lanner.rules import operators
from lanner.rules.definitions import ExceptionDef, ListDef, MacroDef, PluginRequirement, RuleDef, RulesState
from lanner.rules.operators import MODIFIERS, Rhs
from lanner.rules.reader import (
    Ctx,
    Mapping,
    compose_documents,
    get_bool,
    get_scalar,
    get_string_seq,
    get_uint,
    is_null,
    scalar_text,
)
from lanner.rules.result import FileResult, Location
from lanner.rules.versions import parse_semver, version_compatible
from lanner.version import ENGINE_VERSION

_LIST_NAME = re.compile(r"[^()\"'\s=,]+")
_MACRO_NAME = re.compile(r"[a-zA-Z]+[a-zA-Z0-9_]*")
_APPEND_DEPRECATED = ("'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under "
                      "'override' instead.")
_APPEND_CONFLICT = ("Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. "
                    "'condition: append') under 'override' instead.")
_RULE_KEYS = ("rule", "desc", "condition", "output", "priority", "source", "enabled", "tags", "exceptions",
              "warn_evttypes", "skip-if-unknown-filter", "capture", "capture_duration", "append", "override")
_OVERRIDE_APPEND = ("condition", "output", "desc", "tags", "exceptions")
_OVERRIDE_REPLACE = ("condition", "output", "desc", "tags", "exceptions", "priority", "enabled", "warn_evttypes",
                     "skip-if-unknown-filter", "capture", "capture_duration")


class Collector:
    """Reads one file's items into a RulesState. ``field_checker(source, field) -> bool`` validates
    exception fields; ``known_sources`` tells which rule sources are loaded."""

    def __init__(self, state: RulesState, known_sources: set[str], field_checker: Any = None) -> None:
        self.state = state
        self.known_sources = known_sources
        self.field_checker = field_checker
        self.documents: list[yaml.Node] | None = None   # non-null documents, once the YAML parsed

    def load(self, filename: str, text: str, result: FileResult) -> None:
        """Collect every item of the file; raises LoadError at the first error (warnings go to result)."""
        self.result = result
        root = Ctx(filename, text, (Location("rules content", "", filename),))
        documents = list(compose_documents(text, filename))
        self.documents = [d for d in documents if not is_null(d)]
        for doc in documents:
            if doc is None or is_null(doc):
                continue
            if isinstance(doc, yaml.ScalarNode):
                raise root.error("LOAD_ERR_YAML_VALIDATE", "Rules content is not yaml")
            if isinstance(doc, yaml.MappingNode):
                raise root.error("LOAD_ERR_YAML_VALIDATE", "Rules content is not yaml array of objects")
            for item in doc.value:
                if is_null(item):
                    continue
                if not isinstance(item, yaml.MappingNode):
                    raise root.sub("rules content item", "", item).error(
                        "LOAD_ERR_YAML_VALIDATE", "Unexpected element type. Each element should be a yaml "
                        "associative array.")
                self.item(Mapping(item), root)

    def warn(self, ctx: Ctx, code: str, message: str, node: yaml.Node | None = None) -> None:
        self.result.warnings.append(ctx.diag(code, message, node))

    def _unknown_keys(self, m: Mapping, ctx: Ctx, allowed: tuple[str, ...]) -> None:
        for k in m.entries:
            if k not in allowed:
                self.warn(ctx, "LOAD_UNKNOWN_KEY", f"Unknown key '{k}'. The key will be ignored.")

    # --- dispatch ------------------------------------------------------------------------------
    def item(self, m: Mapping, ctx: Ctx) -> None:
        if "required_engine_version" in m:
            self.engine_version(m, ctx.sub("required_engine_version", "", m.node))
        elif "required_plugin_versions" in m:
            self.plugin_versions(m, ctx.sub("required plugin versions", "", m.node))
        elif "list" in m:
            name = get_scalar(m, "list", ctx.sub("list", "", m.node), required=True) or ""
            self.list_item(m, name, ctx.sub("list", name, m.node))
        elif "macro" in m:
            name = get_scalar(m, "macro", ctx.sub("macro", "", m.node), required=True) or ""
            self.macro_item(m, name, ctx.sub("macro", name, m.node))
        elif "rule" in m:
            name = get_scalar(m, "rule", ctx.sub("rule", "", m.node), required=True) or ""
            self.rule_item(m, name, ctx.sub("rule", name, m.node))
        else:
            self.warn(ctx.sub("rules content item", "", m.node), "LOAD_UNKNOWN_ITEM", "Unknown top level item")

    # --- versions ------------------------------------------------------------------------------
    def engine_version(self, m: Mapping, ctx: Ctx) -> None:
        text = get_scalar(m, "required_engine_version", ctx, required=True) or ""
        t = text.strip()
        if t.isdigit() and int(t) <= 0xFFFFFFFF:
            need = (0, int(t), 0)
        else:
            v = parse_semver(t)
            if v is None:
                raise ctx.error("LOAD_ERR_YAML_VALIDATE", f"Unable to parse engine version '{text}' as a semver "
                                                          "string. Expected \"x.y.z\" semver format.")
            need = v
        if not version_compatible(ENGINE_VERSION, need):
            raise ctx.error("LOAD_ERR_VALIDATE", "Rules require engine version %d.%d.%d, but engine version is "
                            "%d.%d.%d" % (need + ENGINE_VERSION))
        self.state.engine_version_required = max(self.state.engine_version_required, need)
        self._unknown_keys(m, ctx, ("required_engine_version",))

    def plugin_versions(self, m: Mapping, ctx: Ctx) -> None:
        node = m.value("required_plugin_versions")
        if is_null(node):
            raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Mapping for key 'required_plugin_versions' is empty", node)
        if not isinstance(node, yaml.SequenceNode):
            raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Value of required_plugin_versions must be a sequence", node)
        for entry in node.value:
            ectx = ctx.sub("required plugin versions entry", "", entry)
            if not isinstance(entry, yaml.MappingNode):
                raise ectx.error("LOAD_ERR_YAML_VALIDATE", "Plugin version must be a mapping", entry)
            em = Mapping(entry)
            alts = [self._plugin_req(em, ectx)]
            if "alternatives" in em:
                anode = em.value("alternatives")
                if not isinstance(anode, yaml.SequenceNode):
                    raise ectx.error("LOAD_ERR_YAML_VALIDATE",
                                     "Value of plugin version alternatives must be a sequence", anode)
                for a in anode.value:
                    actx = ectx.sub("required plugin versions alternative", "", a)
                    if not isinstance(a, yaml.MappingNode):
                        raise actx.error("LOAD_ERR_YAML_VALIDATE", "Plugin version alternative must be a mapping", a)
                    alts.append(self._plugin_req(Mapping(a), actx))
            names = [n for n, _ in alts]
            for n in names:
                if names.count(n) > 1:
                    raise ectx.error("LOAD_ERR_VALIDATE",
                                     f"Defined multiple alternative version requirements for plugin '{n}'")
            self.state.plugin_requirements.append(PluginRequirement(alts, ectx.chain[-1]))
        self._unknown_keys(m, ctx, ("required_plugin_versions",))

    def _plugin_req(self, m: Mapping, ctx: Ctx) -> tuple[str, str]:
        name = get_scalar(m, "name", ctx, required=True) or ""
        version = get_scalar(m, "version", ctx, required=True) or ""
        if parse_semver(version) is None:
            raise ctx.error("LOAD_ERR_VALIDATE", f"Invalid required version '{version}' for plugin '{name}'")
        return name, version

    # --- override helpers ----------------------------------------------------------------------
    def _override_ops(self, m: Mapping, ctx: Ctx, appendable: tuple[str, ...],
                      replaceable: tuple[str, ...]) -> dict[str, str] | None:
        if "override" not in m:
            return None
        node = m.value("override")
        if is_null(node):
            raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Mapping for key 'override' is empty", node)
        if not isinstance(node, yaml.MappingNode):
            raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Value is not a mapping", node)
        ops: dict[str, str] = {}
        octx = ctx.sub("overrides", "", node)
        for k, v in node.value:
            key = k.value
            op = scalar_text(v, key, octx)
            allowed = [o for o, keys in (("append", appendable), ("replace", replaceable)) if key in keys]
            if op not in ("append", "replace"):
                if not allowed:
                    raise octx.error("LOAD_ERR_YAML_VALIDATE", f"Key '{key}' cannot be replaced", v)
                raise octx.error("LOAD_ERR_YAML_VALIDATE", f"Invalid override operation for key '{key}': "
                                 f"'{op}'. Allowed values are: " + "".join(a + " " for a in allowed), v)
            if op == "append" and key not in appendable:
                if key in replaceable:
                    raise octx.error("LOAD_ERR_YAML_VALIDATE",
                                     f"Key '{key}' cannot be appended to, use 'replace' instead", v)
                raise octx.error("LOAD_ERR_YAML_VALIDATE", f"Key '{key}' cannot be appended to", v)
            if op == "replace" and key not in replaceable:
                raise octx.error("LOAD_ERR_YAML_VALIDATE", f"Key '{key}' cannot be replaced", v)
            ops[key] = op
        return ops

    def _append_mode(self, m: Mapping, ctx: Ctx, key: str) -> bool:
        """Whether a list/macro item appends (legacy ``append: true`` or ``override: {key: append}``)."""
        ops = self._override_ops(m, ctx, (key,), (key,))
        append = self._legacy_append(m, ctx, ops)
        if ops:
            self._require_override_keys(m, ctx, ops)
            append = ops.get(key) == "append"
        return append

    @staticmethod
    def _require_override_keys(m: Mapping, ctx: Ctx, ops: dict[str, str]) -> None:
        for k, op in ops.items():
            if k not in m:
                raise ctx.error("LOAD_ERR_VALIDATE", f"An {op} override for '{k}' was specified but '{k}' is not "
                                                     "defined")

    def _legacy_append(self, m: Mapping, ctx: Ctx, ops: dict[str, str] | None) -> bool:
        append = get_bool(m, "append", ctx, False)
        if append and ops:
            raise ctx.error("LOAD_ERR_YAML_VALIDATE", _APPEND_CONFLICT)
        if append:
            self.warn(ctx, "LOAD_DEPRECATED_ITEM", _APPEND_DEPRECATED, m.entries["append"][0])
        return bool(append)

    # --- lists ---------------------------------------------------------------------------------
    def list_item(self, m: Mapping, name: str, ctx: Ctx) -> None:
        self._list_item(m, name, ctx)
        self._unknown_keys(m, ctx, ("list", "items", "append", "override"))

    def _list_item(self, m: Mapping, name: str, ctx: Ctx) -> None:
        if not _LIST_NAME.fullmatch(name):
            self.warn(ctx, "LOAD_INVALID_LIST_NAME", "List has an invalid name. List names should match a regular "
                      "expression: ([^()\"'[:space:]=,]+)")
        append = self._append_mode(m, ctx, "items")
        items = get_string_seq(m, "items", ctx)
        if items is None:
            raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Item has no mapping for key 'items'")
        st = self.state
        existing = st.lists.get(name)
        if append:
            if existing is None:
                raise ctx.error("LOAD_ERR_VALIDATE", "List uses 'append' or 'override.items: append' but no list by "
                                                     "that name already exists")
            existing.items.extend(items)
            existing.last_touch = st.tick()
            return
        t = st.tick()
        if existing is None:
            st.lists[name] = ListDef(name, list(items), t, t, ctx.chain[-1])
        else:
            existing.items = list(items)
            existing.last_touch = t

    # --- macros --------------------------------------------------------------------------------
    def macro_item(self, m: Mapping, name: str, ctx: Ctx) -> None:
        self._macro_item(m, name, ctx)
        self._unknown_keys(m, ctx, ("macro", "condition", "append", "override"))

    def _macro_item(self, m: Mapping, name: str, ctx: Ctx) -> None:
        if not _MACRO_NAME.fullmatch(name):
            self.warn(ctx, "LOAD_INVALID_MACRO_NAME", "Macro has an invalid name. Macro names should match a "
                      "regular expression: ([a-zA-Z]+[a-zA-Z0-9_]*)")
        append = self._append_mode(m, ctx, "condition")
        cond = get_scalar(m, "condition", ctx, required=True) or ""
        cond_loc = ctx.sub("macro condition", "", m.value("condition")).chain[-1]
        st = self.state
        existing = st.macros.get(name)
        if append:
            if existing is None:
                raise ctx.error("LOAD_ERR_VALIDATE", "Macro uses 'append' or 'override.condition: append' but no "
                                                     "macro by that name already exists")
            existing.condition = existing.condition + " " + cond
            existing.last_touch = st.tick()
            return
        t = st.tick()
        if existing is None:
            st.macros[name] = MacroDef(name, cond, t, t, ctx.chain[-1], cond_loc)
        else:
            existing.condition = cond
            existing.last_touch = t
            existing.loc = ctx.chain[-1]
            existing.cond_loc = cond_loc

    # --- rules ---------------------------------------------------------------------------------
    def rule_item(self, m: Mapping, name: str, ctx: Ctx) -> None:
        ops = self._override_ops(m, ctx, _OVERRIDE_APPEND, _OVERRIDE_REPLACE)
        if ops:
            if get_bool(m, "append", ctx, False):
                raise ctx.error("LOAD_ERR_YAML_VALIDATE", _APPEND_CONFLICT)
            self.rule_override(m, name, ctx, ops)
            return
        if get_bool(m, "append", ctx, False):
            self.warn(ctx, "LOAD_DEPRECATED_ITEM", _APPEND_DEPRECATED, m.entries["append"][0])
            self.rule_append(m, name, ctx)
            return
        if not any(k in m for k in ("condition", "output", "desc", "priority")):
            self.rule_enable_only(m, name, ctx)
        else:
            self.rule_define(m, name, ctx)
        self._unknown_keys(m, ctx, _RULE_KEYS)

    def _source(self, m: Mapping, ctx: Ctx, *, allow_empty: bool) -> str | None:
        if "source" not in m:
            return None
        node = m.value("source")
        if is_null(node) or (isinstance(node, yaml.ScalarNode) and node.value == ""):
            if allow_empty:
                return None
            raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Mapping for key 'source' is empty", node)
        return scalar_text(node, "source", ctx)

    def _check_source(self, existing: RuleDef, source: str | None, ctx: Ctx) -> None:
        if source and existing.source and source != existing.source:
            raise ctx.error("LOAD_ERR_VALIDATE", "Rule has been re-defined with a different source")

    def _priority(self, m: Mapping, ctx: Ctx) -> Priority:
        text = get_scalar(m, "priority", ctx, required=True) or ""
        try:
            return Priority.parse(text)
        except ValueError:
            raise ctx.sub("rule priority", "", m.value("priority")).error(
                "LOAD_ERR_YAML_VALIDATE", "Invalid priority") from None

    def rule_define(self, m: Mapping, name: str, ctx: Ctx) -> None:
        desc = get_scalar(m, "desc", ctx, required=True) or ""
        cond = get_scalar(m, "condition", ctx, required=True) or ""
        output = get_scalar(m, "output", ctx, required=True) or ""
        priority = self._priority(m, ctx)
        source = self._source(m, ctx, allow_empty=False) or "syscall"
        enabled = get_bool(m, "enabled", ctx, True)
        tags = get_string_seq(m, "tags", ctx) or []
        warn_evttypes = get_bool(m, "warn_evttypes", ctx, True)
        skip = get_bool(m, "skip-if-unknown-filter", ctx, False)
        capture = get_bool(m, "capture", ctx, False)
        capture_duration = get_uint(m, "capture_duration", ctx, 0)
        exceptions = self.read_exceptions(m, ctx, source, defining=True)
        st = self.state
        cond_loc = ctx.sub("rule condition", "", m.value("condition")).chain[-1]
        existing = st.rules.get(name)
        if existing is not None:
            self._check_source(existing, source, ctx)
            position = existing.position
        else:
            position = 0
        t = st.tick()
        rule = RuleDef(name, desc, cond, output.strip(), priority, source, position or t, ctx.chain[-1], cond_loc,
                       ctx, bool(enabled), set(tags), exceptions, bool(warn_evttypes), bool(skip), bool(capture),
                       capture_duration)
        rule.output_loc = ctx.sub("rule output", "", m.value("output")).chain[-1]
        st.rules[name] = rule

    def rule_enable_only(self, m: Mapping, name: str, ctx: Ctx) -> None:
        self.warn(ctx, "LOAD_DEPRECATED_ITEM", "The standalone 'enabled' key usage is deprecated. The correct approach "
                  "requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').", m.node)
        if "enabled" not in m:
            raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Item has no mapping for key 'enabled'")
        enabled = get_bool(m, "enabled", ctx, True)
        existing = self.state.rules.get(name)
        if existing is None:
            raise ctx.error("LOAD_ERR_VALIDATE", "Rule has 'enabled' key but no rule by that name already exists")
        existing.enabled = bool(enabled)
        self.state.tick()

    def rule_append(self, m: Mapping, name: str, ctx: Ctx) -> None:
        self._unknown_keys(m, ctx, _RULE_KEYS)
        source = self._source(m, ctx, allow_empty=True)
        existing = self.state.rules.get(name)
        if existing is None:
            raise ctx.error("LOAD_ERR_VALIDATE", "Rule uses 'append' or 'override.<key>: append' but no rule by "
                                                 "that name already exists")
        self._check_source(existing, source, ctx)
        cond = get_scalar(m, "condition", ctx, required=False)
        has_exc = "exceptions" in m
        if cond is None and not has_exc:
            raise ctx.error("LOAD_ERR_VALIDATE", "Appended rule must have exceptions or condition property")
        if cond is not None:
            existing.condition = existing.condition + " " + cond
        if has_exc:
            excs = self.read_exceptions(m, ctx, existing.source, defining=False)
            self.merge_exceptions(existing, excs, ctx)
        self.state.tick()

    def rule_override(self, m: Mapping, name: str, ctx: Ctx, ops: dict[str, str]) -> None:
        for k in m.entries:
            if k in ("rule", "source", "override"):
                continue
            if k in _OVERRIDE_REPLACE and k not in ops:
                raise ctx.error("LOAD_ERR_VALIDATE",
                                f"Unexpected key '{k}': no corresponding entry under 'override' is defined.")
            if k not in _OVERRIDE_REPLACE:
                self.warn(ctx, "LOAD_UNKNOWN_KEY", f"Unknown key '{k}'. The key will be ignored.", m.entries[k][0])
        self._require_override_keys(m, ctx, ops)
        source = self._source(m, ctx, allow_empty=True)
        existing = self.state.rules.get(name)
        if existing is None:
            op, key = next(((o, k) for k, o in ops.items() if o == "append"), (None, None))
            if op == "append":
                raise ctx.error("LOAD_ERR_VALIDATE", "Rule uses 'append' or 'override.<key>: append' but no rule "
                                                     "by that name already exists")
            key = next(iter(ops))
            raise ctx.error("LOAD_ERR_VALIDATE", f"An 'override.{key}: replace' to a rule was requested but no rule "
                                                 "by that name already exists")
        self._check_source(existing, source, ctx)
        appends = [k for k, o in ops.items() if o == "append"]
        replaces = [k for k, o in ops.items() if o == "replace"]
        for k in appends:
            if k in ("condition", "output", "desc"):
                text = get_scalar(m, k, ctx, required=True) or ""
                attr = k
                setattr(existing, attr, getattr(existing, attr) + " " + text)
            elif k == "tags":
                existing.tags |= set(get_string_seq(m, "tags", ctx) or [])
            elif k == "exceptions":
                excs = self.read_exceptions(m, ctx, existing.source, defining=False)
                self.merge_exceptions(existing, excs, ctx)
        for k in replaces:
            if k in ("condition", "output", "desc"):
                setattr(existing, k, get_scalar(m, k, ctx, required=True) or "")
                if k == "condition":
                    existing.cond_loc = ctx.sub("rule condition", "", m.value("condition")).chain[-1]
                if k == "output":
                    existing.output_loc = ctx.sub("rule output", "", m.value("output")).chain[-1]
            elif k == "tags":
                existing.tags = set(get_string_seq(m, "tags", ctx) or [])
            elif k == "exceptions":
                existing.exceptions = self.read_exceptions(m, ctx, existing.source, defining=False, replacing=True)
            elif k == "priority":
                existing.priority = self._priority(m, ctx)
            elif k == "enabled":
                existing.enabled = bool(get_bool(m, "enabled", ctx, True))
            elif k == "warn_evttypes":
                existing.warn_evttypes = bool(get_bool(m, k, ctx, True))
            elif k == "skip-if-unknown-filter":
                existing.skip_if_unknown_filter = bool(get_bool(m, k, ctx, False))
            elif k == "capture":
                existing.capture = bool(get_bool(m, k, ctx, False))
            elif k == "capture_duration":
                existing.capture_duration = get_uint(m, k, ctx, 0)
        self.state.tick()

    # --- exceptions ----------------------------------------------------------------------------
    def read_exceptions(self, m: Mapping, ctx: Ctx, source: str, *, defining: bool,
                        replacing: bool = False) -> list[ExceptionDef]:
        if "exceptions" not in m:
            return []
        node = m.value("exceptions")
        if is_null(node):
            return []
        ectx_all = ctx.sub("exceptions", "", node)
        if not isinstance(node, yaml.SequenceNode):
            raise ectx_all.error("LOAD_ERR_YAML_VALIDATE", "Rule exceptions must be a sequence", node)
        out: list[ExceptionDef] = []
        seen: set[str] = set()
        for enode in node.value:
            if not isinstance(enode, yaml.MappingNode):
                raise ectx_all.error("LOAD_ERR_YAML_VALIDATE", "Rule exception must be a mapping", enode)
            em = Mapping(enode)
            name = get_scalar(em, "name", ectx_all, required=True) or ""
            ectx = ectx_all.sub("exception", name, enode)
            fields = self._str_or_list(em, "fields", ectx)
            comps = self._str_or_list(em, "comps", ectx)
            values: list[Any] = []
            if "values" in em:
                vnode = em.value("values")
                if not is_null(vnode):
                    if not isinstance(vnode, yaml.SequenceNode):
                        raise ectx.error("LOAD_ERR_YAML_VALIDATE", "Rule exception values must be a sequence", vnode)
                    values = [self._exc_value(v, ectx) for v in vnode.value]
            elif not defining and not replacing:
                self.warn(ectx, "LOAD_APPEND_NO_VALUES", "Overriding/appending exception with no values", enode)
            exc = ExceptionDef(name, fields, comps, values, ectx.chain[-1])
            exc_has_values_key = "values" in em
            if name in seen:
                self.warn(ectx, "LOAD_EXCEPTION_NAME_NOT_UNIQUE",
                          f"Multiple definitions of exception '{name}' in the same rule", enode)
            seen.add(name)
            if defining or replacing:
                if fields is None:
                    raise ectx.error("LOAD_ERR_YAML_VALIDATE", "Item has no mapping for key 'fields'")
                if defining:
                    self.validate_exception(exc, ectx, source)
            exc.values_given = exc_has_values_key  # type: ignore[attr-defined]
            exc.ctx = ectx  # type: ignore[attr-defined]
            out.append(exc)
        return out

    def _str_or_list(self, m: Mapping, key: str, ctx: Ctx) -> str | list[str] | None:
        if key not in m:
            return None
        node = m.value(key)
        if isinstance(node, yaml.SequenceNode):
            out = []
            for item in node.value:
                if not isinstance(item, yaml.ScalarNode) or is_null(item):
                    raise ctx.error("LOAD_ERR_YAML_VALIDATE", "sequence value is not scalar", item)
                if item.value == "":
                    raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Value must be non-empty", item)
                out.append(item.value)
            return out
        return scalar_text(node, key, ctx)

    def _exc_value(self, node: yaml.Node, ctx: Ctx) -> Any:
        if isinstance(node, yaml.SequenceNode):
            return [self._exc_value(v, ctx) for v in node.value]
        if isinstance(node, yaml.ScalarNode) and not is_null(node):
            if node.value == "":
                raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Value must be non-empty", node)
            return node.value
        raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Value must be non-empty", node)

    def validate_exception(self, exc: ExceptionDef, ctx: Ctx, source: str) -> None:
        fields = exc.fields
        if isinstance(fields, list):
            if not fields:
                raise ctx.error("LOAD_ERR_VALIDATE", "Rule exception item must have fields property with a list "
                                                     "of fields")
            if exc.comps is None:
                exc.comps = ["="] * len(fields)
            elif not isinstance(exc.comps, list) or len(exc.comps) != len(fields):
                raise ctx.error("LOAD_ERR_VALIDATE", "Fields and comps lists must have equal length")
            for c in exc.comps:
                if not _valid_comp(c.strip()):
                    raise ctx.error("LOAD_ERR_VALIDATE", f"'{c.strip()}' is not a supported comparison operator")
            names = fields
        else:
            if exc.comps is None:
                exc.comps = "in"
            elif isinstance(exc.comps, list):
                raise ctx.error("LOAD_ERR_VALIDATE", "Fields and comps must both be strings")
            c = exc.comps.strip()
            if not _takes_list(c) and not _has_modifier(c):
                raise ctx.error("LOAD_ERR_VALIDATE", "When fields is a single value, comps must be one of (in, "
                                                     "pmatch, intersects) or a modifier operator (e.g. startswith "
                                                     "oneof)")
            assert fields is not None  # the callers refuse an exception without fields first
            names = [fields]
        if source in self.known_sources and self.field_checker is not None:
            for f in names:
                if not self.field_checker(source, f):
                    raise ctx.error("LOAD_ERR_VALIDATE", f"'{f}' is not a supported filter field")

    def merge_exceptions(self, rule: RuleDef, excs: list[ExceptionDef], ctx: Ctx) -> None:
        by_name = {e.name: e for e in rule.exceptions}
        for x in excs:
            xctx: Ctx = getattr(x, "ctx", ctx)
            cur = by_name.get(x.name)
            if cur is None:
                if x.fields is None:
                    raise xctx.error("LOAD_ERR_VALIDATE", "Rule exception must have fields property with a list of "
                                                          "fields")
                if not x.values:
                    raise xctx.error("LOAD_ERR_VALIDATE", "Rule exception must have values property with a list of "
                                                          "values")
                self.validate_exception(x, xctx, rule.source)
                rule.exceptions.append(x)
                by_name[x.name] = x
            else:
                if x.fields is not None:
                    raise xctx.error("LOAD_ERR_VALIDATE", "Can not append exception fields to existing exception, "
                                                          "only values")
                if x.comps is not None:
                    raise xctx.error("LOAD_ERR_VALIDATE", "Can not append exception comps to existing exception, "
                                                          "only values")
                cur.values.extend(x.values)


def _has_modifier(comp: str) -> bool:
    parts = comp.split()
    if len(parts) != 2 or parts[1] not in MODIFIERS:
        return False
    op = operators.get(parts[0])
    return op is not None and op.exceptions and op.modifiers


def _takes_list(comp: str) -> bool:
    op = operators.get(comp)
    return op is not None and op.exceptions and op.rhs is Rhs.LIST


def _valid_comp(comp: str) -> bool:
    op = operators.get(comp)
    return (op is not None and op.exceptions) or _has_modifier(comp)
