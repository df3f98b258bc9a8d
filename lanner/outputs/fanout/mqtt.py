"""MQTT target on paho-mqtt (the optional extra ``lanner[mqtt]``): the JSON alert published to a topic, as
falcosidekick does, on a connection kept open between alerts.

Options (sidekick's names): ``broker`` (``host:port``, ``tcp://`` or ``ssl://``/``tls://``/``mqtts://``;
required; port 1883, or 8883 with TLS), ``topic`` (default ``falco/events``), ``qos`` (0, 1, 2; default 0),
``retained`` (default false), ``user``/``password`` (or ``password_env``), ``checkcert`` (default true) with
``cacertfile``/``certfile``/``keyfile`` (or lanner's ``ca_cert``/``client_cert``/``client_key``), ``timeout_ms``.
With QoS 1 or 2 an alert counts as sent once the broker acknowledged it; with QoS 0 once it is written.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from lanner.core.alert import Alert
from lanner.outputs.fanout.base import PermanentError, Target, TransientError
from lanner.outputs.fanout.extras import flag, need, sidekick_json, split_hostport, tls_options

_TLS_SCHEMES = ("ssl://", "tls://", "mqtts://")


class MqttTarget(Target):
    type_name = "mqtt"
    options_known = frozenset({"broker", "topic", "qos", "retained", "user", "password", "checkcert", "cacertfile",
                               "certfile", "keyfile", "insecure", "ca_cert", "client_cert", "client_key", "tls",
                               "timeout_ms"})

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        broker = str(options.get("broker") or "")
        if not broker:
            raise ValueError("option 'broker' is required")
        self._mqtt = need("paho.mqtt.client", "mqtt", name)
        self.tls = broker.startswith(_TLS_SCHEMES) or flag(options, "tls", False)
        self.host, self.port = split_hostport(broker, 8883 if self.tls else 1883)
        self.topic = str(options.get("topic") or "falco/events")
        self.qos = int(options.get("qos", 0))
        if self.qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, got {options.get('qos')!r}")
        self.retained = flag(options, "retained", False)
        self.timeout = float(options.get("timeout_ms", 5000)) / 1000
        self.client: Any = None

    def _connect(self) -> Any:
        m = self._mqtt
        c = m.Client(m.CallbackAPIVersion.VERSION2, client_id=f"lanner-{self.name}-{uuid.uuid4().hex[:8]}")
        if self.options.get("user"):
            c.username_pw_set(str(self.options["user"]), str(self.options.get("password") or "") or None)
        if self.tls:
            c.tls_set_context(tls_options(self.options).context())
        done = threading.Event()
        result: list[Any] = []

        def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            result.append(reason)
            done.set()
        def on_disconnect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if not done.is_set():      # closed before CONNACK (e.g. the broker wanted a client certificate)
                result.append(reason)
                done.set()
        c.on_connect = on_connect
        c.on_disconnect = on_disconnect
        try:
            c.connect(self.host, self.port, keepalive=60)
        except OSError as e:
            raise TransientError(f"mqtt {self.host}:{self.port}: {e}") from None
        c.loop_start()
        if not done.wait(self.timeout):
            self._stop(c)
            raise TransientError(f"mqtt {self.host}:{self.port}: no CONNACK within {self.timeout:g}s")
        reason = result[0]
        if reason.is_failure or not c.is_connected():
            self._stop(c)
            msg = f"mqtt {self.host}:{self.port}: connection refused: {reason}"
            if "authori" in str(reason).lower() or "password" in str(reason).lower():
                raise PermanentError(msg)
            raise TransientError(msg)
        return c

    @staticmethod
    def _stop(c: Any) -> None:
        try:
            c.disconnect()
        finally:
            c.loop_stop()

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        if self.client is None or not self.client.is_connected():
            if self.client is not None:
                self._stop(self.client)
            self.client = None
            self.client = self._connect()
        body = sidekick_json(event, alert)
        info = self.client.publish(self.topic, body, qos=self.qos, retain=self.retained)
        try:
            info.wait_for_publish(self.timeout)
        except (RuntimeError, ValueError) as e:     # not queued: the connection went away
            raise TransientError(f"mqtt {self.host}:{self.port}: {e}") from None
        if not info.is_published():
            raise TransientError(f"mqtt {self.host}:{self.port}: not acknowledged within {self.timeout:g}s")

    def close(self) -> None:
        if self.client is not None:
            self._stop(self.client)
            self.client = None
