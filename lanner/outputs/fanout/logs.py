"""Log stores: Grafana Loki (push API), Elasticsearch/OpenSearch (document index API), OTLP logs.

* Loki: ``POST <url><endpoint>`` (``/loki/api/v1/push``) with one stream per alert, sidekick's labels
  ``rule``, ``source``, ``priority``, ``k8s_ns_name``, ``k8s_pod_name``, the string fields named in
  ``label_fields`` (sidekick's ``extralabels``, plus its customfields/templatedfields), ``hostname``, ``tags``,
  then lanner's constant ``extra_labels``; value ``[<ns as string>, <sidekick's JSON alert or the output>]``
  (``format: json|text``); ``tenant`` sets ``X-Scope-OrgID``.
* Elasticsearch/OpenSearch: ``POST <url>/<index>-YYYY.MM.DD/<type>`` (``index`` default ``falco``,
  ``suffix: daily|monthly|annually|none``, ``doc_type`` default ``_doc``, ``?pipeline=`` from ``pipeline``), sidekick's
  alert JSON plus ``@timestamp`` (``flatten_fields``: dots in field names as ``_``); auth by
  ``username``/``password`` or ``api_key`` (``Authorization: ApiKey``).
* OTLP: ``POST <url>/v1/logs`` (OTLP/HTTP JSON), one LogRecord per alert, severity mapped as the
  OpenTelemetry syslog mapping does, alert fields as attributes; ``service_name`` resource attribute.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import orjson

from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.outputs.fanout.falcopayload import as_json
from lanner.outputs.fanout.httpbase import HttpTarget


class LokiTarget(HttpTarget):
    type_name = "loki"

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        labels = {"rule": alert.rule, "source": event["source"], "priority": event["priority"]}
        fields = event.get("output_fields") or {}
        # as sidekick: the k8s namespace/pod, and the string fields named by label_fields, become labels
        names = self.options.get("label_fields") or []
        names = names.split(",") if isinstance(names, str) else names
        for key, label in (("k8s.ns.name", "k8s_ns_name"), ("k8s.pod.name", "k8s_pod_name"),
                           *((str(n).strip(), "") for n in names)):
            v = fields.get(key)
            if key and isinstance(v, str):
                labels[label or key.replace(".", "_").replace("]", "").replace("[", "")] = v.replace('"', "")
        if event.get("hostname"):
            labels["hostname"] = event["hostname"]
        if event.get("tags"):
            labels["tags"] = ",".join(sorted(event["tags"]))
        labels.update({str(k): str(v) for k, v in (self.options.get("extra_labels") or {}).items()})
        if str(self.options.get("format", "json")) == "text":
            line = event["output"]
        else:
            line = orjson.dumps(as_json(event, alert)).decode()
        return {"streams": [{"stream": labels, "values": [[str(alert.time_ns), line]]}]}

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        endpoint = "/" + str(self.options.get("endpoint") or "/loki/api/v1/push").lstrip("/")
        url = self.url.rstrip("/")
        if not url.endswith(endpoint):
            url += endpoint
        h = {"X-Scope-OrgID": str(self.options["tenant"])} if self.options.get("tenant") else None
        self.post_json(url, self.payload(event, alert), h)


_SUFFIX = {"daily": "%Y.%m.%d", "monthly": "%Y.%m", "annually": "%Y", "none": ""}


class ElasticsearchTarget(HttpTarget):
    type_name = "elasticsearch"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        if options.get("api_key"):
            self.headers["Authorization"] = "ApiKey " + str(options["api_key"])

    def index_name(self, alert: Alert) -> str:
        base = str(self.options.get("index", "falco"))
        fmt = _SUFFIX.get(str(self.options.get("suffix", "daily")), "%Y.%m.%d")
        return f"{base}-{time.strftime(fmt, time.gmtime(alert.time_ns / 1e9))}" if fmt else base

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        """Sidekick's document: its alert JSON plus ``@timestamp``; ``flatten_fields`` turns dots into ``_``."""
        doc = as_json(event, alert)
        if self.options.get("flatten_fields") in (True, "true", "True", "1"):
            doc["output_fields"] = {k.replace(".", "_"): v for k, v in doc["output_fields"].items()}
        doc["@timestamp"] = doc["time"]
        kind = str(self.options.get("doc_type") or "_doc").strip("/")
        url = f"{self.url.rstrip('/')}/{self.index_name(alert)}/{kind}"
        if self.options.get("pipeline"):
            url += "?pipeline=" + quote(str(self.options["pipeline"]), safe="")
        self.post_json(url, doc)


class OpenSearchTarget(ElasticsearchTarget):
    type_name = "opensearch"


OTEL_SEVERITY = {Priority.EMERGENCY: 21, Priority.ALERT: 19, Priority.CRITICAL: 18, Priority.ERROR: 17,
                 Priority.WARNING: 13, Priority.NOTICE: 10, Priority.INFORMATIONAL: 9, Priority.DEBUG: 5}


def _any_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list | tuple):
        return {"arrayValue": {"values": [_any_value(x) for x in v]}}
    return {"stringValue": "" if v is None else str(v)}


class OtlpLogsTarget(HttpTarget):
    type_name = "otlp"

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        attrs = [{"key": "falco.rule", "value": {"stringValue": alert.rule}},
                 {"key": "falco.priority", "value": {"stringValue": event["priority"]}},
                 {"key": "falco.source", "value": {"stringValue": event["source"]}},
                 {"key": "falco.tags", "value": _any_value(list(event.get("tags") or []))}]
        for k, v in sorted((event.get("output_fields") or {}).items()):
            attrs.append({"key": k, "value": _any_value(v)})
        record = {"timeUnixNano": str(alert.time_ns), "observedTimeUnixNano": str(time.time_ns()),
                  "severityNumber": OTEL_SEVERITY[alert.priority], "severityText": event["priority"],
                  "body": {"stringValue": event["output"]}, "attributes": attrs}
        resource = [{"key": "service.name", "value": {"stringValue": str(self.options.get("service_name", "lanner"))}},
                    {"key": "host.name", "value": {"stringValue": event["hostname"]}}]
        return {"resourceLogs": [{"resource": {"attributes": resource},
                                  "scopeLogs": [{"scope": {"name": "lanner"}, "logRecords": [record]}]}]}

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        url = self.url.rstrip("/")
        if not url.endswith("/v1/logs"):
            url += "/v1/logs"
        self.post_json(url, self.payload(event, alert))
