"""/metrics text as prometheus-client writes it: one family per name in Falco's order, labels escaped,
parsed back by prometheus-client's own parser to the values the collectors gave."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from lanner.server.metrics import COUNTER, GAUGE, Metric, MetricsRegistry


def registry() -> MetricsRegistry:
    reg = MetricsRegistry()
    reg.add_collector("rules", lambda: [
        Metric("rules_matches", 2, labels=(("rule_name", 'Say "hi" \\ now'), ("priority", "4"), ("tag_a", "true"))),
        Metric("rules_matches", 1, labels=(("rule_name", "Other"), ("priority", "3"))),
    ])
    reg.add_collector("misc", lambda: [
        Metric("host_num_cpus", 2, type=GAUGE),
        Metric("outputs_queue_num_drops", 0, type=COUNTER),
    ])

    def broken() -> list[Metric]:
        raise RuntimeError("boom")
    reg.add_collector("broken", broken)
    return reg


def test_families_samples_and_escaping() -> None:
    text = registry().render_prometheus()
    fams = list(text_string_to_metric_families(text))
    assert [(f.name, f.type) for f in fams] == [
        ("falcosecurity_falco_rules_matches", "counter"), ("falcosecurity_falco_host_num_cpus_total", "gauge"),
        ("falcosecurity_falco_outputs_queue_num_drops", "counter"), ("falcosecurity_lanner_collector_errors", "counter")]
    matches = fams[0].samples
    assert [(s.name, s.labels, s.value) for s in matches] == [
        ("falcosecurity_falco_rules_matches_total",
         {"priority": "4", "rule_name": 'Say "hi" \\ now', "tag_a": "true"}, 2.0),
        ("falcosecurity_falco_rules_matches_total", {"priority": "3", "rule_name": "Other"}, 1.0)]
    assert fams[3].samples[0].labels == {"collector": "broken", "error": "RuntimeError"}
    assert text.count("# HELP falcosecurity_falco_rules_matches_total ") == 1
    assert "# TYPE falcosecurity_falco_host_num_cpus_total gauge" in text
