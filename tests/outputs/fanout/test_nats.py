"""NATS target on nats-py against a real nats-server (user/password, then TLS) started on loopback;
a raw-protocol subscriber reads the messages back."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator

import pytest

from lanner.core.priority import Priority
from tests.conftest import require_tool
from tests.outputs.fanout.servers import free_port, run, stop, wait_port
from tests.outputs.helpers import Pki, make_alert

pytest.importorskip("nats")


def start(*args: str) -> tuple[subprocess.Popen, int]:
    exe = require_tool("nats-server")
    port = free_port()
    proc = subprocess.Popen([exe, "-a", "127.0.0.1", "-p", str(port), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc=proc)
    return proc, port


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    proc, port = start("--user", "u", "--pass", "p")
    yield port
    stop(proc)


class Subscriber:
    def __init__(self, port: int, subject: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.sock.makefile("rb")
        self.f.readline()
        self.sock.sendall(b'CONNECT {"user":"u","pass":"p","verbose":false}\r\nSUB %s 1\r\nPING\r\n' % subject.encode())
        assert self.f.readline() == b"PONG\r\n"

    def next(self) -> tuple[str, dict]:
        head = self.f.readline().split()
        assert head[0] == b"MSG", head
        body = self.f.read(int(head[-1]) + 2)
        return head[1].decode(), json.loads(body)

    def close(self) -> None:
        self.sock.close()


def test_sidekick_subject_and_payload(port: int) -> None:
    sub = Subscriber(port, "falco.>")
    p = run([{"type": "nats", "hostport": f"nats://127.0.0.1:{port}", "user": "u", "password": "p"}],
            [make_alert(1, Priority.CRITICAL, rule="Write below /etc (user-mode)"), make_alert(2)])
    first, second = sub.next(), sub.next()
    sub.close()
    assert p.stats()["fanout"]["nats"]["sent"] == 2
    assert first[0] == "falco.critical.write_below_etc_user_mode"
    assert first[1]["rule"] == "Write below /etc (user-mode)" and first[1]["output_fields"]["n"] == 1
    assert second[0] == "falco.warning.test_rule"


def test_subject_template(port: int) -> None:
    sub = Subscriber(port, "sec.>")
    run([{"type": "nats", "address": f"127.0.0.1:{port}", "user": "u", "password": "p",
          "subjecttemplate": "sec.<rule>.<priority>"}], [make_alert()])
    subject, _ = sub.next()
    sub.close()
    assert subject == "sec.test_rule.warning"


def test_failures_are_classified(port: int) -> None:
    bad = run([{"type": "nats", "address": f"127.0.0.1:{port}", "user": "u", "password": "x", "retries": 2,
                "backoff_ms": 1}], [make_alert()])
    st = bad.stats()["fanout"]["nats"]
    assert st["failed"] == 1 and st["retries"] == 0
    down = run([{"type": "nats", "address": f"127.0.0.1:{free_port()}", "retries": 1, "backoff_ms": 1,
                 "timeout_ms": 1000}], [make_alert()])
    st = down.stats()["fanout"]["nats"]
    assert st["failed"] == 1 and st["retries"] == 1


def test_tls(pki: Pki) -> None:
    proc, port = start("--tls", "--tlscert", str(pki.server_cert), "--tlskey", str(pki.server_key))
    try:
        ok = run([{"type": "nats", "hostport": f"tls://127.0.0.1:{port}", "cacertfile": str(pki.ca)}],
                 [make_alert()])
        untrusted = run([{"type": "nats", "hostport": f"tls://127.0.0.1:{port}", "cacertfile": str(pki.other_ca),
                          "retries": 0}], [make_alert()])
    finally:
        stop(proc)
    assert ok.stats()["fanout"]["nats"]["sent"] == 1
    assert untrusted.stats()["fanout"]["nats"]["failed"] == 1
