"""Incident and observability services, with falcosidekick's payloads: PagerDuty, Opsgenie, Datadog,
Splunk HEC, Telegram.

Each sends what sidekick sends, to the endpoint the service documents; ``url`` overrides the service's
API base (a proxy, a private endpoint, or a test receiver).

* PagerDuty (Events API v2): ``POST {base}/v2/enqueue``, a ``trigger`` event with severity ``critical``,
  source ``falco``, the output as summary and the output fields (plus hostname) as custom details.
  Options ``routing_key``, ``region`` (``us`` or ``eu``).
* Opsgenie (Alert API): ``POST {base}/v2/alerts`` with ``Authorization: GenieKey <key>``; message = output,
  description = rule, P1 (emergency, alert) to P5 (notice and below), details = string fields (dots as
  ``_``), source, rule, priority, hostname, tags. Options ``api_key``, ``region`` (``us``/``eu``), ``entity``.
* Datadog (Events API v1): ``POST {base}/api/v1/events`` with the ``DD-API-KEY`` header; title = rule,
  text = output, alert type error/warning/info, tags ``field:value``... Options ``api_key``, ``site``
  (``datadoghq.eu``...) or ``url``.
* Splunk HTTP Event Collector: ``POST <url>`` (``/services/collector/event`` added to a bare host) with
  ``Authorization: Splunk <token>``; body ``{"event": <sidekick's alert JSON>, "sourcetype": "falcosidekick"}``.
* Telegram (Bot API ``sendMessage``): ``POST {base}/bot<token>/sendMessage`` with ``chat_id``, optional
  ``message_thread_id``, and sidekick's MarkdownV2 text.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import urlsplit

import orjson

from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.outputs.fanout.falcopayload import as_json, go_time, sorted_tags, string_fields
from lanner.outputs.fanout.gotemplate import go_str
from lanner.outputs.fanout.httpbase import HttpTarget


def _region(options: dict[str, Any]) -> str:
    r = str(options.get("region") or "us").lower()
    if r not in ("us", "eu"):
        raise ValueError(f"region must be us or eu, not {r!r}")
    return r


def _base(options: dict[str, Any], default: str) -> str:
    return str(options.get("url") or default).rstrip("/")


class PagerdutyTarget(HttpTarget):
    type_name = "pagerduty"
    required = ("routing_key",)

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        eu = _region(options) == "eu"
        self.endpoint = _base(options, "https://events.eu.pagerduty.com" if eu else "https://events.pagerduty.com")
        self.endpoint += "/v2/enqueue"

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        details = dict(event.get("output_fields") or {})
        if event.get("hostname"):
            details["hostname"] = event["hostname"]
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(alert.time_ns // 1_000_000_000))   # Go's RFC3339
        return {"routing_key": str(self.options["routing_key"]), "event_action": "trigger",
                "payload": {"summary": event["output"], "source": "falco", "severity": "critical",
                            "timestamp": stamp, "custom_details": details}}

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.post_json(self.endpoint, self.payload(event, alert))


_OPSGENIE_PRIORITY = {Priority.EMERGENCY: "P1", Priority.ALERT: "P1", Priority.CRITICAL: "P2", Priority.ERROR: "P3",
                      Priority.WARNING: "P4"}


class OpsgenieTarget(HttpTarget):
    type_name = "opsgenie"
    required = ("api_key",)

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        eu = _region(options) == "eu"
        self.endpoint = _base(options, "https://api.eu.opsgenie.com" if eu else "https://api.opsgenie.com")
        self.endpoint += "/v2/alerts"

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        details = {k.replace(".", "_"): v for k, v in string_fields(event)}
        details.update({"source": event["source"], "rule": event["rule"], "priority": event["priority"]})
        if event.get("hostname"):
            details["hostname"] = event["hostname"]
        if event.get("tags"):
            details["tags"] = ", ".join(sorted_tags(event))
        return {"message": event["output"], "entity": str(self.options.get("entity") or "lanner"),
                "description": event["rule"], "details": details,
                "priority": _OPSGENIE_PRIORITY.get(alert.priority, "P5")}

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.post_json(self.endpoint, self.payload(event, alert),
                       {"Authorization": f"GenieKey {self.options['api_key']}"})


class DatadogTarget(HttpTarget):
    type_name = "datadog"
    required = ("api_key",)

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        site = str(options.get("site") or "datadoghq.com")
        self.endpoint = _base(options, f"https://api.{site}") + "/api/v1/events"

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        tags = [f"{k}:{v}" for k, v in string_fields(event)]
        tags += [f"source:{event['source']}", "source:falco"]
        if event.get("hostname"):
            tags.append(f"hostname:{event['hostname']}")
        tags += sorted_tags(event)
        if alert.priority <= Priority.ERROR:
            kind = "error"
        elif alert.priority == Priority.WARNING:
            kind = "warning"
        else:
            kind = "info"
        return {"title": event["rule"], "text": event["output"], "alert_type": kind, "source_type_name": "falco",
                "tags": tags}

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.post_json(self.endpoint, self.payload(event, alert), {"DD-API-KEY": str(self.options["api_key"])})


class SplunkTarget(HttpTarget):
    type_name = "splunk"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        if urlsplit(self.url).path in ("", "/"):
            self.url = self.url.rstrip("/") + "/services/collector/event"

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        headers = {"Authorization": f"Splunk {self.options['token']}"} if self.options.get("token") else None
        self.post_json(self.url, {"event": as_json(event, alert), "sourcetype": "falcosidekick"}, headers)


_MDV2 = str.maketrans({c: "\\" + c for c in "_*[]()~`>#+-=|{}.!"})


def mdv2(value: Any) -> str:
    """Telegram MarkdownV2 escaping of a value printed as Go's ``%v`` (nil as ``<nil>``)."""
    return ("<nil>" if value is None else go_str(value)).translate(_MDV2)


