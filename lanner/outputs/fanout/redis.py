"""Redis target on redis-py (the optional extra ``lanner[redis]``), with falcosidekick's options.

``storagetype`` ``list`` (default, as sidekick: ``RPUSH <key> <JSON alert>``), ``hashmap`` (as sidekick:
``HSET <key> <uuid> <JSON alert>``) or ``stream`` (lanner's: ``XADD <key> [MAXLEN ~ maxlen] *`` with the
fields ``rule``, ``priority``, ``source``, ``hostname``, ``time``, ``output`` and ``payload``).
Other options: ``address`` (``host:port``, ``redis://`` or ``rediss://`` URL; default ``127.0.0.1:6379``),
``username``, ``password`` (or ``password_env``), ``database``, ``key`` (default ``falco``), ``tls`` with
sidekick's ``checkcert``/``mutualtls``/``cacertfile``/``certfile``/``keyfile`` (or lanner's
``insecure``/``ca_cert``/``client_cert``/``client_key``), ``timeout_ms``.
"""

from __future__ import annotations

import ssl
from typing import Any

import orjson

from lanner.core.alert import Alert
from lanner.outputs.fanout.base import PermanentError, Target, TransientError
from lanner.outputs.fanout.extras import flag, need, split_hostport, tls_options
from lanner.outputs.fanout.falcopayload import as_json

STORAGE = ("list", "hashmap", "stream")


class RedisTarget(Target):
    type_name = "redis"
    options_known = frozenset({"address", "username", "password", "database", "key", "storagetype", "maxlen",
                               "tls", "checkcert", "mutualtls", "cacertfile", "certfile", "keyfile", "insecure",
                               "ca_cert", "client_cert", "client_key", "timeout_ms"})

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        redis = need("redis", "redis", name)
        self.storage = str(options.get("storagetype") or "list").lower()
        if self.storage not in STORAGE:
            raise ValueError(f"storagetype must be one of {', '.join(STORAGE)}, got {self.storage!r}")
        address = str(options.get("address") or "127.0.0.1:6379")
        host, port = split_hostport(address, 6379)
        tls = flag(options, "tls", False) or flag(options, "mutualtls", False) or address.startswith("rediss://")
        timeout = float(options.get("timeout_ms", 5000)) / 1000
        kw: dict[str, Any] = {}
        if tls:
            t = tls_options(options)
            kw = {"ssl": True, "ssl_cert_reqs": ssl.CERT_NONE if t.insecure else ssl.CERT_REQUIRED,
                  "ssl_check_hostname": not t.insecure, "ssl_ca_certs": t.ca_cert or None,
                  "ssl_certfile": t.client_cert or None, "ssl_keyfile": t.client_key or None}
        self._errors = redis.exceptions
        # retries are the worker's (counted, with backoff): the client itself tries once
        self.client = redis.Redis(host=host, port=port, db=int(options.get("database") or 0),
                                  username=options.get("username") or None, password=options.get("password") or None,
                                  socket_timeout=timeout, socket_connect_timeout=timeout,
                                  retry=redis.retry.Retry(redis.backoff.NoBackoff(), 0), **kw)
        self.key = str(options.get("key") or "falco")
        self.maxlen = int(options["maxlen"]) if options.get("maxlen") else None

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        doc = as_json(event, alert)
        payload = orjson.dumps(doc, default=str)
        e = self._errors
        try:
            if self.storage == "list":
                self.client.rpush(self.key, payload)
            elif self.storage == "hashmap":
                self.client.hset(self.key, doc["uuid"], payload)
            else:
                fields = {"rule": alert.rule, "priority": event["priority"], "source": event["source"],
                          "hostname": event["hostname"], "time": event["time"], "output": event["output"],
                          "payload": payload}
                self.client.xadd(self.key, fields, maxlen=self.maxlen, approximate=True)
        except (e.AuthenticationError, e.AuthorizationError, e.ResponseError) as err:
            self.client.connection_pool.disconnect()
            raise PermanentError(f"redis: {err}") from None
        except (e.ConnectionError, e.TimeoutError) as err:
            raise TransientError(f"redis: {err}") from None

    def close(self) -> None:
        self.client.close()
