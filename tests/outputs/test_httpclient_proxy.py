"""The shared HTTP client (http_output and the HTTP fan-out targets) through a real proxy, Debian's
tinyproxy, started on loopback: http:// forwarded, https:// tunnelled with CONNECT, proxy credentials,
no_proxy going direct."""

from __future__ import annotations

import getpass
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lanner.core.errors import HttpError
from lanner.outputs.httpclient import HttpClient, TlsOptions, proxy_for
from tests.conftest import require_tool
from tests.outputs.fanout.servers import free_port, run, stop, wait_port
from tests.outputs.helpers import Pki, RecordingServer, make_alert, server_tls

PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
              "NO_PROXY")


@dataclass
class Tinyproxy:
    port: int
    log: Path

    def seen(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def start_tinyproxy(d: Path, auth: str = "") -> tuple[subprocess.Popen, Tinyproxy]:
    port = free_port()
    log = d / "tinyproxy.log"
    user = getpass.getuser()
    conf = d / "tinyproxy.conf"
    conf.write_text(f"User {user}\nGroup {user}\nPort {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{log}\"\n"
                    f"LogLevel Info\nMaxClients 10\nAllow 127.0.0.1\n" + (f"BasicAuth {auth}\n" if auth else ""))
    proc = subprocess.Popen([require_tool("tinyproxy"), "-d", "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port, proc=proc)
    return proc, Tinyproxy(port, log)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tinyproxy]:
    proc, tp = start_tinyproxy(tmp_path_factory.mktemp("tinyproxy"))
    yield tp
    stop(proc)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for v in PROXY_VARS:
        monkeypatch.delenv(v, raising=False)


def test_http_url_forwarded_through_http_proxy(proxy: Tinyproxy, http_server: RecordingServer,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.port}")
    p = run([{"type": "webhook", "url": f"{http_server.url}/hook?x=1"}], [make_alert()])
    (req,) = http_server.wait_for(1)
    assert p.stats()["fanout"]["webhook"]["sent"] == 1
    assert req.path == "/hook?x=1" and "tinyproxy" in req.headers.get("Via", "")
    assert req.json()["rule"] == "Test rule"


def test_https_url_tunnelled_with_connect(proxy: Tinyproxy, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    srv = RecordingServer(tls=server_tls(pki))
    try:
        monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{proxy.port}")      # no scheme: http:// assumed
        c = HttpClient(tls=TlsOptions(ca_cert=str(pki.ca)), connect_timeout=10, timeout=10)
        for _ in range(2):                           # one tunnel, kept for the second request
            assert c.request("POST", f"{srv.url}/t", b"{}").status == 200
        c.close()
        reqs = srv.wait_for(2)
    finally:
        srv.stop()
    assert [r.path for r in reqs] == ["/t", "/t"] and "Via" not in reqs[0].headers   # end to end TLS
    assert proxy.seen().count(f"CONNECT 127.0.0.1:{srv.port}") == 1


def test_no_proxy_goes_direct(proxy: Tinyproxy, http_server: RecordingServer,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("NO_PROXY", "example.com,127.0.0.1")
    assert proxy_for("http", "127.0.0.1", http_server.port) is None
    assert proxy_for("http", "api.example.com", 80) is None
    assert proxy_for("http", "10.0.0.1", 80) is not None
    HttpClient(connect_timeout=10, timeout=10).request("GET", f"{http_server.url}/direct")
    (req,) = http_server.wait_for(1)
    assert "Via" not in req.headers


def test_proxy_credentials(tmp_path: Path, http_server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> None:
    proc, tp = start_tinyproxy(tmp_path, auth="falco s3cr3t")
    try:
        monkeypatch.setenv("http_proxy", f"http://falco:s3cr3t@127.0.0.1:{tp.port}")
        ok = HttpClient(connect_timeout=10, timeout=10).request("GET", f"{http_server.url}/a")
        monkeypatch.setenv("http_proxy", f"http://falco:wrong@127.0.0.1:{tp.port}")
        denied = HttpClient(connect_timeout=10, timeout=10).request("GET", f"{http_server.url}/b")
        monkeypatch.setenv("https_proxy", f"http://falco:wrong@127.0.0.1:{tp.port}")
        with pytest.raises(HttpError, match=f"through proxy 127.0.0.1:{tp.port}: Tunnel connection failed: 40[17]"):
            HttpClient(connect_timeout=10, timeout=10).request("GET", "https://127.0.0.1:1/")
    finally:
        stop(proc)
    assert ok.status == 200 and denied.status in (401, 407)      # tinyproxy answers 401
    assert [r.path for r in http_server.requests] == ["/a"]


def test_proxy_down_is_a_connect_error(monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("all_proxy", f"http://127.0.0.1:{port}")
    with pytest.raises(HttpError, match=f"through proxy 127.0.0.1:{port}"):
        HttpClient(connect_timeout=5, timeout=5).request("GET", "http://192.0.2.1/")
