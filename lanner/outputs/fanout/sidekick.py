"""falcosidekick's configuration shape, translated into lanner fan-out entries.

A sidekick ``config.yaml`` (top-level ``slack:``, ``webhook:``, ``aws: {sqs: ...}`` sections plus the global
``customfields``, ``customtags``, ``templatedfields``, ``bracketreplacer``, ``outputfieldformat``,
``mutualtlsclient``...) is read as sidekick reads it: keys case-insensitive, sidekick's defaults, an output
started only when its required options are non-empty, and ``SECTION_OPTION`` environment variables
(``SLACK_WEBHOOKURL``) overriding the file. Every key must be one sidekick knows: a misspelling is an
error naming the file, the section and the nearest option. A sidekick output that lanner lacks is an error
when it is enabled (its required options set), and silently off otherwise, as in sidekick.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lanner.config import ConfigError
from lanner.core.priority import Priority
from lanner.outputs.fanout.gotemplate import Template, TemplateError
from lanner.outputs.fanout.registry import SPECS, OutputSpec
from lanner.outputs.fanout.sidekick_keys import ENABLE, KEYS, SERVER_KEYS

log = logging.getLogger("lanner.outputs")

_GLOBAL_SCALARS = ("customfields", "customtags", "templatedfields", "bracketreplacer", "outputfieldformat",
                   "mutualtlsfilespath", "mutualtlsclient", "tlsclient")
_OUTPUT_RE = re.compile(r"(?i)[0-9:]+\.[0-9]+: (Debug|Informational|Notice|Warning|Error|Critical|Alert|Emergency) .*")


def nearest(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` or empty."""
    m = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{m[0]}'?)" if m else ""


