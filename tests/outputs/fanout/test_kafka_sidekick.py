"""falcosidekick's Kafka section on librdkafka: its option names and values mapped, records produced to a
Kafka cluster (librdkafka's mock brokers on loopback) and read back by a consumer."""

from __future__ import annotations

import json

import pytest

from lanner.outputs.fanout.kafka import producer_config
from lanner.outputs.fanout.sidekick import translate
from tests.outputs.fanout.servers import run
from tests.outputs.helpers import make_alert

pytest.importorskip("confluent_kafka")
from tests.outputs.test_fanout_services import MockKafka  # noqa: E402


def test_sidekick_section_produces_records() -> None:
    kafka = MockKafka(brokers=2)
    t = translate("sidekick.yaml", {"kafka": {"hostport": kafka.bootstrap, "topic": "falco", "clientid": "sk",
                                              "requiredacks": "ALL", "balancer": "murmur2", "compression": "GZIP",
                                              "minimumpriority": "warning"}})
    assert t.not_applied == []
    p = run(t.entries, [make_alert(1), make_alert(2)])
    assert p.stats()["fanout"]["kafka"]["sent"] == 2
    records = kafka.read("falco", 2)
    assert sorted(json.loads(r.value())["output_fields"]["n"] for r in records) == [1, 2]
    assert all(r.key() is None for r in records)       # sidekick sends no key


def test_sidekick_values_map_to_librdkafka() -> None:
    entry = translate("sidekick.yaml", {"kafka": {"hostport": "b:9092", "topic": "t", "sasl": "SCRAM_SHA512",
                                                  "username": "u", "password": "p", "tls": True}}).entries[0]
    conf = producer_config("kafka", entry)
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512" and conf["sasl.username"] == "u"
    assert conf["security.protocol"] == "sasl_ssl" and conf["bootstrap.servers"] == "b:9092"
    assert conf["acks"] == "0" and conf["partitioner"] == "random"     # sidekick's defaults NONE, round_robin
    assert producer_config("k", {"balancer": "crc32", "requiredacks": "one"})["partitioner"] == "consistent"
    assert producer_config("k", {"requiredacks": "one"})["acks"] == "1"
    with pytest.raises(ValueError, match="balancer must be one of round_robin"):
        producer_config("k", {"balancer": "sticky"})
    with pytest.raises(ValueError, match="requiredacks must be NONE, ONE or ALL"):
        producer_config("k", {"requiredacks": "2"})
