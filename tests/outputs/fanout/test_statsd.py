"""StatsD and DogStatsD targets: the datagrams a real UDP socket on loopback receives."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from lanner.config import ConfigError
from lanner.core.priority import Priority
from tests.outputs.fanout.servers import run
from tests.outputs.helpers import make_alert


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(10)
    yield s
    s.close()


def lines(sock: socket.socket, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        out += sock.recv(65536).decode().split("\n")
    return out


def test_statsd_counts_per_priority_as_sidekick(receiver: socket.socket) -> None:
    port = receiver.getsockname()[1]
    p = run([{"type": "statsd", "forwarder": f"127.0.0.1:{port}", "min_priority": "warning"}],
            [make_alert(1, Priority.CRITICAL), make_alert(2, Priority.NOTICE), make_alert(3)])
    assert p.stats()["fanout"]["statsd"]["sent"] == 2
    assert sorted(lines(receiver, 2)) == ["falcosidekick.falco.accepted.Critical:1|c",
                                          "falcosidekick.falco.accepted.Warning:1|c"]


def test_dogstatsd_tags(receiver: socket.socket) -> None:
    port = receiver.getsockname()[1]
    p = run([{"type": "dogstatsd", "forwarder": f"127.0.0.1:{port}", "namespace": "sec.",
              "tags": "env:prod, team:blue"}], [make_alert(1, Priority.ERROR)])
    assert p.stats()["fanout"]["dogstatsd"]["sent"] == 1
    assert lines(receiver, 1) == ["sec.falco.accepted:1|c|#priority:Error,env:prod,team:blue"]


def test_options_checked() -> None:
    with pytest.raises(ConfigError, match="forwarder"):
        run([{"type": "statsd"}], [])
    with pytest.raises(ConfigError, match="tags"):
        run([{"type": "dogstatsd", "forwarder": "127.0.0.1:8125", "tags": {"a": 1}}], [])


def test_statsd_global_tags(receiver: socket.socket) -> None:
    port = receiver.getsockname()[1]
    run([{"type": "statsd", "forwarder": f"127.0.0.1:{port}", "tags": ["env:prod"]}], [make_alert()])
    assert lines(receiver, 1) == ["falcosidekick.falco.accepted.Warning:1|c|#env:prod"]