@dataclass
class Globals:
    """Sidekick's alert-wide settings, applied to every alert before any output sees it."""

    customfields: dict[str, str] = field(default_factory=dict)
    customtags: list[str] = field(default_factory=list)
    templatedfields: dict[str, Template] = field(default_factory=dict)
    bracketreplacer: str = ""
    outputfieldformat: str = ""

    def active(self) -> bool:
        return bool(self.customfields or self.customtags or self.templatedfields or self.bracketreplacer
                    or self.outputfieldformat)

    def apply(self, event: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``event`` changed as sidekick's handler changes an incoming alert."""
        ev = dict(event)
        fields = dict(ev.get("output_fields") or {})
        custom = " ".join(f"{k}={v}" for k, v in self.customfields.items())
        fields.update(self.customfields)
        tags = list(ev.get("tags") or []) + self.customtags
        templated_parts = []
        for k, t in self.templatedfields.items():
            v = t.render(fields, _map_resolve)
            templated_parts.append(f"{k}={v}")
            fields[k] = v
        if self.bracketreplacer:
            for k in [k for k in fields if "[" in k]:
                fields[k.replace("]", "").replace("[", self.bracketreplacer)] = fields.pop(k)
        out = ev.get("output", "")
        if self.outputfieldformat and _OUTPUT_RE.match(out):
            parts = out.split(" ")
            if len(parts) >= 3:
                n = self.outputfieldformat
                for key, val in (("<timestamp>", parts[0].removesuffix(":")), ("<priority>", ev["priority"]),
                                 ("<output>", " ".join(parts[2:])), ("<custom_fields>", custom),
                                 ("<templated_fields>", " ".join(templated_parts)),
                                 ("<tags>", ",".join(sorted(tags)))):
                    n = n.replace(key, val)
                n = n.removesuffix(" ").removesuffix("( )").removesuffix("()").removesuffix(" ")
                ev["output"] = n
        ev["output_fields"] = fields
        ev["tags"] = sorted(tags)
        return ev


def _map_resolve(obj: Any, name: str) -> Any:
    from lanner.outputs.fanout.gotemplate import NO_VALUE
    return obj.get(name, NO_VALUE) if isinstance(obj, dict) else NO_VALUE


@dataclass
class Translation:
    entries: list[dict[str, Any]]
    globals: Globals
    not_applied: list[str]


def _lower(where: str, doc: Any, schema: dict[str, Any], path: str) -> dict[str, Any]:
    """Lower-case the keys of a sidekick mapping, checking each against sidekick's schema."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: falcosidekick section '{path or '(top)'}' must be a mapping, "
                          f"not {type(doc).__name__}")
    out: dict[str, Any] = {}
    for k, v in doc.items():
        key = str(k).lower()
        if key not in schema:
            sect = f"section '{path}'" if path else "top level"
            raise ConfigError(f"{where}: falcosidekick {sect}: unknown option '{k}'{nearest(key, schema)}")
        kind = schema[key]
        if isinstance(kind, dict):
            out[key] = _lower(where, v if v is not None else {}, kind, f"{path}.{key}" if path else key)
        else:
            out[key] = v
    return out


def _section(doc: dict[str, Any], path: str) -> dict[str, Any]:
    node: Any = doc
    for p in path.split("."):
        node = node.get(p) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _env_value(kind: str, raw: str) -> Any:
    """An environment string as viper would cast it for the option's kind."""
    if kind == "bool":
        return raw.strip().lower() in ("1", "true", "yes", "on", "t")
    if kind == "int":
        try:
            return int(raw.strip() or 0)
        except ValueError:
            return raw
    if kind == "map":
        return dict(kv.split(":", 1) for kv in raw.split(",") if ":" in kv)
    if kind == "list":
        return [x for x in raw.replace(" ", "").split(",") if x]
    return raw


_ENV_GLOBALS = ("customfields", "templatedfields", "customtags", "bracketreplacer", "outputfieldformat",
                "mutualtlsfilespath")


def _env_overlay(doc: dict[str, Any], env: dict[str, str]) -> list[str]:
    """Apply ``SECTION_OPTION`` variables (``SLACK_WEBHOOKURL``, ``AWS_SQS_URL``, ``AWS_REGION``) as sidekick's
    viper does, cast to the option's kind; returns the names used."""
    used: list[str] = []

    def walk(schema: dict[str, Any], node: dict[str, Any], prefix: str) -> None:
        for opt, kind in schema.items():
            if isinstance(kind, dict):
                child = node.get(opt)
                sub = child if isinstance(child, dict) else {}
                walk(kind, sub, f"{prefix}{opt.upper()}_")
                if sub and not isinstance(child, dict):
                    node[opt] = sub
                continue
            name = prefix + opt.upper()
            if prefix and name in env:
                node[opt] = _env_value(kind, env[name])
                used.append(name)

    walk(KEYS, doc, "")
    for g in _ENV_GLOBALS:
        if g.upper() in env:
            value = _env_value(KEYS[g], env[g.upper()])
            if isinstance(value, dict) and isinstance(doc.get(g), dict):
                value = {**doc[g], **value}
            doc[g] = value
            used.append(g.upper())
    return used


def _set(value: Any) -> bool:
    return value not in (None, "", [], {}, False, 0)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


def _globals(where: str, doc: dict[str, Any]) -> Globals:
    g = Globals()
    cf = doc.get("customfields") or {}
    if not isinstance(cf, dict):
        raise ConfigError(f"{where}: falcosidekick 'customfields' must be a mapping")
    for k, v in cf.items():
        sv = str(v)
        if sv.startswith("%"):     # sidekick: a value starting with % names an environment variable
            if sv[1:] not in os.environ:
                raise ConfigError(f"{where}: falcosidekick customfields.{k}: environment variable {sv[1:]} is not set")
            sv = os.environ[sv[1:]]
        g.customfields[str(k)] = sv
    tags = doc.get("customtags") or []
    g.customtags = [t.strip() for t in (tags.split(",") if isinstance(tags, str) else tags) if str(t).strip()]
    for k, v in (doc.get("templatedfields") or {}).items():
        try:
            g.templatedfields[str(k)] = Template(str(v))
        except TemplateError as e:
            raise ConfigError(f"{where}: falcosidekick templatedfields.{k}: {e}") from None
    g.bracketreplacer = str(doc.get("bracketreplacer") or "")
    g.outputfieldformat = str(doc.get("outputfieldformat") or "")
    return g


def _tls_files(doc: dict[str, Any]) -> dict[str, str]:
    """Client certificate options for ``mutualtls: true`` outputs (sidekick's global mutual TLS settings)."""
    m = doc.get("mutualtlsclient") or {}
    base = str(doc.get("mutualtlsfilespath") or "/etc/certs").rstrip("/")
    return {"client_cert": str(m.get("certfile") or f"{base}/client.crt"),
            "client_key": str(m.get("keyfile") or f"{base}/client.key"),
            "ca_cert": str(m.get("cacertfile") or f"{base}/ca.crt")}


def _entries(where: str, spec: OutputSpec, doc: dict[str, Any], not_applied: list[str]) -> list[dict[str, Any]]:
    path = spec.sidekick
    sect = _section(doc, path)
    if not all(_set(sect.get(k)) for k in spec.enable):
        return []
    values = {**spec.defaults, **{k: v for k, v in sect.items() if v is not None}}
    entry: dict[str, Any] = {"type": spec.type, "name": path}
    accepted = spec.accepted()
    if "." in path and spec.parent:
        parent = _section(doc, path.rsplit(".", 1)[0])
        for k, target in spec.parent.items():
            if _set(parent.get(k)) or parent.get(k) is False:
                entry[target] = parent[k]
        for k, v in parent.items():
            if not isinstance(v, dict) and k not in spec.parent and k in spec.ignored and _set(v):
                not_applied.append(f"{path.rsplit('.', 1)[0]}.{k}")
    ca = str(_section(doc, "tlsclient").get("cacertfile") or "")
    if ca and "ca_cert" in accepted:
        entry["ca_cert"] = ca
    multi: list[Any] = []
    for k, v in values.items():
        if isinstance(v, dict) and k not in spec.rename:
            continue
        if k == "minimumpriority":
            if _set(v):
                try:
                    Priority.parse(str(v))
                except ValueError:
                    raise ConfigError(f"{where}: falcosidekick {path}.minimumpriority: invalid priority {v!r} "
                                      "(emergency alert critical error warning notice informational debug)") from None
                entry["min_priority"] = str(v)
        elif k == "checkcert":
            if not _bool(v) and "insecure" in accepted:
                entry["insecure"] = True
        elif k == "mutualtls":
            if _bool(v) and "client_cert" in accepted:
                entry.update(_tls_files(doc))
        elif k == "maxconcurrentrequests":
            continue
        elif k in spec.rename:
            if isinstance(v, list) and spec.rename[k] == "url":
                multi = [str(x) for x in v if str(x)]
                if len(multi) == 1:
                    entry["url"], multi = multi[0], []
            elif _set(v) or isinstance(v, bool):
                entry[spec.rename[k]] = v
        elif _set(v) and spec.defaults.get(k) != v:
            not_applied.append(f"{path}.{k}")
    for k in spec.defaults:
        if k not in spec.rename and k not in _keys_of(path):
            entry[k] = spec.defaults[k]     # a lanner option set only for sidekick-shaped configs
    if multi:
        return [{**entry, "url": u, "name": path if i == 0 else f"{path}-{i + 1}"} for i, u in enumerate(multi)]
    return [entry]


def _keys_of(path: str) -> dict[str, Any]:
    node: Any = KEYS
    for p in path.split("."):
        node = node.get(p, {}) if isinstance(node, dict) else {}
    return node if isinstance(node, dict) else {}


def translate(where: str, raw: Any, env: dict[str, str] | None = None) -> Translation:
    """Lanner fan-out entries for a sidekick-shaped document; ``where`` names the file (and key)."""
    doc = _lower(where, raw if raw is not None else {}, KEYS, "")
    used = _env_overlay(doc, dict(os.environ) if env is None else env)
    if used:
        log.info("falcosidekick settings from the environment: %s", ", ".join(sorted(used)))
    not_applied: list[str] = [k for k in SERVER_KEYS if k in doc]
    entries: list[dict[str, Any]] = []
    known = {s.sidekick for s in SPECS if s.sidekick}
    for spec in SPECS:
        if spec.sidekick:
            entries.extend(_entries(where, spec, doc, not_applied))
    for sect, required in ENABLE.items():
        if sect in known:
            continue
        values = _section(doc, sect)
        if all(_set(values.get(k)) for k in required):
            have = ", ".join(sorted(s.sidekick for s in SPECS if s.sidekick))
            raise ConfigError(f"{where}: falcosidekick output '{sect}' is enabled ({', '.join(required)} set) but "
                              f"lanner has no such output; lanner's sidekick outputs: {have}")
    g = _globals(where, doc)
    for e in entries:     # sidekick makes its custom and templated fields Loki labels
        if e["type"] == "loki" and (g.customfields or g.templatedfields):
            names = e.get("label_fields") or []
            names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
            e["label_fields"] = [*names, *g.customfields, *g.templatedfields]
        if e["type"] == "timescaledb" and (g.customfields or g.templatedfields):    # and columns
            e["columns"] = [*g.customfields, *g.templatedfields]
    return Translation(entries, g, not_applied)
