"""InfluxDB target: points written to a real influxd (Debian's 1.x, v1 API with authentication) started on
loopback and read back with InfluxQL; the v2 API request (org, bucket, token) checked at a recording server."""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import replace

import pytest

from lanner.config import ConfigError
from lanner.core.priority import Priority
from lanner.outputs.fanout.influxdb import line_for
from tests.conftest import require_tool
from tests.outputs.fanout.servers import free_port, run, stop, wait_port
from tests.outputs.helpers import RecordingServer, make_alert


def query(port: int, q: str, db: str = "", auth: bool = True) -> dict:
    params = {"u": "admin", "p": "pw"} if auth else {}   # influxd 1.x reads credentials from the URL only
    if db:
        params["db"] = db
    url = f"http://127.0.0.1:{port}/query?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, data=urllib.parse.urlencode({"q": q}).encode(), timeout=30) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def influx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    exe = require_tool("influxd")
    d = tmp_path_factory.mktemp("influx")
    port, rpc = free_port(), free_port()
    (d / "influxdb.conf").write_text(
        f'reporting-disabled = true\nbind-address = "127.0.0.1:{rpc}"\n[meta]\n  dir = "{d}/meta"\n'
        f'[data]\n  dir = "{d}/data"\n  wal-dir = "{d}/wal"\n  query-log-enabled = false\n'
        f'[http]\n  bind-address = "127.0.0.1:{port}"\n  auth-enabled = true\n  log-enabled = false\n'
        '[monitor]\n  store-enabled = false\n')
    proc = subprocess.Popen([exe, "-config", str(d / "influxdb.conf")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc=proc)
        query(port, "CREATE USER admin WITH PASSWORD 'pw' WITH ALL PRIVILEGES", auth=False)  # no user exists yet
        query(port, "CREATE DATABASE falco")
        yield port
    finally:
        stop(proc)


def test_points_read_back(influx: int) -> None:
    a = make_alert(1, Priority.CRITICAL, rule="Write below etc, again")
    a = replace(a, output_fields={**a.output_fields, "fd.name": "/etc/my file", "proc.cmdline": 'sh -c "x=1"'})
    p = run([{"type": "influxdb", "hostport": f"http://127.0.0.1:{influx}", "user": "admin", "password": "pw"}],
            [a, make_alert(2)])
    assert p.stats()["fanout"]["influxdb"]["sent"] == 2
    res = query(influx, "SELECT * FROM events", db="falco")["results"][0]["series"][0]
    rows = [dict(zip(res["columns"], v, strict=True)) for v in res["values"]]
    assert len(rows) == 2
    first = rows[0]
    assert first["time"] == "2026-01-05T14:03:21.12345679Z"     # make_alert(1): ...456789 + 1 ns
    assert first["rule"] == "Write_below_etc,_again" and first["priority"] == "Critical"
    assert first["source"] == "syscall" and first["hostname"] == "node1" and first["tags"] == "container_shell"
    assert first["fd.name"] == "/etc/my_file" and first["proc.name"] == "bash"
    assert first["proc.cmdline"] == 'sh_-c_"x=1"'
    assert first["value"].endswith("Critical alert number 1 proc=bash")
    denied = run([{"type": "influxdb", "hostport": f"http://127.0.0.1:{influx}", "user": "admin", "password": "no",
                   "retries": 2, "backoff_ms": 1}], [make_alert()])
    st = denied.stats()["fanout"]["influxdb"]
    assert st["failed"] == 1 and st["retries"] == 0


def test_v2_write_request(http_server: RecordingServer) -> None:
    run([{"type": "influxdb", "hostport": http_server.url, "organization": "sec", "bucket": "alerts",
          "token": "tok", "precision": "ms", "user": "ignored", "password": "ignored"}], [make_alert(3)])
    (req,) = http_server.wait_for(1)
    assert req.path == "/api/v2/write?org=sec&bucket=alerts&precision=ms"
    assert req.headers["Authorization"] == "Token tok" and req.headers["Accept"] == "application/json"
    assert req.body.decode() == ('events,rule=Test_rule,priority=Warning,source=syscall,proc.name=bash,'
                                 'hostname=node1,tags=container_shell '
                                 'value="14:03:21.123456792: Warning alert number 3 proc=bash" 1767621801123')


def test_line_escaping() -> None:
    ev = {"rule": "a=b", "priority": "Notice", "source": "syscall", "output": 'say "hi" \\ bye',
          "output_fields": {"k,1": "v=1", "n": 3, "empty": ""}, "hostname": "", "tags": []}
    assert line_for(ev, 1, 5) == r'events,rule=a\=b,priority=Notice,source=syscall,k\,1=v\=1 value="say \"hi\" \\ bye" 5'


def test_options_checked() -> None:
    with pytest.raises(ConfigError, match="hostport"):
        run([{"type": "influxdb"}], [])
    with pytest.raises(ConfigError, match="precision"):
        run([{"type": "influxdb", "hostport": "http://127.0.0.1:1", "precision": "days"}], [])
