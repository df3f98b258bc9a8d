"""Redis target on redis-py against a real redis-server (password, TLS port) started on loopback."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from lanner.core.priority import Priority
from tests.conftest import require_tool
from tests.outputs.fanout.servers import free_port, run, stop, wait_port
from tests.outputs.helpers import Pki, make_alert

redis = pytest.importorskip("redis")


@dataclass
class Server:
    port: int
    tls_port: int

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password="s3cret", db=db)


@pytest.fixture(scope="module")
def server(pki: Pki) -> Iterator[Server]:
    exe = require_tool("redis-server")
    port, tls_port = free_port(), free_port()
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--requirepass", "s3cret", "--tls-port", str(tls_port),
                             "--tls-cert-file", str(pki.server_cert), "--tls-key-file", str(pki.server_key),
                             "--tls-ca-cert-file", str(pki.ca), "--tls-auth-clients", "optional"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc=proc)
        yield Server(port, tls_port)
    finally:
        stop(proc)


def test_list_is_sidekicks_default(server: Server) -> None:
    p = run([{"type": "redis", "address": f"127.0.0.1:{server.port}", "password": "s3cret", "key": "k_list"}],
            [make_alert(i) for i in range(3)])
    assert p.stats()["fanout"]["redis"]["sent"] == 3
    items = [json.loads(x) for x in server.client().lrange("k_list", 0, -1)]
    assert [x["output_fields"]["n"] for x in items] == [0, 1, 2]
    assert items[0]["rule"] == "Test rule" and items[0]["priority"] == "Warning"
    assert set(items[0]) >= {"output", "priority", "rule", "time", "output_fields", "source", "tags", "hostname"}


def test_hashmap_and_database(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANNER_REDIS_PW", "s3cret")
    p = run([{"type": "redis", "address": f"redis://127.0.0.1:{server.port}", "password_env": "LANNER_REDIS_PW",
              "database": 3, "storagetype": "hashmap", "key": "k_hash"}], [make_alert(i) for i in range(2)])
    assert p.stats()["fanout"]["redis"]["sent"] == 2
    h = server.client(db=3).hgetall("k_hash")
    assert len(h) == 2 and sorted(json.loads(v)["output_fields"]["n"] for v in h.values()) == [0, 1]
    assert all(json.loads(v)["uuid"] == k.decode() for k, v in h.items())     # sidekick: HSET key uuid payload
    assert server.client().exists("k_hash") == 0


def test_stream_entries(server: Server) -> None:
    run([{"type": "redis", "address": f"127.0.0.1:{server.port}", "password": "s3cret", "storagetype": "stream",
          "key": "k_stream", "maxlen": 100}], [make_alert(1, Priority.CRITICAL)])
    (_id, fields), = server.client().xrange("k_stream")
    assert fields[b"rule"] == b"Test rule" and fields[b"priority"] == b"Critical"
    assert json.loads(fields[b"payload"])["output_fields"]["n"] == 1


def test_tls_with_the_test_ca(server: Server, pki: Pki) -> None:
    p = run([{"type": "redis", "address": f"127.0.0.1:{server.tls_port}", "password": "s3cret", "tls": True,
              "cacertfile": str(pki.ca), "key": "k_tls"}], [make_alert()])
    assert p.stats()["fanout"]["redis"]["sent"] == 1
    assert server.client().llen("k_tls") == 1
    untrusted = run([{"type": "redis", "address": f"127.0.0.1:{server.tls_port}", "password": "s3cret",
                      "tls": True, "cacertfile": str(pki.other_ca), "retries": 0}], [make_alert()])
    assert untrusted.stats()["fanout"]["redis"]["failed"] == 1


def test_failures_are_classified(server: Server) -> None:
    bad = run([{"type": "redis", "address": f"127.0.0.1:{server.port}", "password": "wrong", "retries": 2,
                "backoff_ms": 1}], [make_alert()])
    st = bad.stats()["fanout"]["redis"]
    assert st["failed"] == 1 and st["retries"] == 0
    down = run([{"type": "redis", "address": f"127.0.0.1:{free_port()}", "retries": 2, "backoff_ms": 1}],
               [make_alert()])
    st = down.stats()["fanout"]["redis"]
    assert st["failed"] == 1 and st["retries"] == 2


def test_bad_storage_type_is_a_config_error() -> None:
    from lanner.config import ConfigError
    with pytest.raises(ConfigError, match="storagetype"):
        run([{"type": "redis", "storagetype": "set"}], [])