def telegram_text(event: dict[str, Any], alert: Alert) -> str:
    """Sidekick's Telegram message (MarkdownV2): header, time, source, hostname, tags, every field, output."""
    fields = event.get("output_fields") or {}
    head = (f"*\\[Falco\\] \\[{mdv2(event['priority'])}\\] {mdv2(event['rule'])}*\n\n"
            f"\u2022 *Time*: {mdv2(go_time(alert.time_ns))}\n\u2022 *Source*: {mdv2(event['source'])}\n"
            f"\u2022 *Hostname*: {mdv2(event.get('hostname') or '')}\n"
            f"\u2022 *Tags*: {''.join(mdv2(t) + ' ' for t in sorted_tags(event))}\n\u2022 *Fields*:\n")
    body = "".join(f"\t  \u2022 *{mdv2(k)}*: {mdv2(fields[k])}\n" for k in sorted(fields))
    return f"{head}{body}\n\n**Output**: {mdv2(event['output'])}\n"


class TelegramTarget(HttpTarget):
    type_name = "telegram"
    required = ("token", "chat_id")

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self.endpoint = f"{_base(options, 'https://api.telegram.org')}/bot{options['token']}/sendMessage"

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        body: dict[str, Any] = {"text": telegram_text(event, alert), "parse_mode": "MarkdownV2",
                                "disable_web_page_preview": True, "chat_id": str(self.options["chat_id"])}
        if self.options.get("message_thread_id"):
            body["message_thread_id"] = str(self.options["message_thread_id"])
        return body

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.post_json(self.endpoint, self.payload(event, alert))


class DatadogLogsTarget(HttpTarget):
    """Datadog Logs intake: ``POST {base}/api/v2/logs`` with ``DD-API-KEY``; the alert JSON as the message,
    ``ddsource: falco``, ``hostname``, ``service``, the tags as ``ddtags``."""

    type_name = "datadoglogs"
    required = ("api_key",)

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        site = str(options.get("site") or "datadoghq.com")
        self.endpoint = _base(options, f"https://http-intake.logs.{site}") + "/api/v2/logs"

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        import orjson
        body: dict[str, Any] = {"ddsource": "falco"}
        if event.get("hostname"):
            body["hostname"] = event["hostname"]
        if self.options.get("service"):
            body["service"] = str(self.options["service"])
        body["message"] = orjson.dumps(as_json(event, alert)).decode()
        if event.get("tags"):
            body["ddtags"] = ",".join(sorted_tags(event))
        return body

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.post_json(self.endpoint, self.payload(event, alert), {"DD-API-KEY": str(self.options["api_key"])})


