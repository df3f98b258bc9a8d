"""The output channel feeding the agent's console store: ``deliver`` only enqueues (never blocks the
pipeline worker, let alone the event path); a full queue drops and counts."""

from __future__ import annotations

from lanner.config import Config
from lanner.console.agent import close_for, console_for
from lanner.console.record import RecordError, from_alert_json
from lanner.core.alert import Alert
from lanner.outputs.channels.base import Channel, ChannelError
from lanner.outputs.format import AlertFormatter


class ConsoleChannel(Channel):
    name = "webui"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.app = console_for(config)
        self.formatter = AlertFormatter(json_output=True, include_output=True, include_fields=True,
                                        include_tags=True)

    def deliver(self, alert: Alert, msg: str) -> None:
        try:
            rec = from_alert_json(self.formatter.as_dict(alert))
        except RecordError as e:
            raise ChannelError(f"webui: {e}") from None
        if not self.app.ingestor.offer(rec):
            raise ChannelError("webui: console store queue full, alert dropped")

    def close(self) -> None:
        close_for(self.config)
