"""NATS target on nats-py (the optional extra ``lanner[nats]``): the JSON alert published, then a flush
(a PING answered by the server) so that a delivered alert is one the server has.

Options, sidekick's names first: ``hostport`` (or ``address``; ``nats://host:port``, several comma-separated;
default ``nats://127.0.0.1:4222``), ``subjecttemplate`` (or ``subject``; default ``falco.<priority>.<rule>``,
the tokens ``<priority>`` (lower case) and ``<rule>`` (lower case, runs of characters other than a-z0-9 as
``_``, as sidekick) are replaced; ``{priority}``/``{rule}`` work too), ``user``/``password`` or ``token``
(each also as ``*_env``), ``credsfile`` (a NATS ``.creds`` file), TLS with ``tls:`` or a ``tls://`` address and
sidekick's ``checkcert``/``mutualtls``/``cacertfile``/``certfile``/``keyfile``, ``timeout_ms``.
"""

from __future__ import annotations

from typing import Any

from lanner.core.alert import Alert
from lanner.outputs.fanout.aioloop import LoopThread
from lanner.outputs.fanout.base import PermanentError, Target, TransientError
from lanner.outputs.fanout.extras import flag, need, sidekick_json, sidekick_slug, tls_options


class NatsTarget(Target):
    type_name = "nats"
    options_known = frozenset({"hostport", "address", "subjecttemplate", "subject", "user", "password", "token",
                               "credsfile", "tls", "checkcert", "mutualtls", "cacertfile", "certfile", "keyfile",
                               "insecure", "ca_cert", "client_cert", "client_key", "timeout_ms"})

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self._nats = need("nats", "nats", name)
        raw = str(options.get("hostport") or options.get("address") or "nats://127.0.0.1:4222")
        self.servers = [s.strip() if "://" in s else f"nats://{s.strip()}" for s in raw.split(",") if s.strip()]
        self.subject = str(options.get("subjecttemplate") or options.get("subject") or "falco.<priority>.<rule>")
        self.timeout = float(options.get("timeout_ms", 5000)) / 1000
        self.tls = (flag(options, "tls", False) or flag(options, "mutualtls", False)
                    or any(s.startswith("tls://") for s in self.servers))
        self._loop: LoopThread | None = None
        self._nc: Any = None

    def subject_for(self, event: dict[str, Any], alert: Alert) -> str:
        prio, rule = str(event["priority"]).lower(), sidekick_slug(alert.rule)
        return (self.subject.replace("<priority>", prio).replace("<rule>", rule)
                .replace("{priority}", prio).replace("{rule}", rule))

    async def _connect(self) -> Any:
        o = self.options
        kw: dict[str, Any] = {"servers": self.servers, "name": f"lanner-{self.name}", "allow_reconnect": False,
                              "connect_timeout": max(1, int(self.timeout)),
                              # one server list pass, no waits: retries are the worker's
                              "max_reconnect_attempts": 1, "reconnect_time_wait": 0}
        if o.get("user"):
            kw["user"], kw["password"] = str(o["user"]), str(o.get("password", ""))
        if o.get("token"):
            kw["token"] = str(o["token"])
        if o.get("credsfile"):
            kw["user_credentials"] = str(o["credsfile"])
        if self.tls:
            kw["tls"] = tls_options(o).context()
            kw["tls_hostname"] = None

        async def quiet(_e: Exception) -> None:   # errors reach us through the calls themselves
            return None
        kw["error_cb"] = quiet
        return await self._nats.connect(**kw)

    async def _publish(self, subject: str, body: bytes) -> None:
        if self._nc is None or self._nc.is_closed:
            self._nc = await self._connect()
        await self._nc.publish(subject, body)
        await self._nc.flush(timeout=self.timeout)

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        if self._loop is None:
            self._loop = LoopThread(self.name)
        body = sidekick_json(event, alert)
        try:
            self._loop.run(self._publish(self.subject_for(event, alert), body), self.timeout * 2 + 1)
        except Exception as e:  # noqa: BLE001 - classified below
            self._drop()
            msg = (str(e) or type(e).__name__).removeprefix("nats: ")
            if "authorization" in msg.lower() or "permissions" in msg.lower() or "authentication" in msg.lower():
                raise PermanentError(f"nats: {msg}") from None
            raise TransientError(f"nats: {msg}") from None

    def _drop(self) -> None:
        nc, self._nc = self._nc, None
        if nc is not None and self._loop is not None and not nc.is_closed:
            try:
                self._loop.run(nc.close(), 2)
            except Exception:  # noqa: BLE001 - already failing; the next send reconnects
                pass

    def close(self) -> None:
        if self._loop is not None:
            if self._nc is not None and not self._nc.is_closed:
                try:
                    self._loop.run(self._nc.drain(), self.timeout)
                except Exception:  # noqa: BLE001 - closing
                    pass
            self._loop.stop()
