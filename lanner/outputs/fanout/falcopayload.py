"""The alert as falcosidekick sees it (its ``FalcoPayload``), for outputs that format like sidekick.

Sidekick renders times with Go's ``time.Time.String()`` (``2026-01-05 14:03:21.123456789 +0000 UTC``) in
messages and RFC 3339 with trimmed nanoseconds in JSON, gives each alert a ``uuid``, and shows only the
output fields whose value is a string (numbers and nulls are skipped by its ``getSortedStringKeys``).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from lanner.core.alert import Alert
from lanner.outputs.fanout.gotemplate import NO_VALUE, Template

# the FalcoPayload struct fields a template may name, and the JSON key each maps to
FIELDS = {"UUID": "uuid", "Output": "output", "Priority": "priority", "Rule": "rule", "Time": "time",
          "OutputFields": "output_fields", "Source": "source", "Tags": "tags", "Hostname": "hostname"}


def go_time(ns: int) -> str:
    """Go's ``Time.String()`` for a UTC time: fractional seconds without trailing zeros."""
    s, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(s))
    f = f".{frac:09d}".rstrip("0") if frac else ""
    return f"{base}{f} +0000 UTC"


def go_rfc3339(ns: int) -> str:
    """Go's JSON encoding of a UTC ``time.Time`` (RFC 3339, nanoseconds without trailing zeros)."""
    s, frac = divmod(ns, 1_000_000_000)
    f = f".{frac:09d}".rstrip("0") if frac else ""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f + "Z"


def string_fields(event: dict[str, Any]) -> list[tuple[str, str]]:
    """The output fields sidekick lists in messages: string values only, sorted by name."""
    fields = event.get("output_fields") or {}
    return [(k, fields[k]) for k in sorted(fields) if isinstance(fields[k], str)]


def sorted_tags(event: dict[str, Any]) -> list[str]:
    return sorted(event.get("tags") or [])


def as_json(event: dict[str, Any], alert: Alert) -> dict[str, Any]:
    """Sidekick's JSON for an alert (its field order; ``uuid`` added, empty tags/hostname omitted)."""
    out: dict[str, Any] = {"uuid": event.get("uuid") or str(uuid.uuid4()), "output": event["output"],
                           "priority": event["priority"], "rule": event["rule"],
                           "time": go_rfc3339(alert.time_ns),
                           "output_fields": event.get("output_fields") or {}, "source": event["source"]}
    if event.get("tags"):
        out["tags"] = sorted_tags(event)
    if event.get("hostname"):
        out["hostname"] = event["hostname"]
    return out


class PayloadView:
    """What a ``messageformat`` template's ``.`` is: the alert with sidekick's field names."""

    def __init__(self, event: dict[str, Any], alert: Alert) -> None:
        self.event = event
        self.alert = alert

    def field(self, name: str) -> Any:
        if name == "Time":
            return go_time(self.alert.time_ns)
        if name == "Tags":
            return sorted_tags(self.event)
        if name == "UUID":
            return self.event.get("uuid", "")
        return self.event.get(FIELDS[name])


def resolve(obj: Any, name: str) -> Any:
    """Field lookup as Go's template does: struct field on the payload, key on a map."""
    if isinstance(obj, PayloadView):
        return obj.field(name)
    if isinstance(obj, dict):
        return obj.get(name, NO_VALUE)
    return NO_VALUE


def message_template(text: str) -> Template:
    """A ``messageformat`` template, checked against the payload's field names."""
    return Template(text, fields=lambda n: n in FIELDS)


def render_message(tmpl: Template, event: dict[str, Any], alert: Alert) -> str:
    return tmpl.render(PayloadView(event, alert), resolve)
