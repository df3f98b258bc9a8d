"""Kafka target on librdkafka (confluent-kafka, the optional extra ``lanner[kafka]``).

librdkafka does what a producer needs and a hand-written one would not: metadata and leader
look-ups, several brokers, partitioners, SASL, TLS, batching and compression. The worker hands the
target up to ``batch_size`` queued alerts at once; they are produced together (``linger_ms``) and
each one's delivery report decides whether it was sent, is retried or failed.

Options: ``address`` (``host:port[,host:port...]``, the bootstrap brokers; default ``127.0.0.1:9092``),
``topic`` (default ``falco``), ``partition`` (default: librdkafka's partitioner, by key),
``key`` (template with ``{rule}``, ``{priority}``, ``{hostname}``; empty = no key), ``acks`` (0, 1,
-1/``all``; default -1), ``timeout_ms`` (delivery timeout, default 10000), ``linger_ms`` (5),
``batch_size`` (alerts per batch, default 500), ``compression`` (``none``, ``gzip``, ``snappy``,
``lz4``, ``zstd``), ``tls`` (true: TLS to the brokers) with ``ca_cert``, ``client_cert``,
``client_key``, ``insecure`` (no certificate check), ``sasl_mechanism`` (``PLAIN``,
``SCRAM-SHA-256``, ``SCRAM-SHA-512``) with ``sasl_username`` and ``sasl_password`` (or
``sasl_password_env``), and ``librdkafka`` (a mapping of further librdkafka properties, as is).
The value is the JSON alert.

falcosidekick's names work too: ``hostport`` (= address), ``clientid``, ``sasl`` (``PLAIN``,
``SCRAM_SHA256``, ``SCRAM_SHA512``) with ``username``/``password``, ``requiredacks`` (``NONE``, ``ONE``,
``ALL`` = acks 0, 1, all), ``balancer`` (``round_robin`` and ``least_bytes``: librdkafka's ``random``
partitioner, sidekick's records having no key; ``crc32``/``crc32_random``: ``consistent``/``consistent_random``;
``murmur2``/``murmur2_random``), ``compression`` in capitals. ``async`` is accepted and changes nothing (lanner
never makes the event path wait; it still counts an alert sent only on its delivery report), and
``topiccreation`` is accepted: with librdkafka the broker's ``auto.create.topics.enable`` decides.
"""

from __future__ import annotations

import threading
from typing import Any

from lanner.core.alert import Alert
from lanner.outputs.fanout.base import PermanentError, Target, TransientError
from lanner.outputs.fanout.extras import sidekick_json

COMPRESSION = ("none", "gzip", "snappy", "lz4", "zstd")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SIDEKICK_SASL = {"SCRAM_SHA256": "SCRAM-SHA-256", "SCRAM_SHA512": "SCRAM-SHA-512"}
SIDEKICK_ACKS = {"NONE": "0", "ONE": "1", "ALL": "all"}
BALANCERS = {"round_robin": "random", "least_bytes": "random", "crc32": "consistent",
             "crc32_random": "consistent_random", "murmur2": "murmur2", "murmur2_random": "murmur2_random"}
_PENDING = object()
MISSING = "the kafka target needs the confluent-kafka library: pip install 'lanner[kafka]'"


