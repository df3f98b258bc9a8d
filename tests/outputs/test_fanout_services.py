"""Socket fan-out targets against real servers started by the tests (Redis and NATS: tests/outputs/fanout/): an SMTP
server with authentication (aiosmtpd) and Kafka brokers (librdkafka's built-in mock cluster, which speaks
the Kafka protocol over loopback), with a consumer reading the records back."""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes

import pytest

from lanner.config import Config, ConfigError
from lanner.core.priority import Priority
from lanner.outputs.fanout.kafka import producer_config
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from tests.outputs.helpers import make_alert


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


def run(targets: list[dict], alerts) -> OutputPipeline:
    p = OutputPipeline.from_config(Config(data={"fanout": targets}), AlertFormatter(hostname="node1"))
    for a in alerts:
        p.submit(a)
    p.close()
    return p


@dataclass
class Mail:
    sender: str
    rcpts: list[str]
    data: bytes
    login: bytes | None


class SmtpServer:
    """aiosmtpd on loopback: AUTH PLAIN/LOGIN checked against one user, mail only after a good login."""

    def __init__(self, user: str = "alerts", password: str = "s3cret") -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[Mail] = []
        self.logins: list[tuple[bytes, bool]] = []
        server = self

        def authenticate(_srv, _session, _envelope, mechanism, data) -> AuthResult:
            ok = (isinstance(data, LoginPassword) and data.login == user.encode()
                  and data.password == password.encode())
            server.logins.append((data.login if isinstance(data, LoginPassword) else b"", ok))
            return AuthResult(success=ok, handled=False, auth_data=data)

        class Handler:
            async def handle_DATA(self, _srv, session, envelope) -> str:
                login = session.auth_data.login if session.authenticated else None
                server.messages.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, login))
                return "250 Message accepted"

        self.port = free_port()
        with warnings.catch_warnings():      # AUTH without TLS: loopback only, on purpose
            warnings.simplefilter("ignore", UserWarning)
            self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                         authenticator=authenticate, auth_required=True, auth_require_tls=False)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def smtp_target(port: int, **kw) -> dict:
    return {"type": "smtp", "address": f"127.0.0.1:{port}", "from": "falco@example.org",
            "to": ["soc@example.org", "oncall@example.org"], "retries": 0, **kw}


def test_smtp_mail_after_authentication() -> None:
    srv = SmtpServer()
    try:
        p = run([smtp_target(srv.port, user="alerts", password="s3cret")], [make_alert(4, Priority.ERROR)])
    finally:
        srv.stop()
    assert p.stats()["fanout"]["smtp"]["sent"] == 1
    assert srv.logins == [(b"alerts", True)]
    [mail] = srv.messages
    assert mail.sender == "falco@example.org" and mail.rcpts == ["soc@example.org", "oncall@example.org"]
    assert mail.login == b"alerts"
    m = message_from_bytes(mail.data)
    assert m["Subject"] == "[Error] Test rule"
    assert m["From"] == "falco@example.org" and m["To"] == "soc@example.org, oncall@example.org"
    body = m.get_payload()
    assert "Error alert number 4 proc=bash" in body and "proc.name: bash" in body


def test_smtp_wrong_password_is_a_permanent_failure() -> None:
    srv = SmtpServer()
    try:
        p = run([smtp_target(srv.port, user="alerts", password="wrong", retries=3)], [make_alert()])
    finally:
        srv.stop()
    st = p.stats()["fanout"]["smtp"]
    assert (st["sent"], st["failed"], st["retries"]) == (0, 1, 0)       # bad credentials: not retried
    assert srv.logins == [(b"alerts", False)] * 2 and srv.messages == []   # smtplib tries PLAIN, then LOGIN


def test_smtp_without_login_is_refused_by_a_server_requiring_auth() -> None:
    srv = SmtpServer()
    try:
        p = run([smtp_target(srv.port)], [make_alert()])
    finally:
        srv.stop()
    assert p.stats()["fanout"]["smtp"]["failed"] == 1
    assert srv.logins == [] and srv.messages == []


