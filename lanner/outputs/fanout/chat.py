"""Chat targets: Slack, Mattermost (Slack-compatible incoming webhooks), Microsoft Teams, Discord.

Payloads follow each service's incoming-webhook documentation: Slack/Mattermost ``text`` plus a
coloured ``attachments`` entry with one field per alert attribute; Teams a message carrying an
Adaptive Card (Workflows webhooks); Discord ``content`` plus one ``embeds`` entry.
Options: ``url`` (or ``url_env``), ``username``, ``icon_url``, ``channel`` (Slack/Mattermost),
``output_format`` = ``all`` (default: text + fields), ``text`` (text only) or ``fields``.
"""

from __future__ import annotations

from typing import Any

from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.outputs.fanout.httpbase import HttpTarget

COLORS = {
    Priority.EMERGENCY: "#e20b0b", Priority.ALERT: "#ff5400", Priority.CRITICAL: "#ff9000",
    Priority.ERROR: "#ffc700", Priority.WARNING: "#ffff00", Priority.NOTICE: "#5bffb5",
    Priority.INFORMATIONAL: "#68c2ff", Priority.DEBUG: "#ccfff2",
}


def field_pairs(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(title, value) pairs: rule, priority, source, hostname, tags, then the output fields sorted."""
    pairs = [("rule", event["rule"]), ("priority", event["priority"]), ("source", event["source"]),
             ("hostname", event["hostname"])]
    if event.get("tags"):
        pairs.append(("tags", ", ".join(event["tags"])))
    for k, v in sorted((event.get("output_fields") or {}).items()):
        pairs.append((k, "<NA>" if v is None else str(v)))
    pairs.append(("time", event["time"]))
    return pairs


class _SlackLike(HttpTarget):
    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        fmt = str(self.options.get("output_format", "all"))
        body: dict[str, Any] = {}
        if fmt != "fields":
            body["text"] = event["output"]
        if fmt != "text":
            body["attachments"] = [{
                "fallback": event["output"],
                "color": COLORS[alert.priority],
                "fields": [{"title": t, "value": v, "short": len(v) < 40} for t, v in field_pairs(event)],
                "footer": "lanner",
                "ts": alert.time_ns // 1_000_000_000,
            }]
        for key in ("username", "icon_url", "channel"):
            if self.options.get(key):
                body[key] = str(self.options[key])
        return body

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.post_json(self.url, self.payload(event, alert))


class SlackTarget(_SlackLike):
    type_name = "slack"


class MattermostTarget(_SlackLike):
    type_name = "mattermost"


class TeamsTarget(HttpTarget):
    type_name = "teams"

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "text": f"{event['priority']}: {event['rule']}", "weight": "Bolder",
                 "size": "Medium", "color": "Attention" if alert.priority <= Priority.ERROR else "Default",
                 "wrap": True},
                {"type": "TextBlock", "text": event["output"], "wrap": True},
                {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in field_pairs(event)]},
            ],
        }
        return {"type": "message", "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.post_json(self.url, self.payload(event, alert))


class DiscordTarget(HttpTarget):
    type_name = "discord"

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        # Discord limits: content 2000 chars, 25 embed fields, field value 1024 chars
        fields = [{"name": t, "value": (v or "-")[:1024], "inline": len(v) < 40} for t, v in field_pairs(event)][:25]
        body: dict[str, Any] = {
            "content": event["output"][:2000],
            "embeds": [{"title": event["rule"][:256], "description": event["priority"],
                        "color": int(COLORS[alert.priority][1:], 16), "fields": fields,
                        "timestamp": event["time"]}],
        }
        if self.options.get("username"):
            body["username"] = str(self.options["username"])
        if self.options.get("icon_url"):
            body["avatar_url"] = str(self.options["icon_url"])
        return body

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.post_json(self.url, self.payload(event, alert))
