"""Sources and plugin requirements count only what the configuration loads, as in Falco: a rule of a source
no loaded plugin provides is skipped with LOAD_UNKNOWN_SOURCE, and required_plugin_versions needs the plugin
loaded (lanner's built-in k8saudit/cloudtrail/json count once load_plugins names them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

CT_RULE = ("- rule: ct\n  desc: d\n  condition: ct.name=RunInstances\n  output: o %ct.name\n  priority: INFO\n"
           "  source: aws_cloudtrail\n")


def lanner(tmp_path: Path, conf: dict, *args: str) -> subprocess.CompletedProcess:
    c = tmp_path / "falco.yaml"
    c.write_text(yaml.safe_dump({"stdout_output": {"enabled": True}, **conf}))
    return subprocess.run([sys.executable, "-m", "lanner", "-c", str(c), "-o", "log_stderr=false", *args],
                          capture_output=True, text=True, timeout=60)


def test_rule_of_an_unloaded_source_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(CT_RULE)
    r = lanner(tmp_path, {"load_plugins": []}, "-V", str(tmp_path / "r.yaml"), "-o", "json_output=true")
    assert r.returncode == 0, r.stderr
    warns = json.loads(r.stdout)["falco_load_results"][0]["warnings"]
    assert [(w["code"], w["message"], w["context"]["locations"][-1]["item_name"]) for w in warns] == [
        ("LOAD_UNKNOWN_SOURCE", "Unknown source aws_cloudtrail, skipping", "ct")]
    loaded = {"load_plugins": ["cloudtrail"], "plugins": [{"name": "cloudtrail", "library_path": "libcloudtrail.so"}]}
    r = lanner(tmp_path, loaded, "-V", str(tmp_path / "r.yaml"), "-o", "json_output=true")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["falco_load_results"][0]["warnings"] == []


def test_plugin_requirement_needs_the_plugin_loaded(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("- required_plugin_versions:\n  - name: k8saudit\n    version: 0.1.0\n")
    r = lanner(tmp_path, {"load_plugins": []}, "--dry-run", "-r", str(tmp_path / "r.yaml"))
    assert r.returncode == 1
    assert r.stderr == "Error: Plugin requirement not satisfied, must load one of: k8saudit (>= 0.1.0)\n"
    loaded = {"load_plugins": ["k8saudit"], "plugins": [{"name": "k8saudit", "library_path": "libk8saudit.so"}]}
    assert lanner(tmp_path, loaded, "--dry-run", "-r", str(tmp_path / "r.yaml")).returncode == 0


def test_list_plugins_lists_the_configured_entries(tmp_path: Path) -> None:
    conf = {"plugins": [{"name": "cloudtrail", "library_path": "libcloudtrail.so"},
                        {"name": "json", "library_path": "libjson.so"}], "load_plugins": ["cloudtrail", "json"]}
    r = lanner(tmp_path, conf, "--list-plugins")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("2 Plugins Loaded:\n\nName: cloudtrail\n")
    assert [ln for ln in r.stdout.splitlines() if ln.startswith("Name: ")] == ["Name: cloudtrail", "Name: json"]


def test_missing_plugin_library_stops_start_up_as_in_falco(tmp_path: Path) -> None:
    lib = tmp_path / "nope" / "libx.so"
    conf = {"plugins": [{"name": "x", "library_path": str(lib)}], "load_plugins": ["x"]}
    (tmp_path / "r.yaml").write_text("- required_plugin_versions:\n  - name: x\n    version: 9.0.0\n")
    r = lanner(tmp_path, conf, "--dry-run", "-r", str(tmp_path / "r.yaml"))
    assert r.returncode == 1
    assert r.stderr == (f"Error: cannot load plugin {lib}: can't load plugin dynamic library: {lib}: cannot open "
                        "shared object file: No such file or directory\n")
