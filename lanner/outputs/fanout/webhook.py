"""Generic webhook (Falco's JSON alert, as Falcosidekick's ``webhook``) and Prometheus Alertmanager.

Alertmanager gets its v2 API body, a list of alerts ``POST <url>/api/v2/alerts``: labels
``alertname`` (the rule), ``priority``, ``severity``, ``source``, ``hostname``, ``rule`` plus every
output field (names sanitised to ``[a-zA-Z0-9_]``), annotations ``info`` (output) and ``summary``;
``startsAt`` = alert time; ``endsAt`` = time + ``expires_after_s`` when that option is set;
``endpoint`` replaces the API path (sidekick's ``alertmanager.endpoint``).
"""

from __future__ import annotations

import re
import time
from typing import Any

from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.outputs.fanout.httpbase import HttpTarget


class WebhookTarget(HttpTarget):
    type_name = "webhook"

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        method = str(self.options.get("method", "POST")).upper()
        import orjson
        self.post(self.url, orjson.dumps(event, default=str, option=orjson.OPT_SORT_KEYS),
                  {"Content-Type": "application/json"}, method=method)


_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_SEVERITY = {Priority.EMERGENCY: "critical", Priority.ALERT: "critical", Priority.CRITICAL: "critical",
             Priority.ERROR: "error", Priority.WARNING: "warning", Priority.NOTICE: "information",
             Priority.INFORMATIONAL: "information", Priority.DEBUG: "information"}


def label_name(key: str) -> str:
    n = _LABEL.sub("_", key)
    return "_" + n if n[:1].isdigit() else n


def _iso(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + "Z"


class AlertmanagerTarget(HttpTarget):
    type_name = "alertmanager"

    def payload(self, event: dict[str, Any], alert: Alert) -> list[dict[str, Any]]:
        labels: dict[str, str] = {}
        for k, v in (event.get("output_fields") or {}).items():
            if v is not None and k not in ("evt.time", "evt.time.iso8601"):
                labels[label_name(k)] = str(v)
        labels.update({"alertname": alert.rule, "rule": alert.rule, "priority": event["priority"],
                       "severity": _SEVERITY[alert.priority], "source": event["source"],
                       "hostname": event["hostname"]})
        if event.get("tags"):
            labels["tags"] = ",".join(event["tags"])
        start = alert.time_ns / 1e9
        am: dict[str, Any] = {"labels": labels, "annotations": {"info": event["output"], "summary": alert.rule},
                              "startsAt": event["time"]}
        if self.options.get("expires_after_s"):
            am["endsAt"] = _iso(start + float(self.options["expires_after_s"]))
        return [am]

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        endpoint = "/" + str(self.options.get("endpoint") or "/api/v2/alerts").lstrip("/")
        url = self.url.rstrip("/")
        if not url.endswith(endpoint):
            url += endpoint
        self.post_json(url, self.payload(event, alert))
