"""An audit event nested 300 levels deep (orjson refuses to re-encode past 255) is reported with its file
and line (or request) and skipped; its neighbours in the same file, EventList or webhook batch are kept
(issue 19 item 1). lanner warns and exits 0, as Falco does for a bad event."""

from __future__ import annotations

import json
import subprocess
import sys

import orjson

from lanner.sources.k8saudit import K8sAuditPlugin
from tests.sources.k8saudit.test_plugin_files import run
from tests.sources.k8saudit.test_webhook import Running, post


def event(name: str, deep: int = 0) -> dict:
    obj: dict = {"leaf": 1}
    for _ in range(deep):
        obj = {"a": obj}
    ev = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request", "auditID": name,
          "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/default/pods", "verb": "create",
          "user": {"username": "u"}, "objectRef": {"resource": "pods", "namespace": "default", "name": name},
          "responseStatus": {"code": 201}, "requestReceivedTimestamp": "2024-01-01T00:00:00.000000Z",
          "stageTimestamp": "2024-01-01T00:00:00.000000Z"}
    if deep:
        ev["requestObject"] = obj
    return ev


def names(evts) -> list[str]:
    return [orjson.loads(e.data)["auditID"] for e in evts]


def test_deep_event_in_json_lines_is_skipped_alone(tmp_path) -> None:
    f = tmp_path / "audit.jsonl"
    f.write_text("\n".join(json.dumps(e) for e in (event("bad", 300), event("good"))) + "\n")
    p, evts = run(str(f))
    assert names(evts) == ["good"]
    assert len(p.errors) == 1
    assert f"{f}: line 1: event 0: cannot be encoded" in p.errors[0]


def test_deep_event_in_eventlist_is_skipped_alone(tmp_path) -> None:
    f = tmp_path / "audit.json"
    f.write_text(json.dumps({"kind": "EventList", "items": [event("bad", 300), event("good")]}))
    p, evts = run(str(f))
    assert names(evts) == ["good"]
    assert list(p.errors) == [f"{f}: event 0: cannot be encoded: Recursion limit reached"]


def test_webhook_batch_answers_for_the_bad_event_and_keeps_the_rest() -> None:
    hook = Running()
    try:
        body = json.dumps({"kind": "EventList", "items": [event("one"), event("bad", 300), event("two")]}).encode()
        status, text = post(hook.port, body)
        assert status == 200
        assert b"accepted 2 events, skipped 1" in text and b"event 1: cannot be encoded" in text
        assert names(hook.wait_for(2)) == ["one", "two"]
        assert hook.plugin.webhook.stats.event_errors == 1
        status, _ = post(hook.port, orjson.dumps(event("three")))
        assert status == 200 and names(hook.wait_for(3))[-1] == "three"
    finally:
        hook.close()


def test_cli_alerts_on_the_other_events_and_reports_the_bad_one(tmp_path) -> None:
    f = tmp_path / "audit.json"
    f.write_text(json.dumps({"kind": "EventList", "items": [event("bad", 300), event("good")]}))
    rules = tmp_path / "r.yaml"
    rules.write_text("- rule: pod created\n  desc: d\n  condition: ka.verb=create\n"
                     "  output: created %ka.target.name\n  priority: WARNING\n  source: k8s_audit\n")
    cmd = [sys.executable, "-m", "lanner", "-r", str(rules), "-o", "webserver.enabled=false",
           "-o", "plugins[0].name=k8saudit", "-o", "plugins[0].library_path=libk8saudit.so",
           "-o", f"plugins[0].open_params={f}", "-o", "load_plugins[0]=k8saudit", "-o", "engine.kind=nodriver"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "Traceback" not in out
    assert "Warning created good" in out and "created bad" not in out
    assert f"{f}: event 0: cannot be encoded" in out


def test_plugin_counts_errors() -> None:
    p = K8sAuditPlugin()
    p.init({})
    p.on_error("x")
    assert p.metrics()["n_errors"] == 1


def test_a_source_that_dies_stops_lanner_non_zero_with_the_reason(tmp_path) -> None:
    f = tmp_path / "audit.json"
    f.write_text(json.dumps(event("one")))
    rules = tmp_path / "r.yaml"
    rules.write_text("- rule: pod created\n  desc: d\n  condition: ka.verb=create\n"
                     "  output: created %ka.target.name\n  priority: WARNING\n  source: k8s_audit\n")
    boom = ("import sys\nimport lanner.sources.k8saudit.plugin as p\n"
            "def _event(self, num, rec):\n    raise KeyError('unexpected')\n"
            "p.K8sAuditPlugin._event = _event\nfrom lanner.cli import main\nsys.exit(main())\n")
    cmd = [sys.executable, "-c", boom, "-r", str(rules), "-o", "webserver.enabled=false",
           "-o", "plugins[0].name=k8saudit", "-o", "plugins[0].library_path=libk8saudit.so",
           "-o", f"plugins[0].open_params={f}", "-o", "load_plugins[0]=k8saudit", "-o", "engine.kind=nodriver"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "k8s_audit source stopped: KeyError: 'unexpected'" in out
    assert "Traceback" not in out
