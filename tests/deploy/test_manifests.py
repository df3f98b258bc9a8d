"""deploy/kubernetes/: every object validates against the Kubernetes OpenAPI schemas (offline, strict),
and the objects agree with each other and with lanner's configuration: the ConfigMap merges into the
image's config as lanner loads it, the DaemonSet mounts what that config names, probes hit the
webserver's health endpoint, the Service exposes the container's ports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lanner.config import Config, load_config
from lanner.sources.registry import configured_plugins
from lanner.state.containers import parse_container_settings
from tests.deploy.podspec import K8S, ROOT, load_objects, manifest

K8S_VERSIONS = ("1.28", "1.31")
MANIFESTS = sorted(K8S.glob("*.yaml"))


def installed_config(tmp_path: Path) -> Config:
    """The image's /etc/lanner/lanner.yaml (rendered by install.sh) with the ConfigMap as its config.d."""
    text = (ROOT / "lanner" / "data" / "lanner.yaml").read_text()
    assert "\nrules_files: []\n" in text
    confd = tmp_path / "config.d"
    confd.mkdir()
    for k, v in manifest("ConfigMap", "lanner-config")["data"].items():
        (confd / k).write_text(v)
    main = tmp_path / "lanner.yaml"
    main.write_text(text.replace("config_files:\n  - /etc/lanner/config.d", f"config_files:\n  - {confd}"))
    return load_config(str(main))


def container_spec() -> dict:
    (c,) = manifest("DaemonSet")["spec"]["template"]["spec"]["containers"]
    return c


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_against_kubernetes_schema(path, version):
    import kubernetes_validate as kv
    objs = load_objects(path)
    assert objs
    for obj in objs:
        kv.validate(obj, version, strict=True)


def test_validator_rejects_a_misspelt_field():
    import kubernetes_validate as kv
    ds = manifest("DaemonSet")
    ds["spec"]["template"]["spec"]["hostPid"] = True
    with pytest.raises(kv.ValidationError):
        kv.validate(ds, K8S_VERSIONS[-1], strict=True)


def test_every_expected_object_is_there():
    kinds = {(d["kind"], d["metadata"]["name"]) for p in MANIFESTS for d in load_objects(p)}
    assert kinds == {("Namespace", "lanner"), ("ServiceAccount", "lanner"), ("ClusterRole", "lanner"),
                     ("ClusterRoleBinding", "lanner"), ("ConfigMap", "lanner-config"),
                     ("ConfigMap", "lanner-rules"), ("DaemonSet", "lanner"), ("Service", "lanner")}
    for p in MANIFESTS:
        for d in load_objects(p):
            if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
                assert d["metadata"]["namespace"] == "lanner", (p.name, d["kind"])


def test_configmap_merges_into_the_image_config(tmp_path):
    cfg = installed_config(tmp_path)
    assert cfg.files[-1].endswith("kubernetes.yaml")
    assert cfg.str("engine.kind") == "modern_ebpf"
    assert cfg.bool("json_output") is True
    assert cfg.bool("webserver.enabled") is True
    # append_output from the image is kept, the ConfigMap's entry appended
    assert cfg.list("append_output")[0] == {"suggested_output": True}
    assert cfg.list("append_output")[-1]["extra_fields"] == ["k8s.pod.labels"]
    plugins = {p.name: p for p in configured_plugins(cfg)}
    assert set(plugins) == {"container", "k8saudit", "json"}
    assert plugins["k8saudit"].open_params == "http://:9765/k8s-audit"
    engines = parse_container_settings(cfg).engines
    assert engines["docker"].sockets == ("/host/var/run/docker.sock",)
    assert "/host/run/containerd/containerd.sock" in engines["cri"].sockets
    assert engines["podman"].enabled is False


def test_daemonset_runs_as_a_node_agent():
    pod = manifest("DaemonSet")["spec"]["template"]["spec"]
    assert pod["hostPID"] is True
    assert pod["serviceAccountName"] == manifest("ServiceAccount")["metadata"]["name"]
    c = container_spec()
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["HOST_ROOT"] == "/host"
    sc = c["securityContext"]
    assert sc["privileged"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert {"BPF", "PERFMON", "SYS_PTRACE"} <= set(sc["capabilities"]["add"])
    assert "SYS_ADMIN" not in sc["capabilities"]["add"]
    tolerated = {t["key"] for t in pod["tolerations"]}
    assert "node-role.kubernetes.io/control-plane" in tolerated


def test_daemonset_mounts_what_the_config_reads(tmp_path):
    pod = manifest("DaemonSet")["spec"]["template"]["spec"]
    c = container_spec()
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: (m, volumes[m["name"]]) for m in c["volumeMounts"]}
    m, v = mounts["/host/proc"]
    assert m["readOnly"] is True and v["hostPath"]["path"] == "/proc"
    assert mounts["/sys/kernel/tracing"][1]["hostPath"]["path"] == "/sys/kernel/tracing"
    # the image's config includes /etc/lanner/config.d and loads /etc/lanner/rules.d
    packaged = yaml.safe_load((ROOT / "lanner" / "data" / "lanner.yaml").read_text())
    assert "/etc/lanner/config.d" in packaged["config_files"]
    assert mounts["/etc/lanner/config.d"][1]["configMap"]["name"] == "lanner-config"
    assert mounts["/etc/lanner/rules.d"][1]["configMap"]["name"] == "lanner-rules"
    # every runtime socket the config names is mounted from the host
    cfg = installed_config(tmp_path)
    sockets = {s for e in parse_container_settings(cfg).engines.values() if e.enabled for s in e.sockets}
    assert sockets <= set(mounts), sockets - set(mounts)
    # read-only root: lanner's pidfile and temp files need writable mounts
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert "emptyDir" in mounts["/run"][1] and "emptyDir" in mounts["/tmp"][1]
    assert any(a.startswith("--pidfile=/run/") for a in c["args"])


