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
