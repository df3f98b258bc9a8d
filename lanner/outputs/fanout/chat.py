"""Chat targets, with falcosidekick's payloads: Slack, Mattermost, Rocket.Chat, Teams, Discord, Google Chat, Webex.

The messages are the ones sidekick sends, field for field, so that channels fed by sidekick look the same:
Slack-style attachments (rule, priority, source, hostname, tags, the string-valued output fields, time; a
colour per priority), Teams' MessageCard (or an Adaptive Card for Workflows webhooks: ``card: adaptive``,
the default of lanner's list form), Discord embeds, Google Chat card widgets, Webex markdown.
Options: ``url``, ``username``, ``icon_url``, ``channel``, ``footer``, ``output_format`` (``all``, ``text``
or ``fields``/``facts``) and ``message_format`` (a Go template, as sidekick's ``messageformat``).
"""

from __future__ import annotations

from typing import Any

from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.outputs.fanout.falcopayload import (
    go_time,
    message_template,
    render_message,
    sorted_tags,
    string_fields,
)
from lanner.outputs.fanout.gotemplate import TemplateError, go_str
from lanner.outputs.fanout.httpbase import HttpTarget

RED, ORANGE, YELLOW, LIGHTCYAN, LIGHTBLUE, PALECYAN = "#e20b0b", "#ff5400", "#ffc700", "#5bffb5", "#68c2ff", "#ccfff2"
COLORS = {Priority.EMERGENCY: RED, Priority.ALERT: ORANGE, Priority.CRITICAL: ORANGE, Priority.ERROR: RED,
          Priority.WARNING: YELLOW, Priority.NOTICE: LIGHTCYAN, Priority.INFORMATIONAL: LIGHTBLUE,
          Priority.DEBUG: PALECYAN}
TEAMS_COLORS = {Priority.EMERGENCY: "e20b0b", Priority.ALERT: "ff5400", Priority.CRITICAL: "ff9000",
                Priority.ERROR: "ffc700", Priority.WARNING: "ffff00", Priority.NOTICE: "5bffb5",
                Priority.INFORMATIONAL: "68c2ff", Priority.DEBUG: "ccfff2"}
DISCORD_COLORS = {Priority.EMERGENCY: "15158332", Priority.ALERT: "11027200", Priority.CRITICAL: "15105570",
                  Priority.ERROR: "15844367", Priority.WARNING: "12745742", Priority.NOTICE: "3066993",
                  Priority.INFORMATIONAL: "3447003", Priority.DEBUG: "12370112"}
DEFAULT_ICON = "https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick.png"


class _ChatTarget(HttpTarget):
    """A chat webhook with ``output_format`` and an optional ``message_format`` template."""

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        # ``username`` is the name the message is posted as, not HTTP basic auth as for other targets
        super().__init__(name, {k: v for k, v in options.items() if k not in ("username", "password")})
        self.options = options
        self.fmt = str(options.get("output_format") or "all").lower()
        if self.fmt not in ("all", "text", "fields", "facts"):
            raise ValueError(f"output_format must be all, text or fields, not {self.fmt!r}")
        text = str(options.get("message_format") or "")
        try:
            self.template = message_template(text) if text else None
        except TemplateError as e:
            raise ValueError(f"message_format: {e}") from None

    def message_text(self, event: dict[str, Any], alert: Alert) -> str:
        return render_message(self.template, event, alert) if self.template is not None else ""

    def payload(self, event: dict[str, Any], alert: Alert) -> Any:
        raise NotImplementedError

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.post_json(self.url, self.payload(event, alert))


def _field(title: str, value: str, short: bool = True) -> dict[str, Any]:
    return {"title": title, "value": value, "short": short}


