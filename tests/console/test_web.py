"""The console over real HTTP(S): the standalone server receiving alerts from lanner's own http_output
channel (basic auth in the URL, gzip uploads), long-poll wake-up, errors; the agent's channel never waits."""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
import urllib.error
import urllib.request

import pytest

from lanner.config import Config, ConfigError
from lanner.console.ingest import Ingestor
from lanner.console.server import ConsoleServer
from lanner.console.settings import ConsoleSettings
from lanner.console.store import SQLiteStore
from lanner.console.web import Access, AccessError, ConsoleApp
from lanner.outputs.channels.http import HttpChannel
from lanner.outputs.format import AlertFormatter
from tests.outputs.helpers import make_alert, make_pki


@pytest.fixture
def console(tmp_path):
    store = SQLiteStore(str(tmp_path / "c.db"))
    ing = Ingestor(store)
    app = ConsoleApp(store, ing, Access(token="tok", user="ops", password="s3cret"), ingest=True)
    srv = ConsoleServer(app, "127.0.0.1", 0)
    srv.start()
    yield srv
    srv.stop()
    ing.close()
    store.close()


def req(url: str, *, auth: str | None = None, data: bytes | None = None, headers: dict | None = None,
        context: ssl.SSLContext | None = None) -> tuple[int, dict, bytes]:
    r = urllib.request.Request(url, data=data, headers=headers or {})
    if auth:
        r.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(r, timeout=10, context=context) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


BASIC = "Basic " + base64.b64encode(b"ops:s3cret").decode()


def test_access_settings_are_required() -> None:
    with pytest.raises(AccessError, match="needs webui.token"):
        Access()
    with pytest.raises(ConfigError, match="neither webui.token"):
        ConsoleSettings.from_config(Config({"webui": {"enabled": True}}))
    with pytest.raises(ConfigError, match="webui.retention.max_age"):
        ConsoleSettings.from_config(Config({"webui": {"token": "x", "retention": {"max_age": "soon"}}}))
    s = ConsoleSettings.from_config(Config({"webui": {"enabled": True, "user": "u", "password": "p",
                                                      "retention": {"max_age": "12h"}}}))
    assert s.max_age_s == 12 * 3600


def test_http_output_into_console(console: ConsoleServer) -> None:
    base = f"http://127.0.0.1:{console.port}"
    fmt = AlertFormatter(json_output=True)
    ch = HttpChannel(f"http://ops:s3cret@127.0.0.1:{console.port}/", json_output=True, compress_uploads=True)
    for n in range(5):
        a = make_alert(n)
        ch.deliver(a, fmt.render(a))
    ch.close()
    assert console.app.ingestor.flush(10)
    st, _, body = req(base + "/ui/api/alerts?f.n=3", auth=BASIC)
    rows = json.loads(body)["alerts"]
    assert st == 200 and len(rows) == 1 and rows[0]["rule"] == "Test rule" and rows[0]["hostname"] == "node1"
    st, _, body = req(base + "/ui/api/breakdown?dim=tag,hostname", auth="Bearer tok")
    assert json.loads(body) == {"total": 5, "breakdown": {"tag": [["container", 5], ["shell", 5]],
                                                          "hostname": [["node1", 5]]}}
    assert req(base + "/ui/api/alerts", auth="Basic " + base64.b64encode(b"ops:wrong").decode())[0] == 401
    st, hdrs, _ = req(base + "/ui/")
    assert st == 401 and hdrs["WWW-Authenticate"].startswith("Basic")


def test_bad_posts_are_refused_with_a_reason(console: ConsoleServer) -> None:
    base = f"http://127.0.0.1:{console.port}"
    st, _, body = req(base + "/?token=tok", data=b"09:00:00: Warning text output")
    assert st == 400 and b"json_output: true" in body
    st, _, body = req(base + "/?token=tok", data=json.dumps({"rule": "r", "priority": "nope"}).encode())
    assert st == 400 and b"'priority'" in body
    st, _, body = req(base + "/?token=tok", data=b"x", headers={"Content-Encoding": "gzip"})
    assert st == 400 and b"gzip" in body
    st, _, _ = req(base + "/ui/api/alerts?limit=many", auth="Bearer tok")
    assert st == 400
    assert req(base + "/ui/api/alert/999", auth="Bearer tok")[0] == 404
    assert req(base + "/ui/nothing", auth="Bearer tok")[0] == 404


