"""Webserver endpoints over real HTTP on 127.0.0.1; /metrics parsed with prometheus_client's parser."""

from __future__ import annotations

import http.client

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lanner import version
from lanner.config import Config, ConfigError
from lanner.server.metrics import EngineStats, FalcoInfo, MetricsRegistry, standard_registry
from lanner.server.webserver import WebServer, WebServerConfig, WebServerError
from lanner.sources.json_plugin import JsonPlugin
from lanner.sources.k8saudit import K8sAuditPlugin


def get(port: int, path: str) -> tuple[int, str, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type") or "", r.read()
    finally:
        c.close()


class Counters:
    """What an engine would keep: plain counters, read by the EngineStats callbacks."""

    def __init__(self) -> None:
        self.events = {"k8s_audit": 0}
        self.matches: dict[tuple[str, int, str, tuple[str, ...]], int] = {}
        self.sent = {"stdout": 0}

    def stats(self) -> EngineStats:
        return EngineStats(
            events_by_source=lambda: self.events,
            rule_matches=lambda: [(r, p, s, t, n) for (r, p, s, t), n in self.matches.items()],
            outputs_by_channel=lambda: self.sent,
            outputs_queue_drops=lambda: 3,
            engine_names=lambda: {"k8s_audit": "source_plugin"},
        )


@pytest.fixture
def server(tmp_path):
    rules = tmp_path / "k8s_audit_rules.yaml"
    rules.write_text("- rule: x\n")
    counters = Counters()
    plugins = [K8sAuditPlugin(), JsonPlugin()]
    reg = standard_registry(FalcoInfo(rules_files=[str(rules)]), counters.stats(), plugins=plugins)
    cfg = WebServerConfig(enabled=True, listen_address="127.0.0.1", listen_port=0, threadiness=2,
                          prometheus_metrics_enabled=True)
    ws = WebServer(cfg, plugin_versions={p.name: p.version for p in plugins}, metrics=reg, metrics_allowed=True)
    ws.start()
    yield ws, counters
    ws.stop()


def families(text: str) -> dict:
    out: dict = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append(s)
    return out


def test_healthz_and_versions(server) -> None:
    ws, _ = server
    st, ctype, body = get(ws.port, "/healthz")
    assert (st, ctype, body) == (200, "application/json", b'{"status": "ok"}')
    st, ctype, body = get(ws.port, "/versions")
    assert st == 200 and ctype == "application/json"
    doc = orjson.loads(body)
    assert list(doc) == sorted(doc)
    assert doc["engine_version"] == str(version.ENGINE_VERSION[1])
    assert doc["engine_version_semver"] == version.ENGINE_VERSION_STR
    assert doc["falco_version"] == version.FALCO_COMPAT_VERSION
    assert doc["plugin_versions"] == {"k8saudit": "0.18.0", "json": "0.7.0"}
    assert {"libs_version", "plugin_api_version", "driver_api_version", "driver_schema_version",
            "default_driver_version"} <= set(doc)
    assert b" " not in body.replace(b"Falco ", b"")   # compact
    assert get(ws.port, "/nope")[0] == 404


def test_metrics_registered_late_and_counters_move(server) -> None:
    ws, counters = server
    assert get(ws.port, "/metrics")[0] == 404          # before the sources are open
    ws.enable_metrics()
    st, ctype, body = get(ws.port, "/metrics")
    assert st == 200 and ctype == "text/plain; version=0.0.4"
    f1 = families(body.decode())
    assert f1["falcosecurity_falco_version_info"][0].labels == {"version": version.FALCO_COMPAT_VERSION}
    sha = f1["falcosecurity_falco_sha256_rules_files_info"][0].labels
    assert sha["file_name"] == "k8s_audit_rules.yaml" and len(sha["sha256"]) == 64
    assert f1["falcosecurity_scap_engine_name_info"][0].labels == {"engine_name": "source_plugin",
                                                                   "evt_source": "k8s_audit"}
    for name in ("falcosecurity_falco_cpu_usage_ratio", "falcosecurity_falco_memory_rss_bytes",
                 "falcosecurity_falco_memory_vsz_bytes", "falcosecurity_falco_host_num_cpus_total",
                 "falcosecurity_falco_start_timestamp_nanoseconds", "falcosecurity_falco_duration_seconds_total",
                 "falcosecurity_falco_outputs_queue_num_drops_total", "falcosecurity_plugins_k8saudit_n_evts_total"):
        assert name in f1, name
    assert f1["falcosecurity_falco_memory_rss_bytes"][0].value > 1_000_000
    assert f1["falcosecurity_falco_outputs_queue_num_drops_total"][0].value == 3
    assert "falcosecurity_falco_rules_matches_total" not in f1       # no match yet
    counters.events["k8s_audit"] = 42
    counters.matches[("Create Privileged Pod", 4, "k8s_audit", ("k8s", "mitre"))] = 2
    counters.sent["stdout"] = 2
    f2 = families(get(ws.port, "/metrics")[2].decode())
    m = f2["falcosecurity_falco_rules_matches_total"][0]
    assert m.value == 2 and m.labels == {"rule_name": "Create Privileged Pod", "priority": "4",
                                         "source": "k8s_audit", "tag_k8s": "true", "tag_mitre": "true"}
    assert f2["falcosecurity_lanner_n_evts_total"][0].value == 42
    assert f2["falcosecurity_lanner_outputs_sent_total"][0].labels == {"channel": "stdout"}


def test_metrics_disabled_stays_404(tmp_path) -> None:
    ws = WebServer(WebServerConfig(listen_address="127.0.0.1", listen_port=0), metrics=MetricsRegistry(),
                   metrics_allowed=True)
    ws.start()
    try:
        ws.enable_metrics()
        assert get(ws.port, "/metrics")[0] == 404     # prometheus_metrics_enabled false
        assert "plugin_versions" not in orjson.loads(get(ws.port, "/versions")[2])
    finally:
        ws.stop()


def test_config_and_bind_errors(server) -> None:
    ws, _ = server
    with pytest.raises(ConfigError, match='webserver listen address "localhost" is not a valid IP address'):
        WebServerConfig.from_config(Config({"webserver": {"listen_address": "localhost"}}))
    c = WebServerConfig.from_config(Config({"webserver": {"listen_port": "9000", "ssl_enabled": True}}))
    assert (c.listen_port, c.ssl_enabled, c.k8s_healthz_endpoint, c.listen_address) == (9000, True, "/healthz",
                                                                                          "0.0.0.0")
    clash = WebServer(WebServerConfig(listen_address="127.0.0.1", listen_port=ws.port))
    with pytest.raises(WebServerError, match="falco_webserver: cannot bind"):
        clash.start()
    nocert = WebServer(WebServerConfig(listen_address="127.0.0.1", listen_port=0, ssl_enabled=True,
                                       ssl_certificate="/nonexistent.pem"))
    with pytest.raises(WebServerError, match="ssl_certificate"):
        nocert.start()


def test_custom_healthz_path() -> None:
    ws = WebServer(WebServerConfig(listen_address="127.0.0.1", listen_port=0, k8s_healthz_endpoint="/health"))
    ws.start()
    try:
        assert get(ws.port, "/health")[0] == 200
        assert get(ws.port, "/healthz")[0] == 404
    finally:
        ws.stop()
