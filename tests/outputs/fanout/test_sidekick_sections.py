"""falcosidekick sections of the library-backed outputs move over unchanged: every option is applied
(none reported as not applied), the targets build, and minimumpriority holds at a real receiver."""

from __future__ import annotations

import pytest

from lanner.core.priority import Priority
from lanner.outputs.fanout.config import build_workers
from lanner.outputs.fanout.sidekick import translate
from tests.outputs.fanout.servers import run
from tests.outputs.helpers import RecordingServer, make_alert

SIDEKICK = {
    "aws": {"region": "eu-west-3", "accesskeyid": "AKIAEXAMPLE000000001", "secretaccesskey": "s",
            "rolearn": "", "checkidentity": False,
            "sns": {"topicarn": "arn:aws:sns:eu-west-3:1:falco", "rawjson": True, "minimumpriority": "error"},
            "sqs": {"url": "https://sqs.eu-west-3.amazonaws.com/1/q"},
            "s3": {"bucket": "alerts", "prefix": "falco", "endpoint": "http://127.0.0.1:1",
                   "objectcannedacl": "private"},
            "cloudwatchlogs": {"loggroup": "falco", "logstream": "node1"}},
    "redis": {"address": "127.0.0.1:6379", "storagetype": "hashmap", "key": "k", "database": 1},
    "nats": {"hostport": "nats://127.0.0.1:4222", "subjecttemplate": "sec.<rule>"},
    "mqtt": {"broker": "tcp://127.0.0.1:1883", "topic": "t", "qos": 1, "retained": True, "user": "u",
             "password": "p", "checkcert": False},
    "rabbitmq": {"url": "amqp://guest:guest@127.0.0.1:5672/", "queue": "falco"},
    "influxdb": {"hostport": "http://127.0.0.1:8086", "database": "sec", "precision": "ms", "user": "u",
                 "password": "p"},
    "statsd": {"forwarder": "127.0.0.1:8125", "namespace": "x."},
    "dogstatsd": {"forwarder": "127.0.0.1:8125", "tags": ["env:prod"]},
}


def test_every_option_applied_and_targets_build() -> None:
    t = translate("sidekick.yaml", SIDEKICK)
    assert t.not_applied == []
    by_type = {e["type"]: e for e in t.entries}
    assert sorted(by_type) == ["aws_cloudwatchlogs", "aws_s3", "dogstatsd", "influxdb", "mqtt", "nats", "rabbitmq",
                               "redis", "sns", "sqs", "statsd"]
    assert by_type["sns"]["rawjson"] is True and by_type["sns"]["min_priority"] == "error"
    assert by_type["aws_s3"]["region"] == "eu-west-3" and by_type["aws_s3"]["objectcannedacl"] == "private"
    assert by_type["mqtt"]["insecure"] is True
    workers = build_workers(t.entries)
    try:
        targets = {w.target.type_name: w.target for w in workers}
        assert targets["aws_cloudwatchlogs"].stream == "node1"
        assert targets["aws_s3"].session.get_credentials().method == "explicit"
        assert targets["redis"].storage == "hashmap" and targets["nats"].subject == "sec.<rule>"
        assert targets["influxdb"].write_url.endswith("/write?db=sec&u=u&p=p&precision=ms")
        assert targets["mqtt"].qos == 1 and targets["mqtt"].retained
        assert targets["dogstatsd"].tags == ["env:prod"] and targets["statsd"].namespace == "x."
    finally:
        for w in workers:
            w.close(0)


def test_minimumpriority_at_a_receiver(http_server: RecordingServer) -> None:
    entries = translate("sidekick.yaml", {"influxdb": {"hostport": http_server.url,
                                                       "minimumpriority": "critical"}}).entries
    p = run(entries, [make_alert(1, Priority.WARNING), make_alert(2, Priority.EMERGENCY)])
    (req,) = http_server.wait_for(1)
    assert req.path == "/write?db=falco&precision=ns" and b"priority=Emergency" in req.body
    assert p.stats()["fanout"]["influxdb"]["produced"] == 1


def test_unknown_option_in_a_list_entry_is_an_error() -> None:
    from lanner.config import ConfigError
    with pytest.raises(ConfigError, match="unknown option 'storage_type'"):
        build_workers([{"type": "redis", "storage_type": "list"}])
