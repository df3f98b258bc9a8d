"""deploy/helm/lanner without a helm binary: values.yaml validates against values.schema.json (and the
schema rejects bad values), every ``.Values`` path a template reads exists in values.yaml, template
actions are balanced, and the templates render the same objects, mounts and ports as the plain
manifests in deploy/kubernetes/."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.deploy.podspec import ROOT, manifest

CHART = ROOT / "deploy" / "helm" / "lanner"
TEMPLATES = sorted((CHART / "templates").glob("*"))
VALUES_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.S)

import jsonschema  # noqa: E402


def values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def schema() -> dict:
    return json.loads((CHART / "values.schema.json").read_text())


def validate(v: dict) -> None:
    jsonschema.Draft7Validator(schema()).validate(v)


def test_chart_metadata():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["name"] == "lanner" and chart["type"] == "application"
    from lanner.version import LANNER_VERSION
    assert chart["appVersion"] == LANNER_VERSION


def test_values_validate_against_schema():
    jsonschema.Draft7Validator.check_schema(schema())
    validate(values())


@pytest.mark.parametrize("path, bad", [
    (("webserver", "port"), 70000),
    (("auditWebhook", "path"), "k8s-audit"),
    (("driver", "kind"), "kmod"),
    (("driver", "capabilities"), ["CAP_BPF"]),
    (("outputs", "priority"), "loud"),
    (("outputs", "fanout"), [{"type": "carrier-pigeon"}]),
    (("rules", "extraFiles"), {"rules.txt": "- rule: x"}),
    (("rules", "custom"), [{"name": "no rule/macro/list key"}]),
    (("image", "pullPolicy"), "Sometimes"),
    (("containerEngines", "docker", "socket"), "docker.sock"),
    (("drivr",), {"kind": "modern_ebpf"}),
])
def test_schema_rejects_bad_values(path, bad):
    v = values()
    node = v
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = bad
    with pytest.raises(jsonschema.ValidationError):
        validate(v)


def test_schema_accepts_documented_examples():
    v = values()
    v["rules"]["extraFiles"] = {"my-rules.yaml": "- rule: x\n"}
    v["rules"]["custom"] = [{"rule": "Shell in payments namespace", "desc": "d", "condition": "evt.num=0",
                             "output": "o", "priority": "WARNING"}, {"list": "x", "items": []}]
    v["outputs"]["fanout"] = [{"type": "slack", "min_priority": "warning", "url_env": "SLACK_WEBHOOK_URL"}]
    v["outputs"]["http"] = {"enabled": True, "url": "https://alerts.example/in"}
    v["config"] = {"rule_matching": "all"}
    validate(v)


def _has_path(tree: dict, dotted: str) -> bool:
    node = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_values_reference_exists_in_values_yaml():
    v = values()
    refs = set()
    for t in TEMPLATES:
        refs |= {m.group(1).lstrip(".") for m in VALUES_REF.finditer(t.read_text())}
    assert len(refs) > 30
    missing = sorted(r for r in refs if not _has_path(v, r))
    assert not missing, f"templates read values that values.yaml does not define: {missing}"


def test_every_values_key_is_used_by_a_template():
    text = "".join(t.read_text() for t in TEMPLATES)
    used = {m.group(1).lstrip(".") for m in VALUES_REF.finditer(text)}
    unused = [k for k in values() if not any(u == k or u.startswith(k + ".") for u in used)]
    assert not unused, f"values.yaml keys no template reads: {unused}"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_actions_are_balanced(path):
    text = path.read_text()
    assert text.count("{{") == text.count("}}"), "unbalanced {{ }}"
    depth = 0
    for m in ACTION.finditer(text):
        word = m.group(1).split()[0] if m.group(1).split() else ""
        if word.startswith("/*"):
            continue
        if word in ("if", "range", "with", "define"):
            depth += 1
        elif word == "end":
            depth -= 1
            assert depth >= 0, f"'end' without an open block near offset {m.start()}"
    assert depth == 0, f"{depth} block(s) not closed"


def _skeleton(text: str) -> str:
    """A template with its actions removed: the literal YAML the chart always emits."""
    return ACTION.sub("", text)


def test_templates_render_the_plain_manifest_objects():
    kinds = set()
    for t in TEMPLATES:
        kinds |= set(re.findall(r"^kind: (\w+)", t.read_text(), re.M))
    plain = {d["kind"] for p in (ROOT / "deploy" / "kubernetes").glob("*.yaml")
             for d in yaml.safe_load_all(p.read_text()) if d}
    assert kinds == plain - {"Namespace"}   # a chart installs into the release's namespace


def test_daemonset_template_mirrors_the_plain_daemonset():
    text = (CHART / "templates" / "daemonset.yaml").read_text()
    (c,) = manifest("DaemonSet")["spec"]["template"]["spec"]["containers"]
    tmpl_mounts = set(re.findall(r"mountPath: (\S+)", text))
    assert tmpl_mounts == {m["mountPath"] for m in c["volumeMounts"]}
    sk = _skeleton(text)
    for literal in ("hostPID: true", "name: HOST_ROOT", "value: /host", "path: /healthz", "fieldPath: spec.nodeName",
                    "readOnlyRootFilesystem: true", "drop: [ALL]", "path: /proc", "path: /sys/kernel/tracing"):
        assert literal in sk, literal
    for cap in c["securityContext"]["capabilities"]["add"]:
        assert cap in values()["driver"]["capabilities"]
    assert values()["tolerations"] == manifest("DaemonSet")["spec"]["template"]["spec"]["tolerations"]
    assert values()["resources"] == c["resources"]


def test_config_template_names_the_same_keys_as_the_plain_configmap():
    helper = (CHART / "templates" / "_helpers.tpl").read_text()
    plain = yaml.safe_load(manifest("ConfigMap", "lanner-config")["data"]["kubernetes.yaml"])
    for key in plain:
        assert f'"{key}"' in helper, f"chart config does not set {key}"
    for sock in ("/host/var/run/docker.sock", "/host/run/containerd/containerd.sock", "/host/run/crio/crio.sock"):
        assert sock in helper
