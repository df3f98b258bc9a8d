"""SaaS outputs configured the falcosidekick way: each request as the service documents it (URL path, auth
header, payload), recorded by a loopback server the output's URL/API base points at."""

from __future__ import annotations

from lanner.config import Config
from lanner.core.priority import Priority
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from tests.outputs.helpers import RecordingServer, make_alert

TIME = "2026-01-05 14:03:21.12345679 +0000 UTC"


def _send(server: RecordingServer, fanout: dict | list, n: int, priority: Priority = Priority.WARNING):
    alert = make_alert(1, priority)
    event = AlertFormatter(hostname="node1").as_dict(alert)
    p = OutputPipeline.from_config(Config(data={"fanout": fanout}), AlertFormatter(hostname="node1"))
    p.submit(alert)
    p.close()
    reqs = server.wait_for(n)
    assert len(reqs) == n
    return {r.path: r for r in reqs}, event


def test_pagerduty_opsgenie_datadog(http_server: RecordingServer) -> None:
    u = http_server.url
    # sidekick fixes the API hosts; lanner's `url` (the list form) points them at the receiver
    got, ev = _send(http_server, [
        {"type": "pagerduty", "routing_key": "R0UT1NG", "region": "eu", "url": u + "/pd"},
        {"type": "opsgenie", "api_key": "g-key", "url": u + "/og", "entity": "Falcosidekick"},
        {"type": "datadog", "api_key": "dd-key", "url": u + "/dd"},
    ], 3, Priority.CRITICAL)
    out = ev["output"]
    pd = got["/pd/v2/enqueue"]
    assert pd.method == "POST" and pd.headers["Content-Type"].startswith("application/json")
    assert pd.json() == {"routing_key": "R0UT1NG", "event_action": "trigger", "payload": {
        "summary": out, "source": "falco", "severity": "critical", "timestamp": "2026-01-05T14:03:21Z",
        "custom_details": {"proc.name": "bash", "n": 1, "evt.time": 1767621801123456790, "hostname": "node1"}}}
    og = got["/og/v2/alerts"]
    assert og.headers["Authorization"] == "GenieKey g-key"
    assert og.json() == {"message": out, "entity": "Falcosidekick", "description": "Test rule", "priority": "P2",
                         "details": {"proc_name": "bash", "source": "syscall", "rule": "Test rule",
                                     "priority": "Critical", "hostname": "node1", "tags": "container, shell"}}
    dd = got["/dd/api/v1/events"]
    assert dd.headers["DD-API-KEY"] == "dd-key" and "api_key" not in dd.path
    assert dd.json() == {"title": "Test rule", "text": out, "alert_type": "error", "source_type_name": "falco",
                         "tags": ["proc.name:bash", "source:syscall", "source:falco", "hostname:node1",
                                  "container", "shell"]}


def test_default_endpoints_follow_region_and_site() -> None:
    from lanner.outputs.fanout.saas import DatadogTarget, OpsgenieTarget, PagerdutyTarget
    assert PagerdutyTarget("p", {"routing_key": "k"}).endpoint == "https://events.pagerduty.com/v2/enqueue"
    assert PagerdutyTarget("p", {"routing_key": "k", "region": "EU"}).endpoint == \
        "https://events.eu.pagerduty.com/v2/enqueue"
    assert OpsgenieTarget("o", {"api_key": "k", "region": "eu"}).endpoint == "https://api.eu.opsgenie.com/v2/alerts"
    assert OpsgenieTarget("o", {"api_key": "k"}).endpoint == "https://api.opsgenie.com/v2/alerts"
    assert DatadogTarget("d", {"api_key": "k", "site": "datadoghq.eu"}).endpoint == \
        "https://api.datadoghq.eu/api/v1/events"