def gotify_message(event: dict[str, Any], alert: Alert, markdown: bool) -> str:
    """Sidekick's Gotify message: priority, rule, output, source, tags, time, then every output field."""
    fields = event.get("output_fields") or {}
    tags = "".join(f"{t} " for t in sorted_tags(event))
    rows = [("Priority", event["priority"]), ("Rule", event["rule"]), ("Output", event["output"]),
            ("Source", event["source"]), ("Tags", tags), ("Time", go_time(alert.time_ns))]
    if markdown:
        head = "".join(f"- **{k}**: {v}\n" for k, v in rows) + "- **Fields**:\n"
        return head + "".join(f"\t- **{k}**: {go_str(fields[k])}\n" for k in sorted(fields))
    head = "".join(f"{k}: {v}\n" for k, v in rows) + "Fields:\n"
    return head + "".join(f"- {k}: {go_str(fields[k])}\n" for k in sorted(fields))


class GotifyTarget(HttpTarget):
    """Gotify: ``POST <url>/message`` with ``X-Gotify-Key``; ``format`` markdown (default), text or json."""

    type_name = "gotify"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self.endpoint = self.url.rstrip("/") + "/message"
        self.format = str(options.get("format") or "markdown").lower()
        if self.format not in ("markdown", "text", "plaintext", "json"):
            raise ValueError(f"format must be markdown, text or json, not {self.format!r}")

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        import orjson
        if self.format == "json":
            message, kind = orjson.dumps(as_json(event, alert)).decode(), "plaintext"
        elif self.format in ("text", "plaintext"):
            message, kind = gotify_message(event, alert, False), "plaintext"
        else:
            message, kind = gotify_message(event, alert, True), "markdown"
        return {"title": f"[Falco] [{event['priority']}] {event['rule']}", "priority": 8 - int(alert.priority),
                "message": message, "extras": {"client::display": {"contentType": kind}}}

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        headers = {"X-Gotify-Key": str(self.options["token"])} if self.options.get("token") else None
        self.post_json(self.endpoint, self.payload(event, alert), headers)


_DT_FIELDS = {"container.id": "container.id", "container.name": "container.name",
              "container.image": "container.image.name", "k8s.ns.name": "k8s.namespace.name",
              "ka.target.namespace": "k8s.namespace.name", "k8s.pod.name": "k8s.pod.name",
              "k8s.pod.id": "k8s.pod.uid", "proc.name": "process.executable.name"}
_MITRE_TECHNIQUE = re.compile(r"T\d+\.?\d*")
_MITRE_TACTIC = re.compile(r"mitre_\w+")


class DynatraceTarget(HttpTarget):
    """Dynatrace Log ingest v2: ``POST <url>/v2/logs/ingest`` with ``Authorization: Api-Token``; one record with
    sidekick's attributes (event.*, severity, host.name, log.source, container/k8s/process fields, MITRE tags)."""

    type_name = "dynatrace"
    required = ("url", "api_token")

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self.endpoint = self.url.rstrip("/") + "/v2/logs/ingest"

    def payload(self, event: dict[str, Any], alert: Alert) -> list[dict[str, Any]]:
        j = as_json(event, alert)
        rec: dict[str, Any] = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(alert.time_ns // 10**9)),
                               "event.id": j["uuid"], "event.name": event["rule"], "event.provider": "Falco",
                               "severity": event["priority"]}
        if event.get("hostname"):
            rec["host.name"] = event["hostname"]
        rec["log.source"] = event["source"]
        content: dict[str, Any] = {"output": event["output"], "output_fields": j["output_fields"]}
        if event.get("tags"):
            content["tags"] = sorted_tags(event)
        rec["content"] = content
        for tag in sorted_tags(event):
            if _MITRE_TECHNIQUE.search(tag):
                rec["mitre.technique"] = tag
            elif _MITRE_TACTIC.search(tag):
                rec["mitre.tactic"] = tag
        for k, v in (event.get("output_fields") or {}).items():
            if k in _DT_FIELDS and isinstance(v, str) and v:
                rec[_DT_FIELDS[k]] = v
            elif k == "span.id" and v is not None:
                rec["span.id"] = go_str(v)
        return [rec]

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.post(self.endpoint, orjson.dumps(self.payload(event, alert)),
                  {"Content-Type": "application/json; charset=utf-8",
                   "Authorization": f"Api-Token {self.options['api_token']}"})