class MockKafka:
    """A Kafka cluster from librdkafka's mock (``test.mock.num.brokers``): real brokers on loopback ports,
    owned by a client kept open for the test; ``bootstrap`` is their address list."""

    def __init__(self, brokers: int = 3) -> None:
        from confluent_kafka import Producer

        lines: list[str] = []

        class Grab(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                lines.append(record.getMessage())

        log = logging.getLogger(f"lanner-test-mock-kafka-{id(self)}")
        log.addHandler(Grab())
        log.setLevel(logging.DEBUG)
        log.propagate = False
        self.owner = Producer({"test.mock.num.brokers": brokers, "bootstrap.servers": "unused:1", "logger": log})
        deadline = time.monotonic() + 30
        found = None
        while found is None and time.monotonic() < deadline:
            self.owner.poll(0.1)
            found = next((m for ln in lines if (m := re.search(r"replaced with (\S+)", ln))), None)
        assert found is not None, lines
        self.bootstrap = found.group(1).rstrip(",")

    def read(self, topic: str, n: int, timeout: float = 30) -> list:
        """The first ``n`` records of ``topic`` (all partitions), read by a consumer of its own."""
        from confluent_kafka import Consumer
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": f"reader-{time.monotonic_ns()}",
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        try:
            c.subscribe([topic])
            out: list = []
            deadline = time.monotonic() + timeout
            while len(out) < n and time.monotonic() < deadline:
                m = c.poll(0.2)
                if m is not None and not m.error():
                    out.append(m)
            return out
        finally:
            c.close()


@pytest.fixture(scope="module")
def kafka() -> Iterator[MockKafka]:
    yield MockKafka()


def test_kafka_records_read_back_by_a_consumer(kafka: MockKafka) -> None:
    p = run([{"type": "kafka", "address": kafka.bootstrap, "topic": "falco-alerts", "key": "{rule}",
              "linger_ms": 20, "batch_size": 50}], [make_alert(i) for i in range(40)])
    st = p.stats()["fanout"]["kafka"]
    assert (st["produced"], st["sent"], st["failed"], st["dropped"]) == (40, 40, 0, 0)
    records = kafka.read("falco-alerts", 40)
    assert len(records) == 40
    assert {r.key() for r in records} == {b"Test rule"}
    assert len({r.partition() for r in records}) == 1            # one key, one partition
    assert [json.loads(r.value())["output_fields"]["n"] for r in records] == list(range(40))
    first = json.loads(records[0].value())
    assert first["rule"] == "Test rule" and first["hostname"] == "node1" and first["priority"] == "Warning"


def test_kafka_explicit_partition_and_no_key(kafka: MockKafka) -> None:
    p = run([{"type": "kafka", "address": kafka.bootstrap, "topic": "falco-p2", "partition": 2}],
            [make_alert(i) for i in range(3)])
    assert p.stats()["fanout"]["kafka"]["sent"] == 3
    records = kafka.read("falco-p2", 3)
    assert [(r.partition(), r.key()) for r in records] == [(2, None)] * 3


def test_kafka_unknown_partition_fails_each_alert(kafka: MockKafka) -> None:
    p = run([{"type": "kafka", "address": kafka.bootstrap, "topic": "falco-alerts", "partition": 999,
              "timeout_ms": 2000, "retries": 0}], [make_alert(i) for i in range(2)])
    st = p.stats()["fanout"]["kafka"]
    assert (st["sent"], st["failed"]) == (0, 2)


def test_kafka_unreachable_brokers_are_retried_then_failed() -> None:
    port = free_port()
    p = run([{"type": "kafka", "address": f"127.0.0.1:{port}", "timeout_ms": 500, "retries": 1, "backoff_ms": 10}],
            [make_alert()])
    st = p.stats()["fanout"]["kafka"]
    assert (st["sent"], st["failed"], st["retries"]) == (0, 1, 1)


def test_kafka_options_map_to_librdkafka() -> None:
    conf = producer_config("k", {"address": "b1:9093,b2:9093", "tls": True, "ca_cert": "/ca.pem",
                                 "client_cert": "/c.pem", "client_key": "/k.pem", "sasl_mechanism": "scram-sha-512",
                                 "sasl_username": "lanner", "sasl_password": "pw", "acks": 1, "linger_ms": 50,
                                 "batch_size": 100, "compression": "zstd", "librdkafka": {"retries": 7}})
    assert conf == {
        "bootstrap.servers": "b1:9093,b2:9093", "client.id": "lanner", "acks": "1", "linger.ms": 50,
        "batch.num.messages": 100, "compression.type": "zstd", "message.timeout.ms": 10000,
        "socket.timeout.ms": 10000, "enable.idempotence": False, "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "lanner", "sasl.password": "pw", "security.protocol": "sasl_ssl",
        "ssl.ca.location": "/ca.pem", "ssl.certificate.location": "/c.pem", "ssl.key.location": "/k.pem",
        "retries": 7}
    assert producer_config("k", {"sasl_mechanism": "PLAIN", "sasl_username": "u"})["security.protocol"] == \
        "sasl_plaintext"
    assert producer_config("k", {})["security.protocol"] == "plaintext"
    assert producer_config("k", {})["acks"] == "all"


@pytest.mark.parametrize("options, message", [
    ({"acks": 2}, "fanout k: acks must be 0, 1, -1 or all, got 2"),
    ({"compression": "brotli"}, "fanout k: compression must be one of none, gzip, snappy, lz4, zstd"),
    ({"sasl_mechanism": "GSSAPI"}, "fanout k: sasl_mechanism must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"),
    ({"sasl_mechanism": "PLAIN"}, "fanout k: sasl_mechanism PLAIN needs sasl_username and sasl_password"),
    ({"librdkafka": ["x"]}, "fanout k: librdkafka must be a mapping"),
])
def test_kafka_bad_options_name_the_option(options: dict, message: str) -> None:
    with pytest.raises(ValueError) as ei:
        producer_config("k", options)
    assert str(ei.value).startswith(message)


def test_kafka_sasl_credentials_from_the_environment(kafka: MockKafka, monkeypatch: pytest.MonkeyPatch) -> None:
    from lanner.outputs.fanout.config import resolve_secrets
    monkeypatch.setenv("LANNER_TEST_KAFKA_PW", "from-env")
    opts = resolve_secrets("fanout[0] (k)", {"sasl_mechanism": "PLAIN", "sasl_username": "u",
                                             "sasl_password_env": "LANNER_TEST_KAFKA_PW"})
    assert producer_config("k", opts)["sasl.password"] == "from-env"


def test_kafka_without_the_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)      # as if lanner[kafka] were not installed
    with pytest.raises(ConfigError) as ei:
        OutputPipeline.from_config(Config(data={"fanout": [{"type": "kafka", "name": "k"}]}), AlertFormatter())
    assert "the kafka target needs the confluent-kafka library: pip install 'lanner[kafka]'" in str(ei.value)
