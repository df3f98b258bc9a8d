"""MQTT target on paho-mqtt against a real mosquitto broker (password file, plain and TLS listeners) started
on loopback; a paho subscriber reads the messages back."""

from __future__ import annotations

import getpass
import json
import queue
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lanner.core.priority import Priority
from tests.conftest import require_tool
from tests.outputs.fanout.servers import free_port, run, stop, wait_port
from tests.outputs.helpers import Pki, make_alert

mqtt = pytest.importorskip("paho.mqtt.client")


@dataclass
class Broker:
    port: int
    tls_port: int
    mtls_port: int


@pytest.fixture(scope="module")
def broker(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    exe = require_tool("mosquitto")
    d = tmp_path_factory.mktemp("mosquitto")
    subprocess.run([require_tool("mosquitto_passwd"), "-b", "-c", str(d / "passwd"), "falco", "s3cret"], check=True,
                   capture_output=True, timeout=30)
    port, tls_port, mtls_port = free_port(), free_port(), free_port()
    tls = f"cafile {pki.ca}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
    conf = d / "mosquitto.conf"
    # as root mosquitto would switch to its own user, which cannot read the test's private temp dir
    conf.write_text(f"user {getpass.getuser()}\nper_listener_settings false\nallow_anonymous false\npassword_file {d / 'passwd'}\n"
                    f"persistence false\nlog_dest stderr\n"
                    f"listener {port} 127.0.0.1\n"
                    f"listener {tls_port} 127.0.0.1\n{tls}"
                    f"listener {mtls_port} 127.0.0.1\n{tls}require_certificate true\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc=proc)
        wait_port(tls_port, proc=proc)
        wait_port(mtls_port, proc=proc)
        yield Broker(port, tls_port, mtls_port)
    finally:
        stop(proc)


class Subscriber:
    def __init__(self, port: int, topic: str) -> None:
        self.q: queue.Queue = queue.Queue()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.c.username_pw_set("falco", "s3cret")
        subscribed = queue.Queue()
        self.c.on_message = lambda _c, _u, msg: self.q.put(msg)
        self.c.on_subscribe = lambda *_a: subscribed.put(True)
        self.c.connect("127.0.0.1", port)
        self.c.subscribe(topic, qos=1)
        self.c.loop_start()
        subscribed.get(timeout=10)

    def next(self):
        return self.q.get(timeout=10)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_json_alert_on_sidekicks_topic(broker: Broker) -> None:
    sub = Subscriber(broker.port, "falco/#")
    p = run([{"type": "mqtt", "broker": f"tcp://127.0.0.1:{broker.port}", "user": "falco", "password": "s3cret"}],
            [make_alert(1, Priority.CRITICAL), make_alert(2)])
    msgs = [sub.next(), sub.next()]
    sub.close()
    assert p.stats()["fanout"]["mqtt"]["sent"] == 2
    assert [m.topic for m in msgs] == ["falco/events", "falco/events"]
    bodies = [json.loads(m.payload) for m in msgs]
    assert [b["priority"] for b in bodies] == ["Critical", "Warning"] and bodies[0]["output_fields"]["n"] == 1


def test_qos1_retained_over_tls(broker: Broker, pki: Pki) -> None:
    p = run([{"type": "mqtt", "broker": f"ssl://127.0.0.1:{broker.tls_port}", "user": "falco", "password": "s3cret",
              "cacertfile": str(pki.ca), "topic": "sec/alerts", "qos": 1, "retained": True}], [make_alert(5)])
    assert p.stats()["fanout"]["mqtt"]["sent"] == 1
    sub = Subscriber(broker.port, "sec/alerts")     # subscribed after the publish: the retained copy
    msg = sub.next()
    sub.close()
    assert msg.retain and json.loads(msg.payload)["output_fields"]["n"] == 5
    untrusted = run([{"type": "mqtt", "broker": f"ssl://127.0.0.1:{broker.tls_port}", "user": "falco",
                      "password": "s3cret", "cacertfile": str(pki.other_ca), "retries": 0}], [make_alert()])
    assert untrusted.stats()["fanout"]["mqtt"]["failed"] == 1


def test_client_certificate(broker: Broker, pki: Pki) -> None:
    base = {"type": "mqtt", "broker": f"ssl://127.0.0.1:{broker.mtls_port}", "user": "falco", "password": "s3cret",
            "cacertfile": str(pki.ca), "retries": 0}
    ok = run([{**base, "certfile": str(pki.client_cert), "keyfile": str(pki.client_key)}], [make_alert()])
    refused = run([base], [make_alert()])
    assert ok.stats()["fanout"]["mqtt"]["sent"] == 1
    assert refused.stats()["fanout"]["mqtt"]["failed"] == 1


def test_failures_are_classified(broker: Broker) -> None:
    bad = run([{"type": "mqtt", "broker": f"127.0.0.1:{broker.port}", "user": "falco", "password": "wrong",
                "retries": 2, "backoff_ms": 1}], [make_alert()])
    st = bad.stats()["fanout"]["mqtt"]
    assert st["failed"] == 1 and st["retries"] == 0
    down = run([{"type": "mqtt", "broker": f"127.0.0.1:{free_port()}", "retries": 1, "backoff_ms": 1}],
               [make_alert()])
    st = down.stats()["fanout"]["mqtt"]
    assert st["failed"] == 1 and st["retries"] == 1


def test_bad_options(tmp_path: Path) -> None:
    from lanner.config import ConfigError
    with pytest.raises(ConfigError, match="broker"):
        run([{"type": "mqtt"}], [])
    with pytest.raises(ConfigError, match="qos"):
        run([{"type": "mqtt", "broker": "127.0.0.1:1", "qos": 3}], [])
