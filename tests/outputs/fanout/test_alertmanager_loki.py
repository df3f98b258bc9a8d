"""Alertmanager and Loki configured the falcosidekick way send sidekick's labels (loopback receiver)."""

from __future__ import annotations

import json

from lanner.config import Config
from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from tests.outputs.helpers import RecordingServer

T0 = 1_767_621_801_123_456_789


def _run(server: RecordingServer, fanout: dict, alerts: list[Alert], n: int) -> list:
    p = OutputPipeline.from_config(Config(data={"fanout": fanout}), AlertFormatter(hostname="node1"))
    for a in alerts:
        p.submit(a)
    p.close()
    reqs = server.wait_for(n)
    assert len(reqs) == n
    return reqs


def test_alertmanager_labels_severity_and_drop_thresholds(http_server: RecordingServer) -> None:
    k8s = Alert(time_ns=T0, rule="Shell in pod", priority=Priority.ERROR, source="syscall", message="shell",
                output_fields={"k8s.pod.name": "web-1", "proc.pid": 42, "fd.name": None},
                tags=("k8s",), hostname="node1")
    drops = Alert(time_ns=T0, rule="Falco internal: syscall event drop", priority=Priority.DEBUG, source="internal",
                  message="drops", output_fields={"n_drops": 150, "n_evts": 1000, "n_drops_buffer": 0},
                  hostname="node1")
    reqs = _run(http_server, {"alertmanager": {
        "hostport": [http_server.url], "expiresafter": 60, "extralabels": {"team": "sec"},
        "extraannotations": {"runbook": "http://r"}, "customseveritymap": {"critical": "page"}}}, [k8s, drops], 2)
    first, second = (r.json()[0] for r in reqs)
    assert reqs[0].path == "/api/v2/alerts"
    assert first == {
        "labels": {"k8s_pod_name": "web-1", "proc_pid": "42", "evt_time": str(T0), "source": "falco", "rule": "Shell in pod",
                   "alertname": "Shell in pod", "eventsource": "syscall", "hostname": "node1", "tags": "k8s",
                   "priority": "Error", "severity": "warning", "team": "sec"},
        "annotations": {"info": first["annotations"]["info"], "description": first["annotations"]["info"],
                        "summary": "Shell in pod", "runbook": "http://r"},
        "endsAt": "2026-01-05T14:04:21Z"}
    # 150 drops > the 100 threshold: label ">100", priority raised to critical, severity from the custom map
    assert second["labels"]["n_drops"] == ">100" and second["labels"]["n_drops_buffer"] == "0"
    assert "n_evts" not in second["labels"]
    assert second["labels"]["priority"] == "Critical" and second["labels"]["severity"] == "page"


def test_alertmanager_without_expiry_sends_go_zero_time(http_server: RecordingServer) -> None:
    a = Alert(time_ns=T0, rule="R", priority=Priority.NOTICE, source="syscall", message="m", output_fields={})
    body = _run(http_server, [{"type": "alertmanager", "url": http_server.url}], [a], 1)[0].json()
    assert body[0]["endsAt"] == "0001-01-01T00:00:00Z" and body[0]["labels"]["severity"] == "information"


def test_loki_sidekick_labels_and_text_format(http_server: RecordingServer) -> None:
    a = Alert(time_ns=T0, rule="Shell in pod", priority=Priority.WARNING, source="syscall", message="shell",
              output_fields={"k8s.ns.name": "prod", "k8s.pod.name": 'we"b', "proc.aname[2]": "sshd",
                             "proc.pid": 7}, tags=("b", "a"), hostname="node1")
    reqs = _run(http_server, {"customfields": {"cluster": "eu1"},
                              "loki": {"hostport": http_server.url, "extralabels": "proc.aname[2], proc.pid",
                                       "user": "u", "apikey": "k", "tenant": "t1"}}, [a], 1)
    r = reqs[0]
    assert r.path == "/loki/api/v1/push" and r.headers["X-Scope-OrgID"] == "t1"
    assert r.headers["Authorization"] == "Basic dTpr"
    stream = r.json()["streams"][0]
    assert stream["stream"] == {"rule": "Shell in pod", "source": "syscall", "priority": "Warning",
                                "k8s_ns_name": "prod", "k8s_pod_name": "web", "proc_aname2": "sshd",
                                "cluster": "eu1", "hostname": "node1", "tags": "a,b"}   # proc.pid: not a string
    ts, line = stream["values"][0]
    assert ts == str(T0) and line.endswith("Warning shell")                               # format: text


def test_loki_json_format_is_sidekicks_json(http_server: RecordingServer) -> None:
    a = Alert(time_ns=T0, rule="R", priority=Priority.WARNING, source="syscall", message="m",
              output_fields={"proc.name": "sh"}, hostname="node1")
    reqs = _run(http_server, {"loki": {"hostport": http_server.url, "format": "json"}}, [a], 1)
    line = json.loads(reqs[0].json()["streams"][0]["values"][0][1])
    assert list(line) == ["uuid", "output", "priority", "rule", "time", "output_fields", "source", "hostname"]


def test_elasticsearch_sidekick_document(http_server: RecordingServer) -> None:
    a = Alert(time_ns=T0, rule="R", priority=Priority.WARNING, source="syscall", message="m",
              output_fields={"proc.name": "sh"}, hostname="node1")
    reqs = _run(http_server, {"elasticsearch": {"hostport": http_server.url, "index": "sec", "suffix": "monthly",
                                                "pipeline": "geo ip", "flattenfields": True, "apikey": "k"}}, [a], 1)
    r = reqs[0]
    assert r.path == "/sec-2026.01/_doc?pipeline=geo%20ip" and r.headers["Authorization"] == "ApiKey k"
    doc = r.json()
    assert list(doc) == ["uuid", "output", "priority", "rule", "time", "output_fields", "source", "hostname",
                         "@timestamp"]
    assert doc["@timestamp"] == doc["time"] == "2026-01-05T14:03:21.123456789Z"
    assert "proc_name" in doc["output_fields"] and "proc.name" not in doc["output_fields"]
