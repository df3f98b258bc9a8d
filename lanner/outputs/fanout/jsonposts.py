"""Outputs that post sidekick's JSON alert, or a thin wrapper of it, to one address, as falcosidekick does:
n8n, Node-RED, Tekton (an EventListener), Falco Talon, falcosidekick-ui, Grafana OnCall and Grafana annotations.

* n8n, Node-RED, Tekton, Talon: ``POST <url>`` with the alert JSON; basic auth when ``username`` and
  ``password`` are both set; n8n's ``header_auth_name``/``header_auth_value`` add that header.
* falcosidekick-ui: ``POST <url>`` with ``{"event": <alert>, "outputs": [<the configured targets>]}``.
* Grafana OnCall (formatted webhook integration): ``{"alert_uid", "state": "alerting", "title": "[<Priority>] <rule>",
  "message": <output>}``.
* Grafana annotations: ``POST <url>/api/annotations`` with ``Authorization: Bearer <api_key>``; the output as text,
  the alert time (ms) as time and timeEnd, tags ``falco``, priority, rule, source, hostname (and with
  ``all_fields_as_tags`` every output field value and the alert's tags), ``dashboard_id``/``panel_id`` if set.
"""

from __future__ import annotations

from typing import Any

from lanner.core.alert import Alert
from lanner.outputs.fanout.falcopayload import as_json
from lanner.outputs.fanout.gotemplate import go_str
from lanner.outputs.fanout.httpbase import HttpTarget


class JsonPostTarget(HttpTarget):
    """The alert as sidekick's JSON, to ``url``."""

    type_name = "n8n"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        if options.get("username") and not options.get("password"):
            options = {k: v for k, v in options.items() if k != "username"}   # sidekick: both or no basic auth
        super().__init__(name, options)
        if options.get("header_auth_name") and options.get("header_auth_value"):
            self.headers[str(options["header_auth_name"])] = str(options["header_auth_value"])

    def body(self, event: dict[str, Any], alert: Alert) -> Any:
        return as_json(event, alert)

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.post_json(self.url, self.body(event, alert))


class NodeRedTarget(JsonPostTarget):
    type_name = "nodered"


class TektonTarget(JsonPostTarget):
    type_name = "tekton"


class TalonTarget(JsonPostTarget):
    type_name = "talon"


class WebUiTarget(JsonPostTarget):
    """falcosidekick-ui; ``peers`` (the names of every configured target) is filled in by the fan-out builder."""

    type_name = "webui"
    peers: list[str]

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self.peers = []

    def body(self, event: dict[str, Any], alert: Alert) -> Any:
        return {"event": as_json(event, alert), "outputs": list(self.peers)}


class GrafanaOnCallTarget(JsonPostTarget):
    type_name = "grafanaoncall"

    def body(self, event: dict[str, Any], alert: Alert) -> Any:
        j = as_json(event, alert)
        return {"alert_uid": j["uuid"], "state": "alerting", "title": f"[{event['priority']}] {event['rule']}",
                "message": event["output"]}


class GrafanaTarget(HttpTarget):
    type_name = "grafana"
    required = ("url", "api_key")

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self.endpoint = self.url.rstrip("/") + "/api/annotations"
        self.headers["Authorization"] = f"Bearer {options['api_key']}"

    def body(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        tags = ["falco", event["priority"], event["rule"], event["source"]]
        if event.get("hostname"):
            tags.append(event["hostname"])
        if self.options.get("all_fields_as_tags") in (True, "true", "True", "1"):
            tags += [go_str(v) for v in (event.get("output_fields") or {}).values()]
            tags += list(event.get("tags") or [])
        ms = alert.time_ns // 1_000_000
        out: dict[str, Any] = {}
        for key, opt in (("dashboardId", "dashboard_id"), ("panelId", "panel_id")):
            if int(self.options.get(opt) or 0):
                out[key] = int(self.options[opt])
        out.update({"time": ms, "timeEnd": ms, "tags": tags, "text": event["output"]})
        return out

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.post_json(self.endpoint, self.body(event, alert))


class SumoLogicTarget(JsonPostTarget):
    """Sumo Logic HTTP source: the alert JSON, ``X-Sumo-Category``/``-Host``/``-Name`` from the options."""

    type_name = "sumologic"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        for opt, header in (("source_category", "X-Sumo-Category"), ("source_host", "X-Sumo-Host"),
                            ("source_name", "X-Sumo-Name")):
            if options.get(opt):
                self.headers[header] = str(options[opt])


class OpenObserveTarget(JsonPostTarget):
    """OpenObserve: ``POST <url>/api/<organization>/<stream>/_multi`` with the alert JSON."""

    type_name = "openobserve"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        org = str(options.get("organization") or "default")
        stream = str(options.get("stream") or "falco")
        self.url = f"{self.url.rstrip('/')}/api/{org}/{stream}/_multi"


class KafkaRestTarget(JsonPostTarget):
    """Confluent REST proxy: ``{"records": [{"value": <base64 alert JSON>}]}`` as ``vnd.kafka.binary.v<2|1>+json``."""

    type_name = "kafkarest"

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        import base64

        import orjson
        version = 1 if str(self.options.get("version") or 2) == "1" else 2
        value = base64.b64encode(orjson.dumps(as_json(event, alert))).decode()
        self.post(self.url, orjson.dumps({"records": [{"value": value}]}),
                  {"Content-Type": f"application/vnd.kafka.binary.v{version}+json"})


class CloudRunTarget(JsonPostTarget):
    """A Cloud Run / Cloud Functions (2nd gen) endpoint: the alert JSON with ``Authorization: Bearer <jwt>``."""

    type_name = "gcpcloudrun"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        if options.get("jwt"):
            self.headers["Authorization"] = f"Bearer {options['jwt']}"


class CloudEventsTarget(JsonPostTarget):
    """CloudEvents 1.0 over HTTP, binary mode: ``ce-*`` headers (type ``falco.rule.output.v1``, source
    ``https://falco.org``, extensions ``priority``, ``rule``, ``eventsource``, ``hostname`` and ``extensions``),
    the alert JSON as the body."""

    type_name = "cloudevents"

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        body = as_json(event, alert)
        headers = {"ce-specversion": "1.0", "ce-id": body["uuid"], "ce-source": "https://falco.org",
                   "ce-type": "falco.rule.output.v1", "ce-time": body["time"],
                   "ce-priority": event["priority"], "ce-rule": event["rule"], "ce-eventsource": event["source"]}
        if event.get("hostname"):
            headers["ce-hostname"] = event["hostname"]
        for k, v in (self.options.get("extensions") or {}).items():
            headers[f"ce-{str(k).lower()}"] = str(v)
        self.post_json(self.url, body, headers)


class ZincSearchTarget(JsonPostTarget):
    """ZincSearch: ``POST <url>/api/<index>/_doc`` with the alert JSON (basic auth)."""

    type_name = "zincsearch"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self.url = f"{self.url.rstrip('/')}/api/{options.get('index') or 'falco'}/_doc"


class QuickwitTarget(JsonPostTarget):
    """Quickwit: ``POST <url>/<api_endpoint>/<index>/ingest`` (``api/v1``, ``falco``) with the alert JSON."""

    type_name = "quickwit"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        api = str(options.get("api_endpoint") or "api/v1").strip("/")
        self.url = f"{self.url.rstrip('/')}/{api}/{options.get('index') or 'falco'}/ingest"
