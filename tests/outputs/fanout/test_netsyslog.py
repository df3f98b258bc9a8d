"""Sidekick's remote syslog output, received by real UDP and TCP sockets on loopback."""

from __future__ import annotations

import json
import re
import socket

from lanner.config import Config
from lanner.core.priority import Priority
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from tests.outputs.fanout.servers import tcp_receiver
from tests.outputs.helpers import make_alert

LINE = re.compile(r"^<(\d+)>(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00) (\S+) falco\[(\d+)\]: (.*)\n$", re.S)


def test_udp_json_and_tcp_cef() -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(30)
    tcp, got, t = tcp_receiver()
    p = OutputPipeline.from_config(Config(data={"fanout": [
        {"type": "syslog", "name": "u", "host": "127.0.0.1", "port": udp.getsockname()[1], "protocol": "udp"},
        {"type": "syslog", "name": "t", "host": "127.0.0.1", "port": tcp.getsockname()[1], "protocol": "tcp",
         "format": "cef"}]}), AlertFormatter(hostname="node1"))
    p.submit(make_alert(1, Priority.ERROR))
    p.close()
    data, _ = udp.recvfrom(65536)
    t.join(30)
    m = LINE.match(data.decode())
    assert m and m.group(1) == "3"                                   # LOG_ERR, facility 0
    body = json.loads(m.group(5))
    assert body["rule"] == "Test rule" and body["priority"] == "Error" and len(body["uuid"]) == 36
    m = LINE.match(got[0].decode())
    assert m and m.group(1) == "3"
    cef = m.group(5)
    assert cef.startswith("CEF:0|Falcosecurity|Falco|1.0|Falco Event|Test rule|7|uuid=")
    assert " start=2026-01-05T14:03:21Z msg=" in cef and " source=syscall hostname=node1 outputfields=" in cef
    assert cef.endswith("evt.time:1767621801123456790 n:1 proc.name:bash tags=container,shell")
    udp.close()
    tcp.close()
