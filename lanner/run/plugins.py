"""Plugins as the run sees them: Falco's checks between loaded plugins and its listings of them.

The checks are Falco's ``init_inspectors`` rules: a plugin field that another field class already
provides for the same source is an error; a plugin compatible with no enabled source is loaded but
unused, which is an error too. The texts of ``--list-plugins`` and ``--plugin-info`` are Falco's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from lanner.core.errors import RunError

#: capability flags as plugin libraries report them (sources/plugins/library)
SOURCING, EXTRACTION, PARSING, ASYNC = 1, 2, 4, 8


def caps_of(p: Any) -> int:
    """Capability bits of a plugin object: a loaded library's own, else those of a built-in."""
    caps = getattr(p, "caps", None)
    if isinstance(caps, int):
        return caps
    out = SOURCING if getattr(p, "source", "") else 0
    if p.field_classes():
        out |= EXTRACTION
    return out


def is_source_compatible(sources: Iterable[str], source: str) -> bool:
    """libs: an empty list of sources means every source."""
    s = list(sources)
    return not s or source in s


def format_plugin_info(p: Any) -> str:
    """Falco's ``format_plugin_info`` block for one plugin."""
    caps = caps_of(p)
    lines = [f"Name: {p.name}", f"Description: {p.description}", f"Contact: {p.contact}",
             f"Version: {p.version}", "Capabilities: "]
    if caps & SOURCING:
        pid = int(getattr(p, "plugin_id", 0) or 0)
        lines.append(f"  - Event Sourcing (ID={pid}, source='{p.source}')" if pid
                     else "  - Event Sourcing (system events)")
    if caps & EXTRACTION:
        lines.append("  - Field Extraction")
    if caps & PARSING:
        lines.append("  - Event Parsing")
    if caps & ASYNC:
        lines.append("  - Async Events")
    return "\n".join(lines) + "\n"


def list_plugins_text(plugins: list[Any]) -> str:
    """``--list-plugins``: ``N Plugins Loaded:`` and one block per configured plugin."""
    body = "".join(format_plugin_info(p) + "\n" for p in plugins)
    return f"{len(plugins)} Plugins Loaded:\n\n{body}\n"


def plugin_info_text(p: Any, schema_type: str, schema: str) -> str:
    """``--plugin-info``: the info block and the init schema."""
    out = format_plugin_info(p) + "\n"
    out += "Init config schema type: "
    out += ("JSON\n" if schema_type == "JSON"
            else "Not available, plugin does not implement the init config schema functionality\n")
    return out + schema + "\n\n"


def open_params_text(open_params: list[dict[str, Any]]) -> str:
    """``--plugin-info`` of a source plugin, after its init: the open params it suggests."""
    if not open_params:
        return ("No suggested open params available: plugin has not been configured, or it does not "
                "implement the open params suggestion functionality\n\n")
    out = "Suggested open params:\n"
    for op in open_params:
        value, desc = str(op.get("value", "")), str(op.get("desc", ""))
        out += f"{value}: {desc}\n" if desc else f"{value}\n"
    return out + "\n"


def check_plugins(plugins: list[Any], sources: list[str], builtin_fields: dict[str, set[str]]) -> None:
    """Falco's start-up checks: overlapping plugin fields per source, and plugins that no enabled source uses.

    ``builtin_fields`` maps each source to the field names lanner itself provides for it.
    """
    used: set[str] = set()
    for src in sources:
        seen = {n: "" for n in builtin_fields.get(src, set())}
        for p in plugins:
            caps = caps_of(p)
            is_input = bool(caps & SOURCING) and p.source == src
            ext = getattr(p, "extract_sources", ())
            compatible = is_input or (caps & EXTRACTION and is_source_compatible(ext, src)) or \
                (caps & PARSING and is_source_compatible(getattr(p, "parse_sources", ()), src)) or \
                (caps & ASYNC and is_source_compatible(getattr(p, "async_sources", ()), src))
            if not compatible:
                continue
            used.add(p.name)
            if not caps & EXTRACTION or not (is_input or is_source_compatible(ext, src)):
                continue
            names = [f.name for c in p.field_classes() for f in c.fields]
            for n in names:
                if n in seen:
                    raise RunError(f"Plugin '{p.name}' supports extraction of field '{n}' that is overlapping for "
                                   f"source '{src}'")
            for n in names:
                seen[n] = p.name
    for p in plugins:
        if p.name not in used:
            raise RunError(f"Plugin '{p.name}' is loaded but unused as not compatible with any known event source")


def open_params_of(p: Any) -> list[dict[str, Any]]:
    lister = getattr(p, "list_open_params", None)
    if lister is None:
        return []
    try:
        out = lister()
    except Exception:  # noqa: BLE001 - listing is advisory
        return []
    return out if isinstance(out, list) else []


def schema_of(p: Any) -> tuple[str, str]:
    kind = getattr(p, "init_schema_kind", None)
    if kind is not None:
        return kind(), p.init_schema()
    get = getattr(p, "init_schema", None)
    text = get() if get is not None else ""
    if not text:
        return "", ""
    try:
        json.loads(text)
    except ValueError:
        return "", text
    return "JSON", text
