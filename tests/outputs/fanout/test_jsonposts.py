"""n8n, Node-RED, Tekton, Talon, falcosidekick-ui, Grafana OnCall and Grafana annotations configured the
falcosidekick way: each request recorded at a loopback server."""

from __future__ import annotations

import base64

from lanner.config import Config
from lanner.core.priority import Priority
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from tests.outputs.helpers import RecordingServer, make_alert

KEYS = ["uuid", "output", "priority", "rule", "time", "output_fields", "source", "tags", "hostname"]


def test_json_posts(http_server: RecordingServer) -> None:
    u = http_server.url
    alert = make_alert(1, Priority.ERROR)
    out = AlertFormatter(hostname="node1").as_dict(alert)["output"]
    p = OutputPipeline.from_config(Config(data={"fanout": {
        "n8n": {"address": u + "/n8n", "user": "u", "password": "p", "headerauthname": "X-Auth",
                "headerauthvalue": "s3"},
        "nodered": {"address": u + "/nodered", "user": "only-user", "customheaders": {"X-Flow": "f"}},
        "tekton": {"eventlistener": u + "/tekton"},
        "talon": {"address": u + "/talon"},
        "webui": {"url": u + "/ui"},
        "grafanaoncall": {"webhookurl": u + "/oncall"},
        "grafana": {"hostport": u + "/g", "apikey": "gk", "dashboardid": 3, "allfieldsastags": True},
    }}), AlertFormatter(hostname="node1"))
    p.submit(alert)
    p.close()
    got = {r.path: r for r in http_server.wait_for(7)}
    assert len(got) == 7
    n8n = got["/n8n"]
    assert n8n.headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert n8n.headers["X-Auth"] == "s3" and list(n8n.json()) == KEYS and n8n.json()["output"] == out
    nr = got["/nodered"]
    assert "Authorization" not in nr.headers and nr.headers["X-Flow"] == "f"   # user without password: no auth
    for path in ("/tekton", "/talon"):
        assert got[path].json()["rule"] == "Test rule" and list(got[path].json()) == KEYS
    ui = got["/ui"].json()
    assert list(ui) == ["event", "outputs"] and ui["event"]["priority"] == "Error"
    assert sorted(ui["outputs"]) == ["grafana", "grafanaoncall", "n8n", "nodered", "talon", "tekton", "webui"]
    oncall = got["/oncall"].json()
    assert list(oncall) == ["alert_uid", "state", "title", "message"] and len(oncall["alert_uid"]) == 36
    assert oncall["state"] == "alerting" and oncall["title"] == "[Error] Test rule" and oncall["message"] == out
    g = got["/g/api/annotations"]
    assert g.headers["Authorization"] == "Bearer gk"
    ms = alert.time_ns // 1_000_000
    body = g.json()
    assert body["dashboardId"] == 3 and "panelId" not in body and body["time"] == ms == body["timeEnd"]
    assert body["text"] == out and body["tags"][:5] == ["falco", "Error", "Test rule", "syscall", "node1"]
    assert {"bash", "1", "container", "shell"} <= set(body["tags"][5:])


def test_sumologic_openobserve_kafkarest_cloudrun_cloudevents_datadoglogs(http_server: RecordingServer) -> None:
    u = http_server.url
    alert = make_alert(1, Priority.WARNING)
    p = OutputPipeline.from_config(Config(data={"fanout": {
        "sumologic": {"receiverurl": u + "/sumo", "sourcecategory": "sec", "sourcehost": "h", "name": "falco"},
        "openobserve": {"hostport": u + "/oo", "organizationname": "org1", "username": "a", "password": "b"},
        "kafkarest": {"address": u + "/topics/falco", "version": 2},
        "gcp": {"cloudrun": {"endpoint": u + "/run", "jwt": "jwt-token"}},
        "cloudevents": {"address": u + "/ce", "extensions": {"cluster": "eu1"}},
        "datadoglogs": {"apikey": "dd", "host": u + "/ddl/", "service": "falco-svc"},
    }}), AlertFormatter(hostname="node1"))
    p.submit(alert)
    p.close()
    got = {r.path: r for r in http_server.wait_for(6)}
    sumo = got["/sumo"]
    assert (sumo.headers["X-Sumo-Category"], sumo.headers["X-Sumo-Host"], sumo.headers["X-Sumo-Name"]) == (
        "sec", "h", "falco") and list(sumo.json()) == KEYS
    oo = got["/oo/api/org1/falco/_multi"]
    assert oo.headers["Authorization"] == "Basic " + base64.b64encode(b"a:b").decode()
    kr = got["/topics/falco"]
    assert kr.headers["Content-Type"] == "application/vnd.kafka.binary.v2+json"
    import json
    value = json.loads(base64.b64decode(kr.json()["records"][0]["value"]))
    assert list(value) == KEYS
    assert got["/run"].headers["Authorization"] == "Bearer jwt-token"
    ce = got["/ce"]
    h = {k.lower(): v for k, v in ce.headers.items()}
    assert h["ce-specversion"] == "1.0" and h["ce-type"] == "falco.rule.output.v1" and h["ce-source"] == "https://falco.org"
    assert h["ce-priority"] == "Warning" and h["ce-rule"] == "Test rule" and h["ce-eventsource"] == "syscall"
    assert h["ce-cluster"] == "eu1" and h["ce-id"] == ce.json()["uuid"] and h["ce-time"] == ce.json()["time"]
    ddl = got["/ddl/api/v2/logs"]
    assert ddl.headers["DD-API-KEY"] == "dd"
    body = ddl.json()
    assert body["ddsource"] == "falco" and body["service"] == "falco-svc" and body["hostname"] == "node1"
    assert body["ddtags"] == "container,shell" and json.loads(body["message"])["rule"] == "Test rule"


def test_zincsearch_and_quickwit(http_server: RecordingServer) -> None:
    u = http_server.url
    p = OutputPipeline.from_config(Config(data={"fanout": {
        "zincsearch": {"hostport": u, "index": "sec", "username": "z", "password": "s"},
        "quickwit": {"hostport": u + "/qw", "customheaders": {"X-Q": "1"}},
    }}), AlertFormatter(hostname="node1"))
    p.submit(make_alert(1))
    p.close()
    got = {r.path: r for r in http_server.wait_for(2)}
    zinc = got["/api/sec/_doc"]
    assert zinc.headers["Authorization"] == "Basic " + base64.b64encode(b"z:s").decode() and list(zinc.json()) == KEYS
    qw = got["/qw/api/v1/falco/ingest"]
    assert qw.headers["X-Q"] == "1" and qw.json()["rule"] == "Test rule"
