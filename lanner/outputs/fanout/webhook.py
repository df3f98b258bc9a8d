"""Generic webhook (Falco's JSON alert, or sidekick's with ``format: sidekick``, the default of the sidekick
shape) and Prometheus Alertmanager.

Alertmanager gets sidekick's body, a list with one alert ``POST <url><endpoint>`` (``/api/v2/alerts``):
labels = every string or numeric output field (names made label-safe), ``source: falco``, ``rule``,
``alertname`` (the rule), ``eventsource``, ``hostname``, ``tags``, ``priority``, ``severity`` (sidekick's map,
``custom_severity_map`` overrides) and ``extra_labels``; annotations ``info``/``description`` (the output),
``summary`` (the rule) and ``extra_annotations``; ``endsAt`` = alert time + ``expires_after_s`` (else Go's zero
time, as sidekick sends it). Falco's drop alerts (``n_drops*`` fields) get sidekick's thresholds:
``drop_event_thresholds`` (``"10000:critical, 1000:critical, 100:critical, 10:warning, 1:warning"``) raise the
priority and the label shows ``>N``; ``drop_event_default_priority`` (critical) for counts below every threshold.
"""

from __future__ import annotations

import re
import time
from typing import Any

from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.outputs.fanout.falcopayload import as_json
from lanner.outputs.fanout.httpbase import HttpTarget


class WebhookTarget(HttpTarget):
    type_name = "webhook"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self.format = str(options.get("format") or "falco").lower()
        if self.format not in ("falco", "sidekick"):
            raise ValueError(f"format must be falco or sidekick, not {self.format!r}")

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        """Falco's JSON alert (``format: falco``), or sidekick's (``sidekick``: uuid, its field order)."""
        method = str(self.options.get("method", "POST")).upper()
        import orjson
        if self.format == "sidekick":
            body = orjson.dumps(as_json(event, alert), default=str)
        else:
            body = orjson.dumps(event, default=str, option=orjson.OPT_SORT_KEYS)
        self.post(self.url, body, {"Content-Type": "application/json"}, method=method)


_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")
_SEVERITY = {Priority.EMERGENCY: "critical", Priority.ALERT: "critical", Priority.CRITICAL: "critical",
             Priority.ERROR: "warning", Priority.WARNING: "warning", Priority.NOTICE: "information",
             Priority.INFORMATIONAL: "information", Priority.DEBUG: "information"}
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
DEFAULT_THRESHOLDS = "10000:critical, 1000:critical, 100:critical, 10:warning, 1:warning"


def label_name(key: str) -> str:
    """Sidekick's label-safe name: unsafe characters as ``_``, ``__`` folded once, no leading/trailing ``_``."""
    return _UNSAFE.sub("_", key).replace("__", "_").strip("_")


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + "Z"


def parse_thresholds(text: str) -> list[tuple[int, Priority]]:
    """``"N:priority, ..."`` -> [(N, priority)], largest N first; a malformed entry is a ValueError."""
    out = []
    for item in (t.strip() for t in str(text).replace(" ", "").split(",")):
        if not item:
            continue
        n, _, prio = item.partition(":")
        try:
            out.append((int(n), Priority.parse(prio)))
        except ValueError:
            raise ValueError(f"drop_event_thresholds: bad entry {item!r} (want N:priority)") from None
    return sorted(out, key=lambda t: -t[0])


def _go_number(v: Any) -> str | None:
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        return None
    return v if isinstance(v, str) else str(v)


class AlertmanagerTarget(HttpTarget):
    type_name = "alertmanager"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self.thresholds = parse_thresholds(str(options.get("drop_event_thresholds") or DEFAULT_THRESHOLDS))
        try:
            self.drop_default = Priority.parse(str(options.get("drop_event_default_priority") or "critical"))
            self.severity = {Priority.parse(str(k)): str(v)
                             for k, v in (options.get("custom_severity_map") or {}).items()}
        except ValueError as e:
            raise ValueError(f"alertmanager: {e}") from None

    def payload(self, event: dict[str, Any], alert: Alert) -> list[dict[str, Any]]:
        prio = alert.priority
        labels: dict[str, str] = {}
        for k, v in (event.get("output_fields") or {}).items():
            if k.startswith("n_evts"):
                continue
            sv = _go_number(v)
            if k.startswith("n_drop"):
                if sv is None or not sv.lstrip("-").isdigit():
                    continue
                d = int(sv)
                shown = ""
                if d == 0:
                    prio = min(prio, Priority.WARNING)      # lower enum value = more severe
                    shown = "0"
                else:
                    for n, p in self.thresholds:
                        if d > n:
                            shown = f">{n}"
                            prio = min(prio, p)
                            break
                if not shown:
                    shown = sv
                    prio = min(prio, self.drop_default)
                labels[k] = shown
                continue
            if sv is not None:
                labels[label_name(k)] = sv
        labels.update({"source": "falco", "rule": alert.rule, "alertname": alert.rule, "eventsource": event["source"]})
        if event.get("hostname"):
            labels["hostname"] = event["hostname"]
        if event.get("tags"):
            labels["tags"] = ",".join(sorted(event["tags"]))
        labels["priority"] = prio.canonical
        labels["severity"] = self.severity.get(prio, _SEVERITY[prio])
        labels.update({str(k): str(v) for k, v in (self.options.get("extra_labels") or {}).items()})
        annotations = {"info": event["output"], "description": event["output"], "summary": alert.rule}
        annotations.update({str(k): str(v) for k, v in (self.options.get("extra_annotations") or {}).items()})
        ends = GO_ZERO_TIME
        if self.options.get("expires_after_s"):
            ends = _iso(alert.time_ns / 1e9 + float(self.options["expires_after_s"]))
        return [{"labels": labels, "annotations": annotations, "endsAt": ends}]

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        endpoint = "/" + str(self.options.get("endpoint") or "/api/v2/alerts").lstrip("/")
        url = self.url.rstrip("/")
        if not url.endswith(endpoint):
            url += endpoint
        self.post_json(url, self.payload(event, alert))
