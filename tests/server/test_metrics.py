"""Metric naming, metrics.* configuration and the metrics snapshot (internal alert and file)."""

from __future__ import annotations

import orjson
import pytest

from lanner.config import Config, ConfigError
from lanner.core.priority import Priority
from lanner.server.metrics import (
    COUNTER,
    GAUGE,
    MEMORY_KIB,
    PERCENTAGE,
    TIME_S,
    TIMESTAMP_NS,
    EngineStats,
    FalcoInfo,
    Metric,
    prometheus_name,
    standard_registry,
)
from lanner.server.snapshot import (
    INTERVAL_ERROR,
    NO_OUTPUT_ERROR,
    NUMERIC_INTERVAL_ERROR,
    SNAPSHOT_RULE,
    MetricsConfig,
    MetricsSnapshotter,
    parse_interval,
)


@pytest.mark.parametrize("m,name,value,typ", [
    (Metric("cpu_usage_perc", 12.5, "falco", PERCENTAGE, GAUGE), "falcosecurity_falco_cpu_usage_ratio", 0.125, GAUGE),
    (Metric("memory_rss_kb", 10, "falco", MEMORY_KIB, GAUGE), "falcosecurity_falco_memory_rss_bytes", 10240, GAUGE),
    (Metric("duration_sec", 5, "falco", TIME_S, COUNTER), "falcosecurity_falco_duration_seconds_total", 5, COUNTER),
    (Metric("reload_ts", 7, "falco", TIMESTAMP_NS, GAUGE), "falcosecurity_falco_reload_timestamp_nanoseconds", 7,
     GAUGE),
    (Metric("n_drops_buffer", 1, "scap"), "falcosecurity_scap_n_drops_buffer_total", 1, COUNTER),
    (Metric("k8saudit.n_evts", 1, "plugins"), "falcosecurity_plugins_k8saudit_n_evts_total", 1, COUNTER),
])
def test_prometheus_names(m, name, value, typ) -> None:
    assert prometheus_name(m) == (name, value, typ)


@pytest.mark.parametrize("text,ms", [("100ms", 100), ("15s", 15000), ("1h30m", 5400000), ("1 m 2 s", 62000),
                                     ("1d", 86400000), ("1w", 604800000), ("1y", 31536000000), ("2s500ms", 2500)])
def test_interval(text, ms) -> None:
    assert parse_interval(text) == ms


def test_interval_errors() -> None:
    with pytest.raises(ConfigError) as e:
        parse_interval("5000")
    assert str(e.value) == NUMERIC_INTERVAL_ERROR
    for bad in ("99ms", "abc", "1s1h", "", "-1s"):
        with pytest.raises(ConfigError) as e:
            parse_interval(bad)
        assert str(e.value) == INTERVAL_ERROR


def test_metrics_config() -> None:
    assert not MetricsConfig.from_config(Config({})).enabled
    with pytest.raises(ConfigError, match="Metrics interval was passed as numeric"):
        MetricsConfig.from_config(Config({"metrics": {"enabled": True, "output_rule": True}}))   # code default
    with pytest.raises(ConfigError) as e:
        MetricsConfig.from_config(Config({"metrics": {"enabled": True, "interval": "1s"}}))
    assert str(e.value) == NO_OUTPUT_ERROR
    c = MetricsConfig.from_config(Config({"metrics": {"enabled": True, "interval": "1h", "output_file": "/x"},
                                          "webserver": {"prometheus_metrics_enabled": False}}))
    assert c.interval_ms == 3600000 and c.log_line() == "Setting metrics interval to 1h, equivalent to 3600000 (ms)"
    MetricsConfig.from_config(Config({"metrics": {"enabled": True, "interval": "1s"},
                                      "webserver": {"prometheus_metrics_enabled": True}}))


def test_snapshot_alert_and_file(tmp_path) -> None:
    events = {"k8s_audit": 10}
    matches = [("Create Privileged Pod", 4, "k8s_audit", (), 3)]
    stats = EngineStats(events_by_source=lambda: events, rule_matches=lambda: matches)
    rules = tmp_path / "my-rules.yaml"
    rules.write_text("[]")
    info = FalcoInfo(rules_files=[str(rules)])
    out = tmp_path / "metrics.jsonl"
    cfg = MetricsConfig.from_config(Config({"metrics": {"enabled": True, "interval": "100ms", "output_rule": True,
                                                        "output_file": str(out)}}))
    alerts = []
    snap = MetricsSnapshotter(cfg, standard_registry(info, stats), info, stats, sources=lambda: ["k8s_audit"],
                              emit=alerts.append)
    m1 = snap.tick(now_ns=10**18)[0]
    events["k8s_audit"] = 30
    m2 = snap.tick(now_ns=10**18 + 2 * 10**9)[0]
    assert m1["falco.num_evts"] == 10 and "falco.evts_rate_sec" not in m1
    assert m2["falco.num_evts_prev"] == 10 and m2["falco.evts_rate_sec"] == 10.0
    assert m2["falco.rules.Create_Privileged_Pod"] == 3 and m2["falco.rules.matches_total"] == 3
    assert len(m2["falco.sha256_rules_file.my_rules_yaml"]) == 64
    assert m2["falco.memory_rss_mb"] > 1 and "falco.memory_rss_kb" not in m2
    assert m2["evt.source"] == "k8s_audit" and m2["falco.host_num_cpus"] >= 1
    assert len(alerts) == 2
    a = alerts[1]
    assert (a.rule, a.priority, a.message, a.source) == (SNAPSHOT_RULE, Priority.INFORMATIONAL,
                                                         "Falco metrics snapshot", "internal")
    lines = [orjson.loads(x) for x in out.read_text().splitlines()]
    assert [x["sample"] for x in lines] == [1, 2]
    assert lines[1]["output_fields"]["falco.num_evts"] == 30


def test_snapshot_thread_runs(tmp_path) -> None:
    import time

    out = tmp_path / "m.jsonl"
    stats = EngineStats(events_by_source=lambda: {"syscall": 1})
    info = FalcoInfo()
    cfg = MetricsConfig.from_config(Config({"metrics": {"enabled": True, "interval": "100ms",
                                                        "output_file": str(out)}}))
    snap = MetricsSnapshotter(cfg, standard_registry(info, stats), info, stats, sources=lambda: ["syscall"])
    snap.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 2):
        time.sleep(0.05)
    snap.stop()
    assert len(out.read_text().splitlines()) >= 2


def test_engine_stats_from_real_engine() -> None:
    import lanner.engine as engine_mod
    from lanner.events.base import PluginEvent
    from lanner.server.metrics import engine_stats

    eng = engine_mod.Engine(Config({}), sources=["k8s_audit", "syscall"])
    assert eng.load_rules_text("t.yaml", "- rule: Any Audit\n  desc: d\n  condition: ka.verb = get\n"
                                         "  output: verb=%ka.verb\n  priority: NOTICE\n  source: k8s_audit\n"
                                         "  tags: [k8s]\n")
    stats = engine_stats(eng, events_by_source=lambda: {"k8s_audit": eng.stats.events})
    reg = standard_registry(FalcoInfo(), stats)
    for verb in ("get", "get", "list"):
        eng.process(PluginEvent(1, 1, "k8s_audit", orjson.dumps({"auditID": "x", "verb": verb}), "k8saudit"))
    text = reg.render_prometheus()
    assert ('falcosecurity_falco_rules_matches_total{priority="5",rule_name="Any Audit",source="k8s_audit",'
            'tag_k8s="true"} 2') in text
    assert 'falcosecurity_lanner_n_evts_total{evt_source="k8s_audit"} 3' in text