def test_splunk_hec_and_telegram_sidekick_shape(http_server: RecordingServer) -> None:
    u = http_server.url
    got, ev = _send(http_server, {
        "splunk": {"host": u, "token": "hec-token", "customheaders": {"X-Org": "sec"}},
        "telegram": {"host": u, "token": "123:ABC", "chatid": "-100200", "messagethreadid": "7"},
        "pagerduty": {"routingkey": ""},          # empty required option: off, as in sidekick
    }, 2)
    sp = got["/services/collector/event"]
    assert sp.headers["Authorization"] == "Splunk hec-token" and sp.headers["X-Org"] == "sec"
    body = sp.json()
    assert body["sourcetype"] == "falcosidekick"
    e = body["event"]
    assert list(e) == ["uuid", "output", "priority", "rule", "time", "output_fields", "source", "tags", "hostname"]
    assert len(e["uuid"]) == 36 and e["output"] == ev["output"] and e["priority"] == "Warning"
    assert e["time"] == "2026-01-05T14:03:21.12345679Z" and e["tags"] == ["container", "shell"]
    tg = got["/bot123:ABC/sendMessage"]
    assert tg.json() == {
        "text": ("*\\[Falco\\] \\[Warning\\] Test rule*\n\n"
                 "\u2022 *Time*: 2026\\-01\\-05 14:03:21\\.12345679 \\+0000 UTC\n"
                 "\u2022 *Source*: syscall\n\u2022 *Hostname*: node1\n\u2022 *Tags*: container shell \n"
                 "\u2022 *Fields*:\n"
                 "\t  \u2022 *evt\\.time*: 1767621801123456790\n\t  \u2022 *n*: 1\n\t  \u2022 *proc\\.name*: bash\n"
                 "\n\n**Output**: " + ev["output"].replace(".", "\\.").replace("=", "\\=") + "\n"),
        "parse_mode": "MarkdownV2", "disable_web_page_preview": True, "chat_id": "-100200",
        "message_thread_id": "7"}


def test_gotify_markdown_and_text(http_server: RecordingServer) -> None:
    u = http_server.url
    got, ev = _send(http_server, [{"type": "gotify", "name": "md", "url": u + "/md", "token": "gt"},
                                  {"type": "gotify", "name": "txt", "url": u + "/txt", "format": "text"}], 2)
    md = got["/md/message"]
    assert md.headers["X-Gotify-Key"] == "gt"
    assert md.json() == {
        "title": "[Falco] [Warning] Test rule", "priority": 4, "extras": {"client::display": {"contentType": "markdown"}},
        "message": (f"- **Priority**: Warning\n- **Rule**: Test rule\n- **Output**: {ev['output']}\n"
                    f"- **Source**: syscall\n- **Tags**: container shell \n- **Time**: {TIME}\n- **Fields**:\n"
                    "\t- **evt.time**: 1767621801123456790\n\t- **n**: 1\n\t- **proc.name**: bash\n")}
    txt = got["/txt/message"].json()
    assert txt["extras"]["client::display"]["contentType"] == "plaintext"
    assert txt["message"].startswith("Priority: Warning\nRule: Test rule\n")
    assert txt["message"].endswith("Fields:\n- evt.time: 1767621801123456790\n- n: 1\n- proc.name: bash\n")


def test_dynatrace_log_ingest(http_server: RecordingServer) -> None:
    from lanner.core.alert import Alert
    alert = Alert(time_ns=1_767_621_801_123_456_789, rule="Shell in container", priority=Priority.ERROR,
                  source="syscall", message="shell", hostname="node1",
                  output_fields={"container.id": "abc123", "k8s.pod.name": "web", "proc.name": "bash", "n": 3},
                  tags=("mitre_execution", "T1059", "container"))
    p = OutputPipeline.from_config(Config(data={"fanout": {"dynatrace": {"apiurl": http_server.url + "/e/env1/api/",
                                                                         "apitoken": "dt0c01.X"}}}),
                                   AlertFormatter(hostname="node1"))
    p.submit(alert)
    p.close()
    r = http_server.wait_for(1)[0]
    assert r.path == "/e/env1/api/v2/logs/ingest" and r.headers["Authorization"] == "Api-Token dt0c01.X"
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    (rec,) = r.json()
    assert rec["timestamp"] == "2026-01-05T14:03:21Z" and rec["event.name"] == "Shell in container"
    assert rec["event.provider"] == "Falco" and rec["severity"] == "Error" and rec["log.source"] == "syscall"
    assert rec["host.name"] == "node1" and len(rec["event.id"]) == 36
    assert (rec["container.id"], rec["k8s.pod.name"], rec["process.executable.name"]) == ("abc123", "web", "bash")
    assert rec["mitre.technique"] == "T1059" and rec["mitre.tactic"] == "mitre_execution"
    assert rec["content"]["tags"] == ["T1059", "container", "mitre_execution"]
    assert rec["content"]["output_fields"]["n"] == 3
