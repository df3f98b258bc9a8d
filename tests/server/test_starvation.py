"""Idle and slow clients cannot starve the webserver or the audit webhook (issue 19 item 3): with 50 idle
connections and 10 clients trickling half a request, /healthz (and a webhook POST) answer while they are all still connected;
the webhook matches the content type exactly and can require a bearer token or a client certificate."""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import orjson
import pytest

from lanner.httpserver import BoundedHTTPServer, media_type
from lanner.server.webserver import WebServer, WebServerConfig
from lanner.sources.api import SourceError
from lanner.sources.k8saudit import K8sAuditPlugin
from tests.conftest import require_tool
from tests.sources.k8saudit.test_hostile_input import event
from tests.sources.k8saudit.test_webhook import Running, post

N_IDLE = 50


def hog(port: int) -> list[socket.socket]:
    """50 connections that send nothing and 10 that send an unfinished request, all kept open."""
    socks = []
    for _ in range(N_IDLE):
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")      # never finished
        socks.append(s)
    return socks


def still_open(socks: list[socket.socket]) -> bool:
    """True while the server has closed none of the hogging connections (it drops idle ones after its
    10 s read timeout): an answer given while they are all open did not wait for them."""
    for s in socks:
        s.setblocking(False)
        try:
            if s.recv(1, socket.MSG_PEEK) == b"":
                return False
        except BlockingIOError:
            continue
    return True


@pytest.fixture
def webserver() -> Iterator[WebServer]:
    ws = WebServer(WebServerConfig(enabled=True, listen_address="127.0.0.1", listen_port=0, threadiness=1))
    ws.start()
    yield ws
    ws.stop()


def test_healthz_answers_within_a_second_with_50_idle_connections(webserver: WebServer) -> None:
    socks = hog(webserver.port)
    try:
        c = http.client.HTTPConnection("127.0.0.1", webserver.port, timeout=5)
        c.request("GET", "/healthz")
        r = c.getresponse()
        assert (r.status, r.read()) == (200, b'{"status": "ok"}')
        assert still_open(socks)
        c.close()
    finally:
        for s in socks:
            s.close()


def test_idle_connection_is_dropped_after_the_read_timeout() -> None:
    class Quick(BoundedHTTPServer):
        idle_timeout = 0.3

    class H(BaseHTTPRequestHandler):
        timeout = None

    srv = Quick(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        s = socket.create_connection(srv.server_address, timeout=10)
        assert s.recv(1) == b""          # the server closed the silent connection
        s.close()
        deadline = time.monotonic() + 10
        while srv.active_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        assert srv.active_connections == 0
    finally:
        srv.shutdown()
        srv.server_close()


def test_connection_cap_refuses_instead_of_queueing() -> None:
    class Capped(BoundedHTTPServer):
        max_connections = 3
        idle_timeout = 30

    srv = Capped(("127.0.0.1", 0), BaseHTTPRequestHandler)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        held = [socket.create_connection(srv.server_address, timeout=10) for _ in range(3)]
        deadline = time.monotonic() + 10
        while srv.active_connections < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        extra = socket.create_connection(srv.server_address, timeout=10)
        assert extra.recv(1) == b""
        assert srv.refused == 1
        for s in held + [extra]:
            s.close()
    finally:
        srv.shutdown()
        srv.server_close()


def test_backlog_fits_a_node_agent() -> None:
    assert BoundedHTTPServer.request_queue_size >= 1024


def test_webhook_post_answers_within_a_second_with_50_idle_connections() -> None:
    hook = Running()
    socks = hog(hook.port)
    try:
        assert post(hook.port, orjson.dumps(event("x")))[0] == 200
        assert still_open(socks)
        assert len(hook.wait_for(1)) == 1
    finally:
        for s in socks:
            s.close()
        hook.close()


@pytest.mark.parametrize("ctype,status", [
    ("application/json", 200), ("application/json; charset=utf-8", 200), ("Application/JSON", 200),
    ("application/jsonx", 400), ("text/plain; note=application/json", 400), ("application/json-patch+json", 400),
    ("", 400),
])
def test_webhook_content_type_is_matched_exactly(ctype: str, status: int) -> None:
    hook = Running()
    try:
        assert post(hook.port, orjson.dumps(event("x")), ctype=ctype)[0] == status
    finally:
        hook.close()


def test_media_type() -> None:
    assert media_type(" application/json ;charset=utf-8") == "application/json"
    assert media_type(None) == ""


def post_with(port: int, headers: dict[str, str]) -> int:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("POST", "/k8s-audit", body=orjson.dumps(event("x")),
                  headers={"Content-Type": "application/json", **headers})
        return c.getresponse().status
    finally:
        c.close()


def test_webhook_bearer_token(tmp_path) -> None:
    tok = tmp_path / "token"
    tok.write_text("s3cret-token\n")
    hook = Running({"webhookBearerTokenFile": str(tok)})
    try:
        assert post_with(hook.port, {}) == 401
        assert post_with(hook.port, {"Authorization": "Bearer wrong"}) == 401
        assert post_with(hook.port, {"Authorization": "Basic s3cret-token"}) == 401
        assert hook.plugin.webhook.stats.events == 0
        assert post_with(hook.port, {"Authorization": "Bearer s3cret-token"}) == 200
        assert len(hook.wait_for(1)) == 1
        assert any("bearer token" in e for e in hook.plugin.errors)
    finally:
        hook.close()


def test_bearer_token_config_errors(tmp_path) -> None:
    p = K8sAuditPlugin()
    with pytest.raises(SourceError, match="not both"):
        p.init({"webhookBearerToken": "a", "webhookBearerTokenFile": "/x"})
    with pytest.raises(SourceError, match="cannot read"):
        p.init({"webhookBearerTokenFile": str(tmp_path / "missing")})
    p.init({"webhookClientCA": "/ca.pem"})
    with pytest.raises(SourceError, match="needs an https"):
        p.open("http://127.0.0.1:0/k8s-audit")


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def test_webhook_mtls(tmp_path) -> None:
    require_tool("openssl")
    d = tmp_path
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    for name, cn in (("server", "127.0.0.1"), ("client", "kube-apiserver")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", str(d / f"{name}.key"),
                "-out", str(d / f"{name}.csr"))
        openssl("x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / "ca.pem"), "-CAkey",
                str(d / "ca.key"), "-CAcreateserial", "-days", "1", "-out", str(d / f"{name}.pem"))
    (d / "falco.pem").write_bytes((d / "server.pem").read_bytes() + (d / "server.key").read_bytes())
    hook = Running({"sslCertificate": str(d / "falco.pem"), "webhookClientCA": str(d / "ca.pem")}, scheme="https")
    try:
        ctx = ssl.create_default_context(cafile=str(d / "ca.pem"))
        ctx.check_hostname = False
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            post(hook.port, orjson.dumps(event("anon")), ctx=ctx)
        ctx.load_cert_chain(str(d / "client.pem"), str(d / "client.key"))
        assert post(hook.port, orjson.dumps(event("apiserver")), ctx=ctx)[0] == 200
        evts = hook.wait_for(1)
        assert [orjson.loads(e.data)["auditID"] for e in evts] == ["apiserver"]
    finally:
        hook.close()
