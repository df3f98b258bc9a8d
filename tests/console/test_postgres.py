"""The console on PostgreSQL (a real server started here): two lanner agents post into one console;
every alert survives a console restart (the writer drains its queue on SIGTERM, the data is in the
database, not in the console)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, shared_path
from tests.console.live import Console, http
from tests.console.pg import postgres_server
from tests.e2e.harness import user_config

RULE = """
- rule: Any syscall exit
  desc: every syscall exit event (fleet test)
  condition: evt.dir = <
  output: exit (evt.type=%evt.type proc.name=%proc.name fd.name=%fd.name)
  priority: NOTICE
  tags: [fleet_test]
"""


@pytest.fixture(scope="module")
def pg():
    pytest.importorskip("psycopg")
    with postgres_server() as server:
        yield server


@pytest.fixture
def pg_url(pg) -> str:
    return pg[0]


def agent(tmp: Path, host: str, console: Console, capture: Path, rules: Path) -> int:
    """One agent: replay a capture, alerts posted to the console; returns how many alerts it raised."""
    cfg = user_config(tmp, http_output={"enabled": True, "url": f"{console.url}/?token={console.token}"},
                      stdout_output={"enabled": True}, output_timeout=60000,
                      outputs_queue={"flush_timeout_ms": 120000})
    p = subprocess.run([sys.executable, "-m", "lanner", "-c", str(cfg), "-r", str(rules), "-e", str(capture)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "FALCO_HOSTNAME": host})
    assert p.returncode == 0, p.stderr[-2000:]
    return sum(1 for line in p.stdout.splitlines() if line.startswith("{") and '"rule"' in line)


def test_two_agents_one_console_restart_loses_nothing(pg_url: str, tmp_path: Path) -> None:
    from lanner.console.postgres import PostgresStore
    from lanner.console.store import Filter
    capture = shared_path("captures", "curl_google.scap")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULE)
    token = "fleet-token"
    keep = ("--max-age", "0")                            # the capture's alerts are years old
    c1 = Console(tmp_path, pg_url, token, rules, extra=keep)
    n_a = agent(tmp_path, "agent-a", c1, capture, rules)
    assert c1.stop() == 0                                 # SIGTERM right after agent A: the queue is drained
    c2 = Console(tmp_path, pg_url, token, rules, port=c1.port, extra=keep)
    try:
        n_b = agent(tmp_path, "agent-b", c2, capture, rules)
        assert n_a > 100 and n_b == n_a
        c2.stop()
        store = PostgresStore(pg_url)                      # straight from the database
        try:
            assert store.count(Filter(hostname="agent-a")) == n_a
            assert store.count(Filter(hostname="agent-b")) == n_b
            assert dict(store.breakdown(Filter(), "hostname")) == {"agent-a": n_a, "agent-b": n_b}
            assert store.count(Filter(fields={"evt.type": "connect"})) >= 2
            assert store.rule("Any syscall exit")["tags"] == ["fleet_test"]
        finally:
            store.close()
        c3 = Console(tmp_path, pg_url, token, extra=keep)             # a third console process reads the same data
        st, body = http(f"{c3.url}/ui/api/breakdown?dim=hostname", token)
        assert st == 200 and json.loads(body)["total"] == n_a + n_b
        c3.stop()
    finally:
        c2.stop()
    print(f"\nfleet: agent-a {n_a} + agent-b {n_b} alerts stored in PostgreSQL across a console restart")


def test_store_reconnects_after_a_server_restart(pg) -> None:
    from lanner.console.postgres import PostgresStore
    from lanner.console.record import from_alert_json
    from lanner.console.store import Filter
    url, restart = pg
    store = PostgresStore(url)
    try:
        doc = {"rule": "Reconnect", "priority": "Error", "time": "2026-01-01T00:00:00Z"}
        store.add([from_alert_json(doc)])
        restart()                                   # the connection the store holds is now dead
        assert store.count(Filter(rule="Reconnect")) == 1
        store.add([from_alert_json(doc)])
        assert store.count(Filter(rule="Reconnect")) == 2
    finally:
        store.close()
