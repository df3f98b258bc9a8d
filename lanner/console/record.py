"""One alert as the console stores it: Falco's JSON alert document flattened into the columns it filters on."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from typing import Any

from lanner.core.errors import LannerError

PRIORITIES = ("Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug")
_PRIO_RANK = {p.lower(): i for i, p in enumerate(PRIORITIES)}
_PRIO_RANK["info"] = 6

# the breakdown dimensions and the output fields each is read from (first present wins)
DIMENSIONS: dict[str, tuple[str, ...]] = {
    "image": ("container.image.repository", "container.image", "ka.req.pod.containers.image.repository"),
    "namespace": ("k8s.ns.name", "ka.target.namespace"),
    "pod": ("k8s.pod.name", "ka.target.name"),
    "container": ("container.name", "container.id"),
}
_ISO = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?$")


class RecordError(LannerError, ValueError):
    """A posted document is not a Falco alert; the message says which key is wrong."""


@dataclass
class Record:
    time_ns: int
    rule: str
    priority: str
    source: str = "syscall"
    hostname: str = ""
    output: str = ""
    tags: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    image: str = ""
    namespace: str = ""
    pod: str = ""
    container: str = ""

    @property
    def rank(self) -> int:
        return _PRIO_RANK.get(self.priority.lower(), 7)


def parse_time(text: str) -> int:
    """Falco's ``time`` key (RFC 3339, nanoseconds) as ns since the epoch."""
    m = _ISO.match(text.strip())
    if not m:
        raise RecordError(f"'time': not an RFC 3339 timestamp: {text!r}")
    y, mo, d, h, mi, s, frac, tz = m.groups()
    secs = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s), 0, 0, 0))
    if tz and tz != "Z":
        sign = -1 if tz[0] == "+" else 1
        tz = tz[1:].replace(":", "")
        secs += sign * (int(tz[:2]) * 3600 + int(tz[2:]) * 60)
    return secs * 1_000_000_000 + int((frac or "0").ljust(9, "0"))


def _scalar(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, list | tuple):
        return ",".join(_scalar(x) for x in v)
    return str(v)


def from_alert_json(doc: Any) -> Record:
    """A :class:`Record` from one alert as Falco prints/posts it (``json_output: true``)."""
    if not isinstance(doc, dict):
        raise RecordError("an alert must be a JSON object")
    rule = doc.get("rule")
    if not isinstance(rule, str) or not rule:
        raise RecordError("'rule': missing or not a string")
    prio = doc.get("priority", "")
    if not isinstance(prio, str) or prio.lower() not in _PRIO_RANK:
        raise RecordError(f"'priority': unknown priority {prio!r}")
    fields = doc.get("output_fields") or {}
    if not isinstance(fields, dict):
        raise RecordError("'output_fields': not an object")
    t = doc.get("time")
    if isinstance(t, str):
        time_ns = parse_time(t)
    elif isinstance(fields.get("evt.time"), int):
        time_ns = int(fields["evt.time"])
    else:
        raise RecordError("'time': missing")
    tags = doc.get("tags") or []
    if not isinstance(tags, list):
        raise RecordError("'tags': not a list")
    canon = next((p for p in PRIORITIES if p.lower() == prio.lower()), "Informational")
    r = Record(time_ns=time_ns, rule=rule, priority=canon, source=str(doc.get("source") or "syscall"),
               hostname=str(doc.get("hostname") or ""), output=str(doc.get("output") or doc.get("message") or ""),
               tags=sorted({str(x) for x in tags}), fields=fields)
    for dim, keys in DIMENSIONS.items():
        for k in keys:
            v = _scalar(fields.get(k))
            if v and v != "<NA>":
                setattr(r, dim, v)
                break
    return r