def producer_config(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """librdkafka properties for a target's options (ValueError naming the option when one is wrong)."""
    options = _sidekick_names(name, options)
    acks = str(options.get("acks", -1)).lower()
    if acks not in ("0", "1", "-1", "all"):
        raise ValueError(f"fanout {name}: acks must be 0, 1, -1 or all, got {options.get('acks')!r}")
    compression = str(options.get("compression", "none")).lower()
    if compression not in COMPRESSION:
        raise ValueError(f"fanout {name}: compression must be one of {', '.join(COMPRESSION)}, got {compression!r}")
    timeout_ms = int(options.get("timeout_ms", 10000))
    conf: dict[str, Any] = {
        "bootstrap.servers": str(options.get("address", "127.0.0.1:9092")),
        "client.id": str(options.get("client_id", "lanner")),
        "acks": "all" if acks in ("-1", "all") else acks,
        "linger.ms": int(options.get("linger_ms", 5)),
        "batch.num.messages": int(options.get("batch_size", 500)),
        "compression.type": compression,
        "message.timeout.ms": timeout_ms,
        "socket.timeout.ms": max(10, min(timeout_ms, 60000)),
        "enable.idempotence": False,
    }
    tls = bool(options.get("tls", False))
    mechanism = str(options.get("sasl_mechanism", "")).upper()
    if mechanism:
        if mechanism not in SASL_MECHANISMS:
            raise ValueError(f"fanout {name}: sasl_mechanism must be one of {', '.join(SASL_MECHANISMS)}, "
                             f"got {mechanism!r}")
        if not options.get("sasl_username"):
            raise ValueError(f"fanout {name}: sasl_mechanism {mechanism} needs sasl_username and sasl_password")
        conf.update({"sasl.mechanism": mechanism, "sasl.username": str(options["sasl_username"]),
                     "sasl.password": str(options.get("sasl_password", ""))})
    conf["security.protocol"] = ("sasl_ssl" if tls else "sasl_plaintext") if mechanism else \
        ("ssl" if tls else "plaintext")
    if tls:
        for opt, prop in (("ca_cert", "ssl.ca.location"), ("client_cert", "ssl.certificate.location"),
                          ("client_key", "ssl.key.location")):
            if options.get(opt):
                conf[prop] = str(options[opt])
        if options.get("insecure"):
            conf["enable.ssl.certificate.verification"] = False
            conf["ssl.endpoint.identification.algorithm"] = "none"
    if options.get("balancer"):
        conf["partitioner"] = BALANCERS[str(options["balancer"]).lower()]
    extra = options.get("librdkafka") or {}
    if not isinstance(extra, dict):
        raise ValueError(f"fanout {name}: librdkafka must be a mapping of librdkafka properties")
    conf.update({str(k): v for k, v in extra.items()})
    return conf


def _sidekick_names(name: str, options: dict[str, Any]) -> dict[str, Any]:
    """falcosidekick's Kafka options in lanner's terms (lanner's own name wins when both are given)."""
    o = dict(options)
    for sk, own in (("hostport", "address"), ("clientid", "client_id"), ("username", "sasl_username"),
                    ("password", "sasl_password")):
        if o.get(sk) and not o.get(own):
            o[own] = o[sk]
    if o.get("sasl") and not o.get("sasl_mechanism"):
        mech = str(o["sasl"]).upper()
        o["sasl_mechanism"] = SIDEKICK_SASL.get(mech, mech)
    if o.get("requiredacks") and "acks" not in o:
        acks = str(o["requiredacks"]).upper()
        if acks not in SIDEKICK_ACKS:
            raise ValueError(f"fanout {name}: requiredacks must be NONE, ONE or ALL, got {o['requiredacks']!r}")
        o["acks"] = SIDEKICK_ACKS[acks]
    if o.get("balancer") and str(o["balancer"]).lower() not in BALANCERS:
        raise ValueError(f"fanout {name}: balancer must be one of {', '.join(BALANCERS)}, got {o['balancer']!r}")
    return o


class KafkaTarget(Target):
    type_name = "kafka"
    options_known = frozenset({"hostport", "clientid", "sasl", "username", "password", "requiredacks", "balancer",
                               "async", "topiccreation"})

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        options = _sidekick_names(name, options)
        super().__init__(name, options)
        conf = producer_config(name, options)
        try:
            import confluent_kafka
        except ImportError:
            raise ValueError(f"fanout {name}: {MISSING}") from None
        self._kafka = confluent_kafka
        self.topic = str(options.get("topic", "falco"))
        self.partition = int(options["partition"]) if options.get("partition") is not None else None
        self.key_template = str(options.get("key", ""))
        self.max_batch = max(1, int(options.get("batch_size", 500)))
        self.timeout = conf["message.timeout.ms"] / 1000
        self._errors: list[str] = []
        conf["error_cb"] = self._on_error
        try:
            self.producer = confluent_kafka.Producer(conf)
        except confluent_kafka.KafkaException as e:
            raise ValueError(f"fanout {name}: kafka: {e.args[0].str() if e.args else e}") from None
        self._lock = threading.Lock()

    def _on_error(self, err: Any) -> None:
        self._errors.append(err.str())

    def _key(self, event: dict[str, Any], alert: Alert) -> bytes | None:
        if not self.key_template:
            return None
        return (self.key_template.replace("{rule}", alert.rule).replace("{priority}", event["priority"])
                .replace("{hostname}", event["hostname"]).encode())

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        err = self.send_batch([(event, alert)])[0]
        if err is not None:
            raise err

    def send_batch(self, items: list[tuple[dict[str, Any], Alert]]) -> list[Exception | None]:
        k = self._kafka
        outcomes: list[Any] = [_PENDING] * len(items)

        def report(i: int) -> Any:
            def cb(err: Any, _msg: Any) -> None:
                if err is None:
                    outcomes[i] = None
                elif err.retriable() or err.code() in (k.KafkaError._MSG_TIMED_OUT, k.KafkaError._TRANSPORT,
                                                       k.KafkaError._ALL_BROKERS_DOWN):
                    outcomes[i] = TransientError(f"kafka: {err.str()}")
                else:
                    outcomes[i] = PermanentError(f"kafka: topic {self.topic}: {err.str()}")
            return cb

        with self._lock:
            for i, (event, alert) in enumerate(items):
                value = sidekick_json(event, alert)
                kw: dict[str, Any] = {"value": value, "key": self._key(event, alert), "on_delivery": report(i),
                                      "timestamp": alert.time_ns // 1_000_000}
                if self.partition is not None:
                    kw["partition"] = self.partition
                try:
                    self.producer.produce(self.topic, **kw)
                except BufferError:
                    self.producer.poll(0.1)
                    outcomes[i] = TransientError("kafka: local queue full")
                except k.KafkaException as e:
                    outcomes[i] = PermanentError(f"kafka: {e.args[0].str() if e.args else e}")
            self.producer.flush(self.timeout + 5)
        why = f" ({self._errors[-1]})" if self._errors else ""
        return [TransientError(f"kafka: not delivered within {self.timeout:g}s{why}") if o is _PENDING else o
                for o in outcomes]

    def close(self) -> None:
        try:
            self.producer.flush(1.0)
        except Exception:  # noqa: BLE001 - closing; nothing left to report to
            pass