def test_long_poll_wakes_on_new_alert(console: ConsoleServer) -> None:
    base = f"http://127.0.0.1:{console.port}"
    doc = json.dumps({"rule": "R", "priority": "Critical", "time": "2026-01-01T00:00:00Z"}).encode()
    req(base + "/?token=tok", data=doc)
    assert console.app.ingestor.flush(10)
    last = json.loads(req(base + "/ui/api/alerts", auth="Bearer tok")[2])["last_id"]
    out: dict = {}

    def poll() -> None:
        t0 = time.monotonic()
        out["resp"] = json.loads(req(f"{base}/ui/api/alerts?after={last}&wait=15", auth="Bearer tok")[2])
        out["waited"] = time.monotonic() - t0

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    assert th.is_alive()                     # nothing new yet: the request is parked
    req(base + "/ui/api/alerts?token=tok", data=doc)
    th.join(15)
    assert [a["rule"] for a in out["resp"]["alerts"]] == ["R"] and out["resp"]["last_id"] == last + 1
    assert out["waited"] < 14                # woken by the insert, not by the timeout


def test_tls(tmp_path) -> None:
    pki = make_pki(tmp_path / "pki")
    store = SQLiteStore(":memory:")
    ing = Ingestor(store)
    srv = ConsoleServer(ConsoleApp(store, ing, Access(token="t")), "127.0.0.1", 0,
                        tls_cert=str(pki.server_cert), tls_key=str(pki.server_key))
    srv.start()
    try:
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        st, hdrs, body = req(f"https://127.0.0.1:{srv.port}/ui/", auth="Bearer t", context=ctx)
        assert st == 200 and b"lanner console" in body and "script-src 'self'" in hdrs["Content-Security-Policy"]
        assert req(f"https://127.0.0.1:{srv.port}/ui/", context=ctx)[0] == 401
    finally:
        srv.stop()
        ing.close()


class _StuckStore(SQLiteStore):
    """A store that hangs (disk, network database) until the test opens the gate."""

    gate = threading.Event()

    def add(self, records):
        assert self.gate.wait(30)
        return super().add(records)


def test_agent_channel_never_waits_for_the_store(tmp_path) -> None:
    from lanner.console import agent
    from lanner.console.channel import ConsoleChannel
    cfg = Config({"webui": {"enabled": True, "token": "t", "store": str(tmp_path / "a.db"), "queue_capacity": 3}})
    ch = ConsoleChannel(cfg)
    app = agent.console_for(cfg)
    assert app is ch.app and agent.mounts(cfg) == {"/ui/": app.handle}
    stuck = _StuckStore(":memory:")
    app.ingestor.store = stuck
    fmt = AlertFormatter()
    errors = 0
    for n in range(50):
        try:
            ch.deliver(make_alert(n), fmt.render(make_alert(n)))
        except Exception:  # noqa: BLE001 - a full queue is reported as the channel's failure, counted
            errors += 1
    assert not stuck.gate.is_set()           # all 50 returned while the store was hung
    assert errors >= 40 and app.ingestor.dropped == errors
    stuck.gate.set()
    assert app.ingestor.flush(10) and app.ingestor.stored == 50 - errors
    ch.close()


def test_agent_mount_on_the_webserver_over_tls(tmp_path) -> None:
    """The agent's console is served by lanner's webserver, with the webserver's TLS settings."""
    from lanner.server.webserver import WebServer, WebServerConfig
    pki = make_pki(tmp_path / "pki")
    pem = tmp_path / "server.pem"
    pem.write_bytes(pki.server_cert.read_bytes() + pki.server_key.read_bytes())
    store = SQLiteStore(":memory:")
    ing = Ingestor(store)
    app = ConsoleApp(store, ing, Access(token="t"), max_wait=5.0)
    web = WebServer(WebServerConfig(enabled=True, listen_address="127.0.0.1", listen_port=0, ssl_enabled=True,
                                    ssl_certificate=str(pem)), mounts={app.prefix: app.handle})
    web.start()
    try:
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        base = f"https://127.0.0.1:{web.port}"
        assert req(base + "/ui/", context=ctx)[0] == 401
        st, _, body = req(base + "/ui/app.js", auth="Bearer t", context=ctx)
        assert st == 200 and b"api/alerts" in body
        assert req(base + "/ui/api/alerts", auth="Bearer t", context=ctx)[0] == 200
        assert req(base + "/healthz", context=ctx)[0] == 200           # the webserver's own routes untouched
        assert req(base + "/uix", context=ctx)[0] == 404
    finally:
        web.stop()
        ing.close()
