"""Sidekick's Logstash output: JSON lines (CRLF) received by real TCP and TLS sockets on loopback."""

from __future__ import annotations

import json

from lanner.config import Config
from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from tests.outputs.fanout.servers import tcp_receiver
from tests.outputs.helpers import Pki, server_tls


def test_json_lines_over_tcp_and_tls(pki: Pki) -> None:
    plain, got_plain, t1 = tcp_receiver(sep=b"\r\n", count=2)
    tls, got_tls, t2 = tcp_receiver(server_tls(pki, require_client=True), sep=b"\r\n", count=2)
    alerts = [Alert(time_ns=1_767_621_801_000_000_000 + i, rule="R", priority=Priority.WARNING, source="syscall",
                    message=f"m{i}", output_fields={"proc.aname[2]": "sshd"}, tags=("b",), hostname="node1")
              for i in range(2)]
    p = OutputPipeline.from_config(Config(data={"fanout": {
        "logstash": {"address": "127.0.0.1", "port": plain.getsockname()[1], "tags": ["falco", "k8s"]},
    }}), AlertFormatter(hostname="node1"))
    q = OutputPipeline.from_config(Config(data={"fanout": {
        "logstash": {"address": "127.0.0.1", "port": tls.getsockname()[1], "mutualtls": True},
        "mutualtlsclient": {"certfile": str(pki.client_cert), "keyfile": str(pki.client_key),
                            "cacertfile": str(pki.ca)}}}), AlertFormatter(hostname="node1"))
    for a in alerts:
        p.submit(a)
        q.submit(a)
    p.close()
    q.close()
    t1.join(30)
    t2.join(30)
    for got in (got_plain, got_tls):
        lines = got[0].split(b"\r\n")
        assert len(lines) == 3 and lines[2] == b""           # two alerts, one connection, CRLF-terminated
        first = json.loads(lines[0])
        assert first["output_fields"]["proc.aname.2"] == "sshd" and "proc.aname[2]" not in first["output_fields"]
        assert first["rule"] == "R"
    assert json.loads(got_plain[0].split(b"\r\n")[0])["tags"] == ["b", "falco", "k8s"]
    plain.close()
    tls.close()
