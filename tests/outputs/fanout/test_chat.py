"""Chat outputs configured the falcosidekick way send sidekick's payloads (recorded at a loopback server)."""

from __future__ import annotations

from lanner.config import Config
from lanner.core.priority import Priority
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from tests.outputs.helpers import RecordingServer, make_alert

ICON = "https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick_color.png"
TIME = "2026-01-05 14:03:21.12345679 +0000 UTC"     # Go's time.Time.String(), trailing zero dropped


def _send(server: RecordingServer, fanout: dict, n: int) -> tuple[dict[str, dict], str]:
    alert = make_alert(1, Priority.WARNING)
    output = AlertFormatter(hostname="node1").as_dict(alert)["output"]
    p = OutputPipeline.from_config(Config(data={"fanout": fanout}), AlertFormatter(hostname="node1"))
    p.submit(alert)
    p.close()
    reqs = server.wait_for(n)
    assert len(reqs) == n
    for r in reqs:
        assert r.headers["Content-Type"].startswith("application/json")
        assert "Authorization" not in r.headers          # the bot's username is not basic auth
    return {r.path: r.json() for r in reqs}, output


def test_slack_family_payloads(http_server: RecordingServer) -> None:
    u = http_server.url
    got, out = _send(http_server, {
        "slack": {"webhookurl": u + "/slack", "channel": "#sec",
                  "messageformat": 'Alert: rule *{{ .Rule }}* by *{{ index .OutputFields "proc.name" }}* ({{ .Priority }})'},
        "mattermost": {"webhookurl": u + "/mm", "outputformat": "text"},
        "rocketchat": {"webhookurl": u + "/rc", "outputformat": "fields", "icon": ""},
    }, 3)
    fields = [{"title": "rule", "value": "Test rule", "short": True},
              {"title": "priority", "value": "Warning", "short": True},
              {"title": "source", "value": "syscall", "short": True},
              {"title": "hostname", "value": "node1", "short": True},
              {"title": "tags", "value": "container, shell", "short": True},
              {"title": "proc.name", "value": "bash", "short": True},      # numbers (n, evt.time) are skipped
              {"title": "time", "value": TIME, "short": False}]
    assert got["/slack"] == {
        "text": "Alert: rule *Test rule* by *bash* (Warning)", "username": "Falcosidekick", "icon_url": ICON,
        "channel": "#sec",
        "attachments": [{"fallback": out, "color": "#ffc700", "text": out, "fields": fields,
                         "footer": "https://github.com/falcosecurity/falcosidekick"}]}
    assert got["/mm"] == {"username": "Falcosidekick", "icon_url": ICON,
                          "attachments": [{"fallback": out, "color": "#ffc700", "text": out, "fields": None}]}
    rc_fields = [f for f in fields if f["title"] != "hostname"] + [fields[3]]   # Rocket.Chat: hostname last
    assert got["/rc"] == {
        "username": "Falcosidekick",
        "icon_url": "https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick.png",
        "attachments": [{"fallback": out, "color": "#ffc700", "fields": rc_fields}]}


def test_teams_discord_googlechat_webex_payloads(http_server: RecordingServer) -> None:
    u = http_server.url
    got, out = _send(http_server, {
        "teams": {"webhookurl": u + "/teams"}, "discord": {"webhookurl": u + "/discord"},
        "googlechat": {"webhookurl": u + "/gchat"}, "webex": {"webhookurl": u + "/webex"},
    }, 4)
    assert got["/teams"] == {
        "@type": "MessageCard", "summary": out, "themeColor": "ffff00",
        "sections": [{"activityTitle": "Falcosidekick", "activitySubtitle": TIME, "activityImage": ICON, "text": out,
                      "facts": [{"name": "rule", "value": "Test rule"}, {"name": "priority", "value": "Warning"},
                                {"name": "source", "value": "syscall"}, {"name": "hostname", "value": "node1"},
                                {"name": "proc.name", "value": "bash"},
                                {"name": "tags", "value": "container, shell"}]}]}
    assert got["/discord"] == {
        "content": "", "avatar_url": ICON,
        "embeds": [{"title": "", "url": "", "description": out, "color": "12745742", "fields": [
            {"name": "rule", "value": "Test rule", "inline": True},
            {"name": "priority", "value": "Warning", "inline": True},
            {"name": "source", "value": "syscall", "inline": True},
            {"name": "hostname", "value": "node1", "inline": True},
            {"name": "proc.name", "value": "```bash```", "inline": True},
            {"name": "tags", "value": "container, shell", "inline": True},
            {"name": "time", "value": TIME, "inline": True}]}]}
    labels = [("rule", "Test rule"), ("priority", "Warning"), ("source", "syscall"), ("hostname", "node1"),
              ("proc.name", "bash"), ("tags", "container, shell"), ("time", TIME)]
    assert got["/gchat"] == {"cards": [{"header": {"title": "", "subtitle": ""}, "sections": [
        {"widgets": [{"keyValue": {"topLabel": k, "content": v}} for k, v in labels]}]}]}
    assert got["/webex"] == {"markdown": (
        f"# Falco Rule 'Test rule'\n\n### {out}\n\nAdditional informations:\n"
        "  * Hostname: node1\n  * Source:   syscall  \n  * Priority: Warning\n  * Tags:\n"
        "    \n    * container\n    \n    * shell\n    \n  * Fields:\n"
        "\t\n\t* evt.time: 1767621801123456790\n\t\n\t* n: 1\n\t\n\t* proc.name: bash\n\t\n")}


def test_lanner_list_form_teams_defaults_to_an_adaptive_card(http_server: RecordingServer) -> None:
    got, out = _send(http_server, [{"type": "teams", "url": http_server.url + "/t", "output_format": "facts"}], 1)
    card = got["/t"]["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and [b["type"] for b in card["body"]] == ["TextBlock", "FactSet"]
    assert {"title": "time", "value": TIME} in card["body"][1]["facts"]


def test_cliq_payload(http_server: RecordingServer) -> None:
    got, out = _send(http_server, {"cliq": {"webhookurl": http_server.url + "/cliq", "useemoji": True,
                                            "messageformat": "Rule {{ .Rule }}"}}, 1)
    rows = [{"field": "rule", "value": "Test rule"}, {"field": "priority", "value": "Warning"},
            {"field": "hostname", "value": "node1"}, {"field": "proc.name", "value": "bash"},
            {"field": "time", "value": TIME}]
    assert got["/cliq"] == {"text": "\U0001F7E1 Rule Test rule", "bot": {"name": "Falcosidekick", "image": ICON},
                            "slides": [{"type": "text", "data": out},
                                       {"type": "table", "data": {"headers": ["field", "value"], "rows": rows}}]}
