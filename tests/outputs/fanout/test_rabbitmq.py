"""RabbitMQ target on pika against a real rabbitmq-server (Debian's) started on loopback by the module, with
its own epmd; messages read back with pika."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lanner.core.priority import Priority
from tests.outputs.fanout.servers import free_port, run, wait_port
from tests.outputs.helpers import Pki, make_alert

pika = pytest.importorskip("pika")
SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


@dataclass
class Broker:
    port: int
    tls_port: int


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Broker]:
    if not os.path.exists(SERVER) or not shutil.which("epmd"):
        pytest.skip("rabbitmq-server is not installed (scripts/setup.sh installs it)")
    d: Path = tmp_path_factory.mktemp("rabbitmq")
    port, tls_port, dist, epmd_port = free_port(), free_port(), free_port(), free_port()
    env = {**os.environ, "HOME": str(d), "ERL_EPMD_PORT": str(epmd_port),
           "RABBITMQ_NODENAME": f"lanner{port}@localhost", "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
           "RABBITMQ_NODE_PORT": str(port), "RABBITMQ_DIST_PORT": str(dist),
           "RABBITMQ_MNESIA_BASE": str(d / "mnesia"), "RABBITMQ_LOG_BASE": str(d / "log"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"), "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
           "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"), "RABBITMQ_PID_FILE": str(d / "pid")}
    (d / "enabled_plugins").write_text("[].\n")
    (d / "rabbitmq.conf").write_text(
        f"listeners.ssl.1 = 127.0.0.1:{tls_port}\nssl_options.cacertfile = {pki.ca}\n"
        f"ssl_options.certfile = {pki.server_cert}\nssl_options.keyfile = {pki.server_key}\n"
        "ssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\n")
    epmd = subprocess.Popen(["epmd", "-port", str(epmd_port), "-address", "127.0.0.1"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    server = subprocess.Popen([SERVER], env=env, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_port(port, timeout=180, proc=server)
        wait_port(tls_port, timeout=60, proc=server)
        yield Broker(port, tls_port)
    finally:
        _kill_group(server)
        _kill_group(epmd)


def channel(port: int, queue: str):
    conn = pika.BlockingConnection(pika.URLParameters(f"amqp://guest:guest@127.0.0.1:{port}/%2F"))
    ch = conn.channel()
    ch.queue_declare(queue=queue)
    return conn, ch


def test_json_alert_in_the_queue(broker: Broker) -> None:
    conn, ch = channel(broker.port, "falco")
    p = run([{"type": "rabbitmq", "url": f"amqp://guest:guest@127.0.0.1:{broker.port}/", "queue": "falco"}],
            [make_alert(1, Priority.CRITICAL), make_alert(2)])
    assert p.stats()["fanout"]["rabbitmq"]["sent"] == 2
    got = []
    for _ in range(2):
        method, props, body = ch.basic_get("falco", auto_ack=True)
        assert method is not None
        got.append((props.content_type, json.loads(body)))
    conn.close()
    assert [g[0] for g in got] == ["text/plain", "text/plain"]
    assert [g[1]["priority"] for g in got] == ["Critical", "Warning"] and got[0][1]["output_fields"]["n"] == 1


def test_amqps_with_the_test_ca(broker: Broker, pki: Pki) -> None:
    conn, ch = channel(broker.port, "falco-tls")
    url = f"amqps://guest:guest@127.0.0.1:{broker.tls_port}/"
    ok = run([{"type": "rabbitmq", "url": url, "queue": "falco-tls", "cacertfile": str(pki.ca)}], [make_alert(4)])
    untrusted = run([{"type": "rabbitmq", "url": url, "queue": "falco-tls", "cacertfile": str(pki.other_ca),
                      "retries": 0}], [make_alert()])
    method, _props, body = ch.basic_get("falco-tls", auto_ack=True)
    conn.close()
    assert ok.stats()["fanout"]["rabbitmq"]["sent"] == 1 and json.loads(body)["output_fields"]["n"] == 4
    assert untrusted.stats()["fanout"]["rabbitmq"]["failed"] == 1


def test_missing_queue_and_bad_login_are_permanent(broker: Broker) -> None:
    url = f"amqp://guest:guest@127.0.0.1:{broker.port}/"
    p = run([{"type": "rabbitmq", "url": url, "queue": "no-such-queue", "retries": 2, "backoff_ms": 1}],
            [make_alert()])
    st = p.stats()["fanout"]["rabbitmq"]
    assert st["failed"] == 1 and st["retries"] == 0
    bad = run([{"type": "rabbitmq", "url": f"amqp://guest:wrong@127.0.0.1:{broker.port}/", "queue": "falco",
                "retries": 2, "backoff_ms": 1}], [make_alert()])
    st = bad.stats()["fanout"]["rabbitmq"]
    assert st["failed"] == 1 and st["retries"] == 0


def test_down_broker_is_retried() -> None:
    p = run([{"type": "rabbitmq", "url": f"amqp://guest:guest@127.0.0.1:{free_port()}/", "queue": "q",
              "retries": 1, "backoff_ms": 1}], [make_alert()])
    st = p.stats()["fanout"]["rabbitmq"]
    assert st["failed"] == 1 and st["retries"] == 1


def test_required_options() -> None:
    from lanner.config import ConfigError
    with pytest.raises(ConfigError, match="queue"):
        run([{"type": "rabbitmq", "url": "amqp://127.0.0.1/"}], [])
