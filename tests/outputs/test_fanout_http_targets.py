"""HTTP fan-out targets: each payload as its backend documents, checked at a loopback receiver."""

from __future__ import annotations

import logging

import pytest

from lanner.config import Config, ConfigError
from lanner.core.priority import Priority
from lanner.outputs.fanout.config import build_workers
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from tests.outputs.helpers import Behaviour, Pki, RecordingServer, make_alert, server_tls


def _run(targets: list[dict], alerts, ) -> OutputPipeline:
    p = OutputPipeline.from_config(Config(data={"fanout": targets}), AlertFormatter(hostname="node1"))
    for a in alerts:
        p.submit(a)
    p.close()
    return p


def test_every_http_target_payload(http_server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANNER_TEST_HOOK", f"{http_server.url}/slack/T000/SECRET")
    u = http_server.url
    targets = [
        {"type": "webhook", "url": u + "/hook", "headers": {"X-Token": "t"}, "extra_fields": {"cluster": "prod"}},
        {"type": "slack", "url_env": "LANNER_TEST_HOOK", "username": "lanner"},
        {"type": "mattermost", "url": u + "/mm", "channel": "sec"},
        {"type": "teams", "url": u + "/teams"},
        {"type": "discord", "url": u + "/discord"},
        {"type": "loki", "url": u, "tenant": "t1", "extra_labels": {"env": "test"}},
        {"type": "elasticsearch", "url": u, "index": "falco", "username": "elastic", "password": "pw"},
        {"type": "alertmanager", "url": u, "min_priority": "error"},
        {"type": "otlp", "url": u, "service_name": "sec"},
    ]
    p = _run(targets, [make_alert(1, Priority.WARNING), make_alert(2, Priority.CRITICAL)])
    reqs = http_server.wait_for(17)
    by_path: dict[str, list] = {}
    for r in reqs:
        by_path.setdefault(r.path, []).append(r)

    hook = by_path["/hook"][0]
    ev = hook.json()
    assert hook.headers["X-Token"] == "t" and ev["rule"] == "Test rule" and ev["priority"] == "Warning"
    assert ev["output_fields"]["cluster"] == "prod" and ev["output_fields"]["evt.time"] == 1_767_621_801_123_456_790
    assert ev["tags"] == ["container", "shell"] and ev["hostname"] == "node1"

    slack = by_path["/slack/T000/SECRET"][0].json()
    assert slack["username"] == "lanner"      # payload details: tests/outputs/fanout/test_chat.py
    att = slack["attachments"][0]
    assert att["text"].endswith("Warning alert number 1 proc=bash")
    assert att["color"] == "#ffc700" and {"title": "rule", "value": "Test rule", "short": True} in att["fields"]
    assert by_path["/mm"][0].json()["channel"] == "sec"

    card = by_path["/teams"][0].json()
    assert card["type"] == "message"
    assert card["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["attachments"][0]["content"]["type"] == "AdaptiveCard"

    disc = by_path["/discord"][0].json()
    assert disc["embeds"][0]["description"].endswith("alert number 1 proc=bash")
    assert disc["embeds"][0]["color"] == "12745742"

    loki = by_path["/loki/api/v1/push"][0]
    stream = loki.json()["streams"][0]
    assert loki.headers["X-Scope-OrgID"] == "t1"
    assert stream["stream"] == {"rule": "Test rule", "priority": "Warning", "source": "syscall",
                                "hostname": "node1", "tags": "container,shell", "env": "test"}
    assert stream["values"][0][0] == "1767621801123456790"

    es = by_path["/falco-2026.01.05/_doc"][0]
    assert es.headers["Authorization"] == "Basic ZWxhc3RpYzpwdw=="
    assert es.json()["@timestamp"] == "2026-01-05T14:03:21.12345679Z"     # sidekick's (Go) time format

    am = by_path["/api/v2/alerts"]
    assert len(am) == 1                                  # min_priority error: only the Critical one
    a = am[0].json()[0]
    assert a["labels"]["alertname"] == "Test rule" and a["labels"]["proc_name"] == "bash"
    assert a["labels"]["severity"] == "critical" and a["annotations"]["info"].endswith("alert number 2 proc=bash")

    otlp = by_path["/v1/logs"][0].json()["resourceLogs"][0]
    rec = otlp["scopeLogs"][0]["logRecords"][0]
    assert rec["severityNumber"] == 13 and rec["severityText"] == "Warning"
    assert rec["timeUnixNano"] == "1767621801123456790"
    assert {"key": "service.name", "value": {"stringValue": "sec"}} in otlp["resource"]["attributes"]


    st = p.stats()["fanout"]
    assert st["alertmanager"] == {"type": "alertmanager", "produced": 1, "sent": 1, "failed": 0, "dropped": 0,
                                  "retries": 0, "queued": 0}
    assert all(s["sent"] == s["produced"] for s in st.values())


def test_retries_transient_and_not_permanent(http_server: RecordingServer) -> None:
    http_server.behaviour = Behaviour(fail_first=2)
    p = _run([{"type": "webhook", "url": http_server.url, "retries": 3, "backoff_ms": 10}], [make_alert()])
    assert len(http_server.requests) == 3
    assert p.stats()["fanout"]["webhook"]["sent"] == 1 and p.stats()["fanout"]["webhook"]["retries"] == 2
    http_server.requests.clear()
    http_server.behaviour = Behaviour(status=400)
    p = _run([{"type": "webhook", "url": http_server.url, "retries": 3, "backoff_ms": 10}], [make_alert()])
    assert len(http_server.requests) == 1 and p.stats()["fanout"]["webhook"]["failed"] == 1


def test_https_target_with_client_cert(pki: Pki) -> None:
    srv = RecordingServer(tls=server_tls(pki, require_client=True))
    try:
        p = _run([{"type": "webhook", "url": srv.url + "/x", "ca_cert": str(pki.ca),
                   "client_cert": str(pki.client_cert), "client_key": str(pki.client_key)}], [make_alert()])
        assert p.stats()["fanout"]["webhook"]["sent"] == 1 and srv.wait_for(1)[0].client_cert
    finally:
        srv.stop()


def test_credentials_never_logged(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANNER_TEST_URL", "http://user:hunter2@127.0.0.1:1/services/SECRETPATH")
    with caplog.at_level(logging.DEBUG, "lanner.outputs"):
        p = _run([{"type": "slack", "url_env": "LANNER_TEST_URL", "retries": 1, "backoff_ms": 1}], [make_alert()])
    assert p.stats()["fanout"]["slack"]["failed"] == 1
    assert "127.0.0.1:1" in caplog.text
    assert "hunter2" not in caplog.text and "SECRETPATH" not in caplog.text
    assert "SECRETPATH" not in repr(p.fanout.workers[0].target)


def test_config_errors_name_the_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANNER_NOPE", raising=False)
    with pytest.raises(ConfigError, match=r"fanout\[0\]: unknown type 'pager'"):
        build_workers([{"type": "pager"}])
    with pytest.raises(ConfigError, match=r"fanout\[1\] \(s\): option 'url' .* is required"):
        build_workers([{"type": "webhook", "url": "http://127.0.0.1:1", "enabled": False}, {"type": "slack", "name": "s"}])
    with pytest.raises(ConfigError, match="LANNER_NOPE, which is not set"):
        build_workers([{"type": "slack", "url_env": "LANNER_NOPE"}])
    with pytest.raises(ConfigError, match="invalid min_priority"):
        build_workers([{"type": "webhook", "url": "http://x", "min_priority": "loud"}])
