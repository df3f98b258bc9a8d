"""The advisory JSON schema of rules files (rules-file.md 12). Its verdict only changes a log line
(``<file> | schema validation: ok|failed``); the loader's own checks decide whether a file loads."""

from __future__ import annotations

from typing import Any

import yaml

_OVERRIDE_OPS = {"type": "string", "enum": ["append", "replace"]}
_ITEM_PROPS: dict[str, Any] = {
    "required_engine_version": {"type": "string"},
    "required_plugin_versions": {"type": "array", "items": {
        "type": "object", "required": ["name", "version"],
        "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                       "alternatives": {"type": "array", "items": {
                           "type": "object", "required": ["name", "version"],
                           "properties": {"name": {"type": "string"}, "version": {"type": "string"}}}}}}},
    "macro": {"type": "string"}, "condition": {"type": "string"}, "list": {"type": "string"},
    "items": {"type": "array", "items": {"type": ["string", "integer"]}},
    "rule": {"type": "string"}, "desc": {"type": "string"}, "enabled": {"type": "boolean"},
    "output": {"type": "string"}, "append": {"type": "boolean"},
    "priority": {"type": "string", "enum": ["EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO",
                                            "INFORMATIONAL", "DEBUG"]},
    "capture": {"type": "boolean"}, "capture_duration": {"type": "integer"}, "source": {"type": "string"},
    "exceptions": {"type": "array", "items": {
        "type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "fields": {}, "comps": {}, "values": {}}}},
    "override": {"type": "object", "minProperties": 1, "additionalProperties": False,
                 "properties": {k: _OVERRIDE_OPS for k in (
                     "items", "condition", "output", "desc", "priority", "enabled", "tags", "exceptions",
                     "warn_evttypes", "skip-if-unknown-filter", "capture", "capture_duration")}},
    "tags": {"type": "array", "items": {"type": "string"}},
    "warn_evttypes": {"type": "boolean"}, "skip-if-unknown-filter": {"type": "boolean"},
}

RULES_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "lanner / Falco rules file",
    "type": "array",
    "items": {"type": "object", "additionalProperties": False, "properties": _ITEM_PROPS},
}


class _Constructor(yaml.constructor.SafeConstructor):
    """Safe construction of composed nodes, but YAML 1.1's ``=`` value tag (``comps: [=]``) stays a
    string."""


_Constructor.add_constructor("tag:yaml.org,2002:value", lambda c, node: c.construct_scalar(node))


def _untagged(c: _Constructor, node: Any) -> Any:
    """A local tag (``desc: != x`` reads as tag ``!=``) is ignored as yaml-cpp ignores it."""
    if isinstance(node, yaml.MappingNode):
        return c.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return c.construct_sequence(node)
    return c.construct_scalar(node)


_Constructor.add_constructor(None, _untagged)


def construct(node: Any) -> Any:
    """The Python value of a composed YAML document node."""
    return _Constructor().construct_document(node)


_LEAF_MESSAGES = {
    "type": "Value type not permitted by 'type' constraint.",
    "enum": "Failed to match against any enum values.",
    "required": "Object is missing a required property.",
    "minProperties": "Object should have at least the minimum number of properties.",
}


def schema_statuses(doc: Any) -> list[str]:
    """The schema verdict of one document as Falco's validator reports it: ``["ok"]``, or the chain of
    failures from the innermost value out to the root (``failed for <root>[0][rule]: ...``)."""
    try:
        import jsonschema
    except ImportError:
        return ["none"]
    if doc is None:
        return ["ok"]
    validator = jsonschema.Draft7Validator(RULES_SCHEMA)
    err = next(iter(sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))), None)
    if err is None:
        return ["ok"]
    path = list(err.absolute_path)

    def ctx(parts: list[Any]) -> str:
        return "<root>" + "".join(f"[{p}]" for p in parts)

    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        leaf = ("Object contains a property that could not be validated using 'properties' or "
                f"'additionalProperties' constraints: '{extra[0] if extra else ''}'.")
    else:
        leaf = _LEAF_MESSAGES.get(str(err.validator), str(err.message))
    out = [f"failed for {ctx(path)}: {leaf}"]
    for i in range(len(path) - 1, -1, -1):
        step = path[i]
        why = (f"Failed to validate item #{step} in array." if isinstance(step, int)
               else f"Failed to validate against schema associated with property name '{step}'.")
        out.append(f"failed for {ctx(path[:i])}: {why}")
    return out


def validate_rules_document(doc: Any) -> str:
    """``ok``, ``none`` (no validator available) or ``failed for <path>: <reason>``."""
    try:
        import jsonschema
    except ImportError:
        return "none"
    if doc is None:
        return "ok"
    validator = jsonschema.Draft7Validator(RULES_SCHEMA)
    err = next(iter(sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))), None)
    if err is None:
        return "ok"
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
    return f"failed for {path}: {err.message}"
