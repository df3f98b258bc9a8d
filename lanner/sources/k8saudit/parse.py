"""Turning webhook bodies and file lines into audit events.

A payload is one JSON value: an audit ``Event``, an ``EventList`` (``items``), or a JSON array of those.
Anything else is "not a k8s audit event" (the k8saudit plugin's wording). Each accepted event becomes
``(ts_ns, data, obj)``: its time (``stageTimestamp``, else ``requestReceivedTimestamp``), the compact
JSON bytes and the parsed dict (so field extraction does not parse it again).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from lanner.sources.api import SourceError

DEFAULT_MAX_EVENT_SIZE = 262144
DEFAULT_MAX_BATCH_SIZE = 12582912


class AuditParseError(SourceError):
    """A payload that is not JSON or not an audit Event/EventList."""


@dataclass(slots=True)
class AuditRecord:
    ts: int
    data: bytes
    obj: dict[str, Any]


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9})\d*)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$")


def rfc3339_to_ns(text: str) -> int:
    """``2018-10-26T13:42:46.764713Z`` -> ns since the epoch. ValueError if the text is not RFC 3339."""
    m = _RFC3339.match(text.strip())
    if not m:
        raise ValueError(f"invalid RFC 3339 timestamp {text!r}")
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s <= 60):
        raise ValueError(f"invalid RFC 3339 timestamp {text!r}")
    frac = m.group(7) or ""
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    if m.group(9):
        off = (int(m.group(10)) * 60 + int(m.group(11))) * 60
        secs -= off if m.group(9) == "+" else -off
    return secs * 1_000_000_000 + int(frac.ljust(9, "0") or 0)


def event_time_ns(ev: dict[str, Any]) -> int:
    """The time of an audit event; AuditParseError when it carries no usable timestamp."""
    for k in ("stageTimestamp", "requestReceivedTimestamp"):
        v = ev.get(k)
        if isinstance(v, str):
            try:
                return rfc3339_to_ns(v)
            except ValueError as e:
                raise AuditParseError(f"{k}: {e}") from None
    raise AuditParseError("can't read stageTimestamp")


def loads(data: bytes | str) -> Any:
    """Parse one JSON document; AuditParseError (with orjson's position) when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise AuditParseError(f"invalid JSON: {e}") from None


def split_events(value: Any) -> list[dict[str, Any]]:
    """The audit events in a parsed payload; AuditParseError if it is not Event/EventList/array."""
    if isinstance(value, list):
        out: list[dict[str, Any]] = []
        for v in value:
            out.extend(split_events(v))
        return out
    if isinstance(value, dict):
        kind = value.get("kind")
        if kind == "EventList":
            items = value.get("items")
            if isinstance(items, list):
                return [i for i in items if isinstance(i, dict)]
            raise AuditParseError("EventList without an items array")
        if kind == "Event":
            return [value]
        return _reject(f"kind {kind!r}" if "kind" in value else "no kind")
    return _reject(f"a JSON {type(value).__name__}")


def _reject(what: str) -> list[dict[str, Any]]:
    raise AuditParseError(f"data not recognized as a k8s audit event ({what})")


def to_records(events: list[dict[str, Any]], max_event_size: int,
               on_error: Callable[[str], None], where: str = "") -> list[AuditRecord]:
    """Encode each event; events without a timestamp, larger than ``max_event_size`` or that cannot be
    re-encoded (orjson stops at 255 levels of nesting) are reported through ``on_error`` and skipped
    (one bad event never drops its neighbours)."""
    out = []
    for i, ev in enumerate(events):
        try:
            ts = event_time_ns(ev)
        except AuditParseError as e:
            on_error(f"{where}event {i}: {e}")
            continue
        try:
            data = orjson.dumps(ev)
        except (orjson.JSONEncodeError, TypeError) as e:    # nested deeper than 255 levels, odd keys
            on_error(f"{where}event {i}: cannot be encoded: {e}")
            continue
        if len(data) > max_event_size:
            on_error(f"{where}event {i}: event larger than maxEventSize: size={len(data)}")
            continue
        out.append(AuditRecord(ts, data, ev))
    return out
