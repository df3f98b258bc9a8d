"""deploy/helm/lanner rendered by a real ``helm`` (installed by scripts/setup.sh): ``helm lint``, ``helm
template`` with the chart's defaults and with a values file written for Falco's chart
(tests/deploy/data/falco-chart-values.yaml), every rendered object validated against the Kubernetes
schemas, the Falco values checked where a Falco user expects them, and the rendered configuration
accepted by ``lanner --dry-run`` as the agent would load it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from lanner.config import load_config
from lanner.server.snapshot import MetricsConfig
from tests.deploy.helm import (
    CHART,
    FALCO_AUDIT_VALUES,
    FALCO_VALUES,
    dashboard_metrics,
    find,
    helm,
    render,
    sidekick_env,
    write_agent_files,
)
from tests.deploy.podspec import ROOT, manifest

K8S_VERSION = "1.31"


def container(objs, kind="DaemonSet"):
    (c,) = find(objs, kind)["spec"]["template"]["spec"]["containers"]
    return c


def config_of(objs) -> dict:
    return yaml.safe_load(find(objs, "ConfigMap", "-config")["data"]["kubernetes.yaml"])


def test_chart_metadata():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "lanner" and chart["type"] == "application"
    from lanner.version import LANNER_VERSION
    assert chart["appVersion"] == LANNER_VERSION


@pytest.mark.parametrize("values", [None, FALCO_VALUES], ids=["defaults", "falco-values"])
def test_helm_lint(values):
    args = ["lint", str(CHART), "--strict"] + (["-f", str(values)] if values else [])
    p = helm(*args, check=False)
    assert p.returncode == 0 and "0 chart(s) failed" in p.stdout, p.stdout + p.stderr


SCENARIOS = {
    "defaults": ((), ()),
    "falco-values": ((FALCO_VALUES,), ()),
    "deployment-nodriver": ((FALCO_VALUES,), ("controller.kind=deployment", "driver.enabled=false",
                                              "controller.deployment.replicas=2")),
    "kmod-privileged": ((), ("driver.kind=kmod", "driver.privileged=true", "metrics.enabled=true",
                             "grafana.dashboards.enabled=true")),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_rendered_objects_validate_against_kubernetes_schemas(name):
    import kubernetes_validate as kv
    files, sets = SCENARIOS[name]
    objs = render(*files, sets=sets)
    kinds = {o["kind"] for o in objs}
    assert {"ConfigMap", "Service", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"} <= kinds
    assert len(kinds & {"DaemonSet", "Deployment"}) == 1
    for o in objs:
        if o["apiVersion"].startswith("monitoring.coreos.com/"):
            continue       # a CRD: checked field by field in test_service_monitor_scrapes_the_metrics_port
        kv.validate(o, K8S_VERSION, strict=True)


def test_validator_rejects_a_misspelt_field():
    import kubernetes_validate as kv
    ds = find(render(), "DaemonSet")
    ds["spec"]["template"]["spec"]["hostPid"] = True
    with pytest.raises(kv.ValidationError):
        kv.validate(ds, K8S_VERSION, strict=True)


@pytest.mark.parametrize("setting, message", [
    ("drivr.kind=auto", "additional properties 'drivr' not allowed"),
    ("metrics.enable=true", "additional properties 'enable' not allowed"),
    ("serviceMonitor.crate=true", "additional properties 'crate' not allowed"),
    ("controller.kind=statefulset", "/controller/kind"),
    ("driver.kind=gvisor", "driver.kind=gvisor is not supported"),
    ("driver.kind=ebpf", "driver.kind=ebpf is not supported"),
    ("driver.kind=kmood", "/driver/kind"),
    ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
    ("webserver.port=70000", "/webserver/port"),
    ("serviceMonitor.create=true", "needs metrics.enabled=true"),
    ("customRules.rules\\.txt=x", "'rules.txt' does not match"),
])
def test_bad_values_are_refused_with_the_value_named(setting, message):
    p = helm("template", "x", str(CHART), "--set", setting, check=False)
    assert p.returncode != 0
    assert message in p.stderr, p.stderr


def test_falco_values_land_where_a_falco_user_expects():
    objs = render(FALCO_VALUES)
    falco = yaml.safe_load(FALCO_VALUES.read_text())
    ds = find(objs, "DaemonSet")
    pod = ds["spec"]["template"]
    spec = pod["spec"]
    c = container(objs)
    assert c["image"] == "registry.example.org/security/lanner:0.1.0"
    assert c["imagePullPolicy"] == "Always"
    assert ds["metadata"]["annotations"] == {"team": "secops"}
    assert spec["tolerations"] == falco["tolerations"]
    assert c["resources"] == falco["resources"]
    assert spec["nodeSelector"] == falco["nodeSelector"]
    assert spec["affinity"] == falco["affinity"]
    assert spec["priorityClassName"] == "system-node-critical"
    assert spec["securityContext"] == falco["podSecurityContext"]
    assert pod["metadata"]["annotations"]["example.org/owner"] == "secops"
    assert pod["metadata"]["labels"]["tier"] == "security"
    assert {"name": "site-certs", "secret": {"secretName": "site-certs"}} in spec["volumes"]
    assert {"name": "site-certs", "mountPath": "/etc/site-certs", "readOnly": True} in c["volumeMounts"]
    assert {"name": "SITE", "value": "eu-west"} in c["env"]
    assert c["args"][-2:] == ["-o", "log_level=info"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    # only the docker engine is enabled: only its socket is mounted, under /host
    socks = [m["mountPath"] for m in c["volumeMounts"] if m["name"].startswith("socket-")]
    assert socks == ["/host/var/run/docker.sock"]
    rules = find(objs, "ConfigMap", "-rules")["data"]
    assert rules["site_rules.yaml"].rstrip() == falco["customRules"]["site_rules.yaml"]


def dry_run(main, tmp_path, env=None):
    return subprocess.run([sys.executable, "-m", "lanner", "--dry-run", "-c", str(main)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **(env or {})})


def test_rendered_config_is_what_lanner_loads(tmp_path, monkeypatch):
    """The chart's config.d over the image's lanner.yaml, with the customRules and the falcosidekick
    environment: ``lanner --dry-run`` accepts it, and each Falco value became what lanner reads."""
    objs = render(FALCO_VALUES)
    main, rulesd = write_agent_files(objs, tmp_path)
    env = sidekick_env(objs)
    p = dry_run(main, tmp_path, env)
    assert p.returncode == 0, p.stdout + p.stderr
    assert (rulesd / "site_rules.yaml").exists()
    cfg = load_config(str(main))
    assert cfg.str("engine.kind") == "modern_ebpf"
    assert cfg.int("engine.modern_ebpf.buf_size_preset") == 5
    assert cfg.bool("engine.modern_ebpf.drop_failed_exit") is True
    assert cfg.str("priority") == "notice"
    assert cfg.bool("json_output") is True
    # metrics.enabled: both switches /metrics needs, and the metrics settings are valid
    assert cfg.bool("metrics.enabled") is True
    assert cfg.bool("webserver.prometheus_metrics_enabled") is True
    m = MetricsConfig.from_config(cfg)
    assert m.enabled and m.interval_ms == 15000 and m.output_rule is False
    from lanner.state.containers import parse_container_settings
    containers = parse_container_settings(cfg)
    assert containers.label_max_len == 100
    assert containers.engines["docker"].enabled and containers.engines["docker"].sockets == ("/host/var/run/docker.sock",)
    assert not containers.engines["containerd"].enabled and not containers.engines["cri"].enabled
    # Falco's default rules paths are the image's own: not passed on
    assert not [f for f in cfg.list("rules_files") if str(f).startswith("/etc/falco/")]
    # falcosidekick.config: sidekick's environment variables (as its chart sets them), read by the fan-out
    assert env["SLACK_WEBHOOKURL"] == "https://hooks.slack.example/services/T000/B000/XXXX"
    assert env["CUSTOMFIELDS"] == "cluster:prod-eu,team:secops"
    from lanner.outputs.fanout.config import collect
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    groups, globals_ = collect(cfg)
    fan = {e["type"]: e for _, entries in groups for e in entries}
    assert set(fan) == {"slack", "webhook", "loki"}
    assert fan["slack"]["url"] == "https://hooks.slack.example/services/T000/B000/XXXX"
    assert fan["slack"]["min_priority"] == "warning" and fan["slack"]["output_format"] == "text"
    assert fan["webhook"]["url"] == "http://alerts.example.internal:2801/falco"
    assert fan["webhook"]["min_priority"] == "notice"
    assert fan["loki"]["url"].startswith("http://loki.monitoring:3100")
    assert globals_ is not None and globals_.customfields == {"cluster": "prod-eu", "team": "secops"}
    c = container(objs)
    assert {"secretRef": {"name": find(objs, "Secret", "-falcosidekick")["metadata"]["name"]}} in c["envFrom"]


def test_bad_sidekick_setting_is_refused_at_dry_run(tmp_path):
    objs = render(FALCO_VALUES, sets=("falcosidekick.config.slack.minimumpriority=loud",))
    main, _ = write_agent_files(objs, tmp_path)
    p = dry_run(main, tmp_path, sidekick_env(objs))
    assert p.returncode == 1
    assert "slack.minimumpriority: invalid priority 'loud'" in p.stderr, p.stdout + p.stderr


def test_sidekick_chart_secret_and_extra_env():
    objs = render(FALCO_VALUES, sets=("falcosidekick.config.existingSecret=sk-creds",
                                      "falcosidekick.config.extraEnv[0].name=SLACK_CHANNEL",
                                      "falcosidekick.config.extraEnv[0].value=#sec"))
    c = container(objs)
    assert {"secretRef": {"name": "sk-creds"}} in c["envFrom"]
    assert {"name": "SLACK_CHANNEL", "value": "#sec"} in c["env"]
    env = sidekick_env(objs)
    assert not {"EXISTINGSECRET", "EXTRAENV"} & set(env)
    assert not [o for o in render() if o["kind"] == "Secret"]


def test_metrics_off_by_default_as_in_falco(tmp_path):
    objs = render()
    cfg = config_of(objs)
    assert cfg["webserver"]["prometheus_metrics_enabled"] is False and "metrics" not in cfg
    assert not [o for o in objs if o["metadata"]["name"].endswith("-metrics")]
    # lanner's older switch turns both keys on too
    cfg = config_of(render(sets=("webserver.prometheusMetrics=true",)))
    assert cfg["webserver"]["prometheus_metrics_enabled"] is True and cfg["metrics"]["enabled"] is True


def test_service_monitor_scrapes_the_metrics_port():
    objs = render(FALCO_VALUES)
    sm = find(objs, "ServiceMonitor")
    svc = find(objs, "Service", "-metrics")
    c = container(objs)
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert sm["metadata"]["namespace"] == "security"
    (ep,) = sm["spec"]["endpoints"]
    assert ep["path"] == "/metrics" and ep["interval"] == "30s" and ep["scheme"] == "http"
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert sm["spec"]["namespaceSelector"] == {"matchNames": ["security"]}
    (port,) = svc["spec"]["ports"]
    assert port["name"] == ep["port"] == "metrics"
    assert port["targetPort"] == next(p["containerPort"] for p in c["ports"] if p["name"] == "http")
    assert svc["spec"]["selector"].items() <= find(objs, "DaemonSet")["spec"]["template"]["metadata"]["labels"].items()


def test_grafana_dashboard_configmap():
    names = dashboard_metrics(render(FALCO_VALUES))
    assert {"falcosecurity_falco_rules_matches_total", "falcosecurity_scap_n_evts_total",
            "falcosecurity_scap_n_drops_total", "falcosecurity_falco_cpu_usage_ratio"} <= names
    assert not [o for o in render() if o["metadata"]["name"].endswith("grafana-dashboard")]


@pytest.mark.parametrize("kind, preset_key", [("auto", "modernEbpf"), ("modern-bpf", "modernEbpf"),
                                              ("kmod", "kmod"), ("module", "kmod")])
def test_driver_kinds_map_onto_the_probe(kind, preset_key):
    objs = render(sets=(f"driver.kind={kind}", f"driver.{preset_key}.bufSizePreset=7"))
    engine = config_of(objs)["engine"]
    assert engine["kind"] == "modern_ebpf" and engine["modern_ebpf"]["buf_size_preset"] == 7


def test_driver_values_decide_the_engine_over_falco_engine():
    engine = config_of(render(sets=("falco.engine.kind=kmod", "driver.kind=auto")))["engine"]
    assert engine["kind"] == "modern_ebpf"


def test_kmod_mapping_is_announced_in_the_install_notes():
    p = helm("install", "x", str(CHART), "--dry-run=client", "--set", "driver.kind=kmod")
    notes = p.stdout.split("NOTES:", 1)[1]
    assert "WARNING: driver.kind=kmod" in notes and "no kernel module" in notes
    p = helm("install", "x", str(CHART), "--dry-run=client")
    assert "WARNING" not in p.stdout.split("NOTES:", 1)[1]


def test_deployment_controller_without_driver():
    objs = render(FALCO_VALUES, sets=("controller.kind=deployment", "driver.enabled=false",
                                      "controller.deployment.replicas=2"))
    assert not [o for o in objs if o["kind"] == "DaemonSet"]
    dep = find(objs, "Deployment")
    assert dep["spec"]["replicas"] == 2
    spec = dep["spec"]["template"]["spec"]
    assert "hostPID" not in spec
    assert config_of(objs)["engine"] == {"kind": "nodriver"}
    assert "/sys/kernel/tracing" not in {m["mountPath"] for m in container(objs, "Deployment")["volumeMounts"]}


def test_default_chart_mirrors_the_plain_manifests():
    objs = render()
    c = container(objs)
    (plain,) = manifest("DaemonSet")["spec"]["template"]["spec"]["containers"]
    assert {m["mountPath"] for m in c["volumeMounts"]} >= {m["mountPath"] for m in plain["volumeMounts"]}
    assert set(plain["securityContext"]["capabilities"]["add"]) == set(c["securityContext"]["capabilities"]["add"])
    assert c["securityContext"] == plain["securityContext"]
    assert {e["name"] for e in c["env"]} == {e["name"] for e in plain["env"]}
    spec = find(objs, "DaemonSet")["spec"]["template"]["spec"]
    assert spec["tolerations"] == manifest("DaemonSet")["spec"]["template"]["spec"]["tolerations"]
    plain_cfg = yaml.safe_load(manifest("ConfigMap", "lanner-config")["data"]["kubernetes.yaml"])
    chart_cfg = config_of(render(sets=("metrics.enabled=true",)))
    assert set(plain_cfg) <= set(chart_cfg)
    assert chart_cfg["metrics"]["enabled"] is plain_cfg["metrics"]["enabled"] is True
    assert chart_cfg["engine"]["kind"] == plain_cfg["engine"]["kind"]
    assert chart_cfg["plugins"][0]["init_config"]["engines"]["docker"] == \
        plain_cfg["plugins"][0]["init_config"]["engines"]["docker"]


def test_falco_audit_only_values(tmp_path):
    """Falco's audit-log-only set-up: a Deployment without driver, the user's k8saudit/json plugin entries
    replace the chart's, Falco's k8s_audit_rules.yaml path becomes the image's copy, and lanner accepts it."""
    import kubernetes_validate as kv
    objs = render(FALCO_AUDIT_VALUES)
    for o in objs:
        kv.validate(o, K8S_VERSION, strict=True)
    assert not [o for o in objs if o["kind"] == "DaemonSet"]
    svc = find(objs, "Service", "-audit-webhook")
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["nodePort"] == 30765
    cfg = config_of(objs)
    assert cfg["engine"] == {"kind": "nodriver"}
    assert cfg["rules_files"] == ["/etc/lanner/rules.available/k8s_audit_rules.yaml"]
    assert cfg["load_plugins"] == ["k8saudit", "json"]
    assert [p["name"] for p in cfg["plugins"]] == ["k8saudit", "json"]
    assert cfg["plugins"][0]["open_params"] == "http://:9765/k8s-audit"
    main, _ = write_agent_files(objs, tmp_path)
    p = dry_run(main, tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "k8s_audit_rules.yaml" in p.stdout + p.stderr


# Falco chart values lanner accepts and does not use (README.md says why).
ACCEPTED_UNUSED = {"scc", "certs", "falcoctl", "responseActions", "falco-talon"}


def test_every_values_key_is_read_or_listed_as_unused():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    text = "".join(p.read_text() for p in (CHART / "templates").glob("*"))
    unread = {k for k in values if f".Values.{k}" not in text and f'.Values "{k}"' not in text}
    assert unread == ACCEPTED_UNUSED
    readme = (CHART / "README.md").read_text()
    assert all(f"`{k}`" in readme for k in ACCEPTED_UNUSED)
    assert set(values) <= set(schema["properties"])