def test_probes_and_service_match_the_webserver(tmp_path):
    cfg = installed_config(tmp_path)
    c = container_spec()
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["http"] == cfg.int("webserver.listen_port")
    assert ports["audit-webhook"] == 9765
    for probe in ("livenessProbe", "readinessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == cfg.str("webserver.k8s_healthz_endpoint") == "/healthz"
        assert ports[get["port"]] == cfg.int("webserver.listen_port")
    svc = manifest("Service")
    assert svc["spec"]["selector"].items() <= manifest("DaemonSet")["spec"]["template"]["metadata"]["labels"].items()
    assert {(p["port"], p["targetPort"]) for p in svc["spec"]["ports"]} == {(8765, "http"), (9765, "audit-webhook")}


def test_rules_configmap_files_are_valid_rules_documents(tmp_path):
    """Each rules file of the ConfigMap, and the example rule its comments show, validates (``lanner -V``)
    after the default rules, as the agent loads them."""
    defaults = sorted(str(p) for p in (ROOT / "lanner" / "rules" / "default").glob("*.yaml") if "k8s" not in p.name)
    files = []
    for name, text in manifest("ConfigMap", "lanner-rules")["data"].items():
        assert name.endswith(".yaml")
        (tmp_path / name).write_text(text)
        files.append(str(tmp_path / name))
        example = [ln[2:] for ln in text.splitlines() if ln.startswith("# ") and ln[2:].startswith(("-", " "))]
        if example:
            (tmp_path / f"example-{name}").write_text("\n".join(example) + "\n")
            assert yaml.safe_load((tmp_path / f"example-{name}").read_text())[0]["rule"]
            files.append(str(tmp_path / f"example-{name}"))
    assert len(files) >= 2
    args = [a for f in [*defaults, *files] for a in ("-V", f)]
    p = subprocess.run([sys.executable, "-m", "lanner", *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    verdicts = {ln.split(": ", 1)[0]: ln.split(": ", 1)[1] for ln in p.stdout.splitlines() if ln.startswith("/")}
    assert {f: verdicts.get(f, "").split(",")[0] for f in files} == {f: "Ok" for f in files}, p.stdout


def test_audit_policy_and_webhook_config():
    policy = yaml.safe_load((K8S / "audit" / "audit-policy.yaml").read_text())
    assert policy["apiVersion"] == "audit.k8s.io/v1" and policy["kind"] == "Policy"
    levels = {"None", "Metadata", "Request", "RequestResponse"}
    assert all(r["level"] in levels for r in policy["rules"])
    assert policy["rules"][-1] == {"level": "Metadata"}          # catch-all last
    secret_rule = next(r for r in policy["rules"] if any("secrets" in g.get("resources", [])
                                                          for g in r.get("resources", [])))
    assert secret_rule["level"] == "Metadata"                    # secret bodies never leave the API server
    kc = yaml.safe_load((K8S / "audit" / "webhook-config.yaml").read_text())
    assert kc["kind"] == "Config"
    server = kc["clusters"][0]["cluster"]["server"]
    svc = manifest("Service")
    assert server == (f"http://{svc['metadata']['name']}.{svc['metadata']['namespace']}.svc.cluster.local:9765"
                      "/k8s-audit")
    assert kc["current-context"] in {c["name"] for c in kc["contexts"]}


def test_metrics_endpoint_is_switched_on(tmp_path):
    """/metrics answers only with metrics.enabled and webserver.prometheus_metrics_enabled both on (Falco's
    rule): the ConfigMap sets both, and no metrics alert (output_rule) goes to the outputs."""
    from lanner.server.snapshot import MetricsConfig
    cfg = installed_config(tmp_path)
    assert cfg.bool("webserver.prometheus_metrics_enabled") is True
    m = MetricsConfig.from_config(cfg)
    assert m.enabled is True and m.output_rule is False
