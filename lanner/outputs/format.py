"""Turning an :class:`Alert` into the text line or JSON object Falco prints (output-format.md 4-5)."""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import orjson

from lanner.core.alert import Alert

_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def json_escape_text(s: str) -> str:
    """JSON-string escaping without the surrounding quotes (Falco escapes the whole text line)."""
    out = []
    for ch in s:
        e = _ESC.get(ch)
        if e is not None:
            out.append(e)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        elif "\udc80" <= ch <= "\udcff":
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)


def _clean(s: str) -> str:
    """Replace lone surrogates (undecodable bytes kept by surrogateescape) with U+FFFD."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _clean_value(v: Any) -> Any:
    if isinstance(v, str):
        return _clean(v)
    if isinstance(v, list | tuple):
        return [_clean_value(x) for x in v]
    return v


def time_text(ns: int) -> str:
    """``%evt.time``: local ``HH:MM:SS.nnnnnnnnn``."""
    s, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%H:%M:%S", time.localtime(s)) + f".{frac:09d}"


def time_iso8601(ns: int) -> str:
    """``%evt.time.iso8601``: ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000`` (UTC)."""
    s, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{frac:09d}+0000"


def time_json(ns: int) -> str:
    """The JSON ``time`` key: ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`` (UTC)."""
    s, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{frac:09d}Z"


def default_hostname() -> str:
    return os.environ.get("FALCO_HOSTNAME") or socket.gethostname()


class AlertFormatter:
    """Renders alerts per the ``json_*`` and ``time_format_iso_8601`` options."""

    def __init__(self, *, json_output: bool = False, time_iso: bool = False, include_output: bool = True,
                 include_message: bool = False, include_fields: bool = True, include_tags: bool = True,
                 hostname: str | None = None) -> None:
        self.json_output = json_output
        self.time_iso = time_iso
        self.include_output = include_output
        self.include_message = include_message
        self.include_fields = include_fields
        self.include_tags = include_tags
        self.hostname = hostname if hostname is not None else default_hostname()

    @classmethod
    def from_config(cls, config: Any) -> AlertFormatter:
        return cls(
            json_output=config.bool("json_output", False),
            time_iso=config.bool("time_format_iso_8601", False),
            include_output=config.bool("json_include_output_property", True),
            include_message=config.bool("json_include_message_property", False),
            include_fields=config.bool("json_include_output_fields_property", True),
            include_tags=config.bool("json_include_tags_property", True),
        )

    def line(self, alert: Alert) -> str:
        """``<time>: <Priority> <message>`` (unescaped)."""
        t = time_iso8601(alert.time_ns) if self.time_iso else time_text(alert.time_ns)
        return f"{t}: {alert.priority.canonical} {alert.message}"

    def text(self, alert: Alert) -> str:
        if alert.source == "internal":
            return self.internal_text(alert)
        return json_escape_text(self.line(alert))

    @staticmethod
    def internal_text(alert: Alert) -> str:
        """Internal messages: local time always, ``(k=v ...)`` with JSON-encoded values, no escaping."""
        fields = " ".join(
            f"{k}={orjson.dumps(_clean_value(v), default=str).decode()}"
            for k, v in sorted(alert.output_fields.items()))
        return f"{time_text(alert.time_ns)}: {alert.priority.canonical} {alert.message} ({fields})"

    def internal_dict(self, alert: Alert) -> dict[str, Any]:
        """Internal messages always carry the same seven keys, whatever ``json_include_*`` say."""
        return {
            "hostname": alert.hostname or self.hostname,
            "output": _clean(alert.message),
            "output_fields": {k: _clean_value(v) for k, v in alert.output_fields.items()},
            "priority": alert.priority.canonical,
            "rule": alert.rule,
            "source": "internal",
            "time": time_json(alert.time_ns),
        }

    def as_dict(self, alert: Alert) -> dict[str, Any]:
        if alert.source == "internal":
            return self.internal_dict(alert)
        d: dict[str, Any] = {
            "hostname": alert.hostname or self.hostname,
            "priority": alert.priority.canonical,
            "rule": alert.rule,
            "source": alert.source,
            "time": time_json(alert.time_ns),
        }
        if self.include_output:
            d["output"] = _clean(self.line(alert))
        if self.include_message:
            d["message"] = _clean(alert.message)
        if self.include_fields:
            fields = {k: _clean_value(v) for k, v in alert.output_fields.items()}
            fields["evt.time.iso8601" if self.time_iso else "evt.time"] = alert.time_ns
            for k, v in alert.extra.items():
                fields[k] = _clean_value(v)
            d["output_fields"] = fields
        if self.include_tags and alert.source != "internal":
            d["tags"] = sorted(set(alert.tags))
        return d

    def json(self, alert: Alert) -> str:
        return orjson.dumps(self.as_dict(alert), option=orjson.OPT_SORT_KEYS, default=str).decode()

    def render(self, alert: Alert) -> str:
        return self.json(alert) if self.json_output else self.text(alert)
