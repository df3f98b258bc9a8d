"""Sidekick's TimescaleDB output against a real PostgreSQL server (the table plays the hypertable)."""

from __future__ import annotations

import pytest

from lanner.config import Config
from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from tests.console.pg import postgres_server

psycopg = pytest.importorskip("psycopg")


def test_rows_as_sidekick_writes_them() -> None:
    with postgres_server() as (url, _restart):
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("CREATE DATABASE falcosidekick")
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        with psycopg.connect(url.rsplit("/", 1)[0] + "/falcosidekick", autocommit=True) as c:
            c.execute("CREATE TABLE falcosidekick_events (time TIMESTAMPTZ NOT NULL, rule TEXT, priority TEXT, "
                      "source TEXT, output TEXT, tags TEXT, hostname TEXT, cluster TEXT, team TEXT)")
        p = OutputPipeline.from_config(Config(data={"fanout": {
            "customfields": {"cluster": "eu1", "team": "null"},
            "timescaledb": {"host": "127.0.0.1", "port": str(port), "password": ""}}}),
            AlertFormatter(hostname="node1"))
        p.submit(Alert(time_ns=1_767_621_801_123_456_789, rule="Shell", priority=Priority.ERROR, source="syscall",
                       message="shell run", output_fields={"proc.name": "bash"}, tags=("b", "a"), hostname="node1"))
        p.close()
        assert p.fanout.stats()["timescaledb"]["sent"] == 1
        with psycopg.connect(url.rsplit("/", 1)[0] + "/falcosidekick") as c:
            rows = c.execute("SELECT extract(epoch FROM time)::text, rule, priority, source, output, tags, hostname, "
                             "cluster, team FROM falcosidekick_events").fetchall()
        assert len(rows) == 1
        epoch, rule, prio, source, output, tags, host, cluster, team = rows[0]
        assert epoch == "1767621801.123456" and (rule, prio, source, tags, host) == (
            "Shell", "Error", "syscall", "a,b", "node1")
        assert output.endswith("Error shell run") and cluster == "eu1" and team is None     # "null" -> NULL