class SlackTarget(_ChatTarget):
    type_name = "slack"
    # where the hostname goes among the fields, and whether a footer is set: the three sidekick outputs differ
    host_after = "source"
    has_footer = True

    def fields(self, event: dict[str, Any], alert: Alert) -> list[dict[str, Any]]:
        host = [_field("hostname", event["hostname"])] if event.get("hostname") else []
        out = [_field("rule", event["rule"])]
        if self.host_after == "rule":
            out += host
        out += [_field("priority", event["priority"]), _field("source", event["source"])]
        if self.host_after == "source":
            out += host
        if event.get("tags"):
            out.append(_field("tags", ", ".join(sorted_tags(event))))
        out += [_field(k, v, len(v) < 36) for k, v in string_fields(event)]
        out.append(_field("time", go_time(alert.time_ns), False))
        if self.host_after == "time":
            out += host
        return out

    def attachment(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        with_fields = self.fmt in ("all", "fields")
        att: dict[str, Any] = {"fallback": event["output"], "color": COLORS[alert.priority]}
        if self.fmt in ("all", "text"):
            att["text"] = event["output"]
        att["fields"] = self.fields(event, alert) if with_fields else None
        if with_fields and self.has_footer and self.options.get("footer"):
            att["footer"] = str(self.options["footer"])
        return att

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        body: dict[str, Any] = {}
        text = self.message_text(event, alert)
        if text:
            body["text"] = text
        for key in ("username", "icon_url", "channel"):
            if self.options.get(key):
                body[key] = str(self.options[key])
        body["attachments"] = [self.attachment(event, alert)]
        return body


class MattermostTarget(SlackTarget):
    type_name = "mattermost"
    host_after = "rule"


class RocketchatTarget(SlackTarget):
    type_name = "rocketchat"
    host_after = "time"
    has_footer = False

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        body = super().payload(event, alert)
        body.setdefault("icon_url", DEFAULT_ICON)
        if self.fmt == "text":          # sidekick sends no attachment at all in text mode
            del body["attachments"]
        return body


class TeamsTarget(_ChatTarget):
    """MessageCard as sidekick sends it (``card: messagecard``), or an Adaptive Card for Workflows webhooks."""

    type_name = "teams"

    def facts(self, event: dict[str, Any]) -> list[tuple[str, str]]:
        out = [("rule", event["rule"]), ("priority", event["priority"]), ("source", event["source"])]
        if event.get("hostname"):
            out.append(("hostname", event["hostname"]))
        out += string_fields(event)
        if event.get("tags"):
            out.append(("tags", ", ".join(sorted_tags(event))))
        return out

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        with_text = self.fmt in ("all", "text")
        with_facts = self.fmt in ("all", "facts", "fields")
        if str(self.options.get("card") or "adaptive") == "adaptive":
            return self._adaptive(event, alert, with_text, with_facts)
        section: dict[str, Any] = {"activityTitle": str(self.options.get("title") or "lanner"),
                                   "activitySubtitle": go_time(alert.time_ns)}
        if self.options.get("activity_image"):
            section["activityImage"] = str(self.options["activity_image"])
        section["text"] = event["output"] if with_text else ""
        if with_facts:
            section["facts"] = [{"name": k, "value": v} for k, v in self.facts(event)]
        return {"@type": "MessageCard", "summary": event["output"], "themeColor": TEAMS_COLORS[alert.priority],
                "sections": [section]}

    def _adaptive(self, event: dict[str, Any], alert: Alert, with_text: bool, with_facts: bool) -> dict[str, Any]:
        body: list[dict[str, Any]] = [
            {"type": "TextBlock", "text": f"{event['priority']}: {event['rule']}", "weight": "Bolder",
             "size": "Medium", "color": "Attention" if alert.priority <= Priority.ERROR else "Default", "wrap": True}]
        if with_text:
            body.append({"type": "TextBlock", "text": event["output"], "wrap": True})
        if with_facts:
            facts = [*self.facts(event), ("time", go_time(alert.time_ns))]
            body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in facts]})
        card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                "version": "1.4", "body": body}
        return {"type": "message", "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}


class DiscordTarget(_ChatTarget):
    type_name = "discord"

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        fields = [{"name": "rule", "value": event["rule"], "inline": True},
                  {"name": "priority", "value": event["priority"], "inline": True},
                  {"name": "source", "value": event["source"], "inline": True}]
        if event.get("hostname"):
            fields.append({"name": "hostname", "value": event["hostname"], "inline": True})
        fields += [{"name": k, "value": f"```{v}```", "inline": True} for k, v in string_fields(event)]
        if event.get("tags"):
            fields.append({"name": "tags", "value": ", ".join(sorted_tags(event)), "inline": True})
        fields.append({"name": "time", "value": go_time(alert.time_ns), "inline": True})
        return {"content": "", "avatar_url": str(self.options.get("icon_url") or DEFAULT_ICON),
                "embeds": [{"title": "", "url": "", "description": event["output"],
                            "color": DISCORD_COLORS[alert.priority], "fields": fields}]}


class GoogleChatTarget(_ChatTarget):
    type_name = "googlechat"

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        text = self.message_text(event, alert)
        body: dict[str, Any] = {"text": text} if text else {}
        if self.fmt == "text":
            return body
        pairs = [("rule", event["rule"]), ("priority", event["priority"]), ("source", event["source"])]
        if event.get("hostname"):
            pairs.append(("hostname", event["hostname"]))
        pairs += string_fields(event)
        if event.get("tags"):
            pairs.append(("tags", ", ".join(sorted_tags(event))))
        pairs.append(("time", go_time(alert.time_ns)))
        widgets = [{"keyValue": {"topLabel": k, "content": v}} for k, v in pairs]
        body["cards"] = [{"header": {"title": "", "subtitle": ""}, "sections": [{"widgets": widgets}]}]
        return body


def webex_markdown(event: dict[str, Any]) -> str:
    """Sidekick's Webex message: a markdown summary with every tag and every output field."""
    lines = [f"# Falco Rule '{event['rule']}'\n\n### {event['output']}\n\nAdditional informations:\n",
             f"  * Hostname: {event.get('hostname') or ''}\n", f"  * Source:   {event['source']}  \n",
             f"  * Priority: {event['priority']}\n", "  * Tags:\n    "]
    lines += [f"\n    * {t}\n    " for t in sorted_tags(event)]
    lines.append("\n  * Fields:\n\t")
    fields = event.get("output_fields") or {}
    lines += [f"\n\t* {k}: {go_str(fields[k])}\n\t" for k in sorted(fields)]
    lines.append("\n")
    return "".join(lines)


class WebexTarget(HttpTarget):
    type_name = "webex"

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.post_json(self.url, {"markdown": webex_markdown(event)})


_CLIQ_EMOJI = {Priority.EMERGENCY: "\U0001F6A8", Priority.ALERT: "\U0001F7E0", Priority.CRITICAL: "\U0001F7E0",
               Priority.ERROR: "\U0001F6A8", Priority.WARNING: "\U0001F7E1", Priority.NOTICE: "\U0001F535",
               Priority.INFORMATIONAL: "\U0001F7E2", Priority.DEBUG: "\u26AA"}


class CliqTarget(_ChatTarget):
    """Zoho Cliq: text (the output, or ``message_format``), a table slide of the fields, a bot name and icon;
    ``use_emoji`` prefixes the text with sidekick's emoji for the priority."""

    type_name = "cliq"

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        slides: list[dict[str, Any]] = []
        if self.template is not None:
            text = self.message_text(event, alert)
            if self.fmt in ("all", "text"):
                slides.append({"type": "text", "data": event["output"]})
        else:
            text = event["output"]
        if self.fmt in ("all", "fields"):
            rows = [("rule", event["rule"]), ("priority", event["priority"])]
            if event.get("hostname"):
                rows.append(("hostname", event["hostname"]))
            rows += string_fields(event)
            rows.append(("time", go_time(alert.time_ns)))
            slides.append({"type": "table", "data": {"headers": ["field", "value"],
                                                     "rows": [{"field": k, "value": v} for k, v in rows]}})
        if self.options.get("use_emoji") in (True, "true", "True", "1"):
            text = f"{_CLIQ_EMOJI[alert.priority]} {text}"
        body: dict[str, Any] = {"text": text, "bot": {"name": str(self.options.get("username") or "lanner"),
                                                      "image": str(self.options.get("icon_url") or DEFAULT_ICON)}}
        if slides:
            body["slides"] = slides
        return body
