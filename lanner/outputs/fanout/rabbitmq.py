"""RabbitMQ (AMQP 0-9-1) target on pika (the optional extra ``lanner[rabbitmq]``): the JSON alert
published to a queue through the default exchange, as falcosidekick does (content type ``text/plain``).

lanner also asks for publisher confirms and publishes ``mandatory``: an alert counts as sent once the broker
has it, and a queue that does not exist is a clear error instead of a message silently dropped.

Options (sidekick's names): ``url`` (``amqp://user:pass@host:port/vhost``, ``amqps://`` for TLS; required),
``queue`` (required), ``timeout_ms``; TLS checks as ``checkcert``/``cacertfile``/``certfile``/``keyfile``.
"""

from __future__ import annotations

from typing import Any

from lanner.core.alert import Alert
from lanner.outputs.fanout.base import PermanentError, Target, TransientError
from lanner.outputs.fanout.extras import need, sidekick_json, tls_options


class RabbitmqTarget(Target):
    type_name = "rabbitmq"
    options_known = frozenset({"url", "queue", "timeout_ms", "checkcert", "cacertfile", "certfile", "keyfile",
                               "insecure", "ca_cert", "client_cert", "client_key"})

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self.url = str(options.get("url") or "")
        self.queue = str(options.get("queue") or "")
        if not self.url or not self.queue:
            raise ValueError("options 'url' and 'queue' are required")
        self._pika = need("pika", "rabbitmq", name)
        try:
            self.params = self._pika.URLParameters(self.url)
        except Exception as e:  # noqa: BLE001 - pika raises several kinds for a bad URL
            raise ValueError(f"url: {e}") from None
        timeout = float(options.get("timeout_ms", 5000)) / 1000
        self.params.socket_timeout = timeout
        self.params.blocked_connection_timeout = timeout
        self.params.connection_attempts = 1
        if self.url.startswith("amqps://"):
            self.params.ssl_options = self._pika.SSLOptions(tls_options(options).context(), self.params.host)
        self.conn: Any = None
        self.channel: Any = None

    def _open(self) -> None:
        p = self._pika
        try:
            self.conn = p.BlockingConnection(self.params)
            self.channel = self.conn.channel()
            self.channel.confirm_delivery()
        except p.exceptions.ProbableAuthenticationError as e:
            self._drop()
            raise PermanentError(f"rabbitmq: authentication refused: {e}") from None
        except p.exceptions.AMQPError as e:
            self._drop()
            raise TransientError(f"rabbitmq {self.params.host}:{self.params.port}: {type(e).__name__} {e}") from None

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        p = self._pika
        if self.channel is None or not self.channel.is_open:
            self._drop()
            self._open()
        body = sidekick_json(event, alert)
        try:
            self.channel.basic_publish(exchange="", routing_key=self.queue, body=body, mandatory=True,
                                       properties=p.BasicProperties(content_type="text/plain"))
        except p.exceptions.UnroutableError:
            raise PermanentError(f"rabbitmq: queue {self.queue!r} does not exist (message returned)") from None
        except p.exceptions.NackError:
            raise TransientError(f"rabbitmq: queue {self.queue!r}: broker refused the message") from None
        except p.exceptions.AMQPError as e:
            self._drop()
            raise TransientError(f"rabbitmq: {type(e).__name__} {e}") from None

    def _drop(self) -> None:
        conn, self.conn, self.channel = self.conn, None, None
        if conn is not None and conn.is_open:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - already failing
                pass

    def close(self) -> None:
        self._drop()
