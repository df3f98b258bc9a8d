"""Plugin libraries in a run, through the command line: sources to alerts, extractor plugins on capture
events, listings, and Falco's start-up errors. Where the reference Falco build is present, lanner's
output is compared with it (``../shared/falco``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import SHARED, shared_path
from tests.sources.plugins.conftest import build_plugin

ROOT = Path(__file__).resolve().parents[2]
FALCO = SHARED / "falco" / "falco"


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lanner", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def falco(*args: str) -> subprocess.CompletedProcess | None:
    """The reference Falco with the same arguments, or None when it is not on this machine."""
    if not FALCO.exists():
        return None
    r = subprocess.run([str(FALCO), *args], capture_output=True, text=True, timeout=60)
    if "error while loading shared libraries" in r.stderr:
        return None
    return r


def write_config(tmp: Path, plugins: list[dict], **extra) -> Path:
    cfg = {"plugins": plugins, "load_plugins": [p["name"] for p in plugins], "stdout_output": {"enabled": True},
           "json_output": False, "log_stderr": True, **extra}
    path = tmp / "falco.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def rules(tmp: Path, text: str) -> Path:
    path = tmp / "rules.yaml"
    path.write_text(text)
    return path


def plugin(name: str) -> str:
    return str(shared_path("plugins", name))


DUMMY_RULE = """
- rule: dummy value
  desc: any event of the dummy plugin
  condition: dummy.value > 0
  output: v=%dummy.value s=%dummy.strvalue d=%dummy.divisible[2] n=%evt.num src=%evt.source p=%evt.pluginname
  priority: WARNING
  source: dummy_c
"""


def test_source_plugin_to_alerts(tmp_path) -> None:
    cfg = write_config(tmp_path, [{"name": "dummy_c", "library_path": plugin("libdummy_c.so"),
                                   "init_config": '{"jitter": 10}', "open_params": '{"start": 1, "maxEvents": 4}'}],
                       json_output=True)
    r = run("-c", str(cfg), "-r", str(rules(tmp_path, DUMMY_RULE)), "--disable-source", "syscall")
    assert r.returncode == 0, r.stderr
    alerts = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(alerts) == 4
    for i, a in enumerate(alerts, 1):
        f = a["output_fields"]
        assert (a["rule"], a["source"], f["evt.num"], f["evt.source"], f["evt.pluginname"]) == \
            ("dummy value", "dummy_c", i, "dummy_c", "dummy_c")
        assert f["dummy.strvalue"] == str(f["dummy.value"])
        assert f["dummy.divisible[2]"] == (1 if f["dummy.value"] % 2 == 0 else 0)
    assert "Loaded plugin 'dummy_c@0.3.0' from file" in r.stderr


def test_listings_match_falco(tmp_path) -> None:
    cfg = write_config(tmp_path, [
        {"name": "sample_plugin_source", "library_path": plugin("libplugin_source.so")},
        {"name": "dummy", "library_path": plugin("libdummy.so"), "init_config": '{"jitter": 10}'},
        {"name": "json", "library_path": plugin("libjson.so")},
        {"name": "sample_syscall_async", "library_path": plugin("libsyscall_async.so")}])
    listed = run("-c", str(cfg), "--list-plugins")
    info = run("-c", str(cfg), "--plugin-info", "dummy")
    assert listed.returncode == info.returncode == 0, listed.stderr + info.stderr
    assert listed.stdout.startswith("4 Plugins Loaded:\n\nName: sample_plugin_source\n")
    assert "  - Event Sourcing (ID=3, source='dummy')\n  - Field Extraction\n" in listed.stdout
    assert "Init config schema type: JSON\n" in info.stdout and '"jitter"' in info.stdout
    missing = run("-c", str(cfg), "--plugin-info", "nope")
    assert missing.returncode == 1 and "can't find plugin and print its info: nope" in missing.stderr
    ref_list, ref_info = falco("-c", str(cfg), "--list-plugins"), falco("-c", str(cfg), "--plugin-info", "dummy")
    if ref_list is None or ref_info is None:
        pytest.skip(f"reference Falco not available at {FALCO}: compared with lanner's own expectations only")
    assert listed.stdout == ref_list.stdout
    assert info.stdout == ref_info.stdout


OPEN_RULE = """
- rule: opens seen by plugin
  desc: opens as the sample extractor sees them
  condition: evt.type in (open, openat, openat2) and sample.is_open=1
  output: n=%evt.num c=%sample.open_count e=%sample.evt_count p=%sample.proc_name f=%fd.name
  priority: WARNING
"""


def test_parse_and_extract_plugins_on_capture_events(tmp_path) -> None:
    capture = shared_path("captures", "open-multiple-files.scap")
    cfg = write_config(tmp_path, [{"name": "sample_syscall_parse", "library_path": plugin("libsyscall_parse.so")},
                                  {"name": "sample_syscall_extract",
                                   "library_path": plugin("libsyscall_extract.so")}],
                       append_output=[{"suggested_output": False}])
    args = ("-c", str(cfg), "-r", str(rules(tmp_path, OPEN_RULE)), "-o", "engine.kind=replay",
            "-o", f"engine.replay.capture_file={capture}")
    r = run(*args)
    assert r.returncode == 0, r.stderr
    mine = [line for line in r.stdout.splitlines() if ": Warning " in line]
    assert mine[:2] == ["01:22:15.286801004: Warning n=1098 c=2 e=1 p=python f=/tmp/file-1",
                        "01:22:15.286815077: Warning n=1101 c=4 e=2 p=python f=/tmp/file-2"]
    ref = falco(*args)
    if ref is None:
        pytest.skip(f"reference Falco not available at {FALCO}")
    assert mine == [line for line in ref.stdout.splitlines() if ": Warning " in line]
    fields = run("-c", str(cfg), "--list=syscall")
    assert "sample.open_count" in fields.stdout and "sample.proc_name" in fields.stdout


@pytest.fixture(scope="module")
def libs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("plugins")
    return {
        "source": build_plugin(d / "libtest_source.so"),
        "incompat": build_plugin(d / "libtest_incompat.so", '-DREQ_API="10000000.0.0"'),
        "overlap": build_plugin(d / "libtest_overlap.so", "-DEXTRACT_ONLY", '-DPNAME="test_overlap"',
                                '-DEXTRACT_SOURCES="[\\"lanner_test\\"]"'),
        "unused": build_plugin(d / "libtest_unused.so", "-DEXTRACT_ONLY", '-DPNAME="test_unused"',
                               '-DEXTRACT_SOURCES="[\\"nosuchsource\\"]"'),
    }


@pytest.mark.parametrize("entries,message", [
    (["incompat"], "plugin required API version '10000000.0.0' not compatible with the framework's API version "
                   "'3.12.0': major versions disagree"),
    (["source", "overlap"], "Plugin 'test_overlap' supports extraction of field 'test.num' that is overlapping for "
                            "source 'lanner_test'"),
    (["unused"], "Plugin 'test_unused' is loaded but unused as not compatible with any known event source"),
])
def test_startup_errors_as_falco(tmp_path, libs, entries, message) -> None:
    cfg = write_config(tmp_path, [{"name": f"p{i}", "library_path": str(libs[e])} for i, e in enumerate(entries)])
    r = run("-c", str(cfg), "-r", str(rules(tmp_path, "[]\n")), "--dry-run")
    assert r.returncode == 1
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_missing_library_without_builtin(tmp_path) -> None:
    cfg = write_config(tmp_path, [{"name": "okta", "library_path": str(tmp_path / "libokta.so")}])
    r = run("-c", str(cfg), "-r", str(rules(tmp_path, "[]\n")), "--dry-run")
    assert r.returncode == 1
    assert f"cannot load plugin {tmp_path}/libokta.so: can't load plugin dynamic library:" in r.stderr
    assert "No such file or directory" in r.stderr


def test_builtin_serves_a_missing_library_and_on_request(tmp_path) -> None:
    cfg = write_config(tmp_path, [{"name": "json", "library_path": str(tmp_path / "libjson.so")}])
    r = run("-c", str(cfg), "--list-plugins")
    assert r.returncode == 0 and "Name: json\n" in r.stdout
    assert "lanner's built-in json" in r.stderr and "not found" in r.stderr
    if os.path.exists(plugin("libjson.so")):
        cfg = write_config(tmp_path, [{"name": "json", "library_path": plugin("libjson.so"), "lanner_builtin": True}])
        r = run("-c", str(cfg), "--list-plugins")
        assert "lanner_builtin: true" in r.stderr


def test_required_plugin_versions_of_a_library(tmp_path, libs) -> None:
    cfg = write_config(tmp_path, [{"name": "lanner_test", "library_path": str(libs["source"])}])
    ok = rules(tmp_path, "- required_plugin_versions:\n  - name: lanner_test\n    version: 1.2.0\n")
    assert run("-c", str(cfg), "-r", str(ok), "--dry-run").returncode == 0
    bad = rules(tmp_path, "- required_plugin_versions:\n  - name: lanner_test\n    version: 1.3.0\n")
    r = run("-c", str(cfg), "-r", str(bad), "--dry-run")
    assert r.returncode == 1
    assert "Plugin 'lanner_test' version '1.2.3' is not compatible with required plugin version '1.3.0'" in r.stderr


ASYNC_RULE = """
- rule: ticker
  desc: async events of the sample plugin
  condition: evt.type = sampleticker
  output: tick %evt.asynctype %evt.is_async
  priority: INFO
"""


def test_async_plugin_events_reach_the_rules_live(tmp_path) -> None:
    """The async plugin's events are merged into the live syscall loop; ``evt.type`` knows their name."""
    if os.geteuid() != 0:
        pytest.skip("live capture needs root (or CAP_BPF/CAP_PERFMON)")
    cfg = write_config(tmp_path, [{"name": "sample_syscall_async", "library_path": plugin("libsyscall_async.so"),
                                   "init_config": "5:200000000"}], json_output=True)
    r = run("-c", str(cfg), "-r", str(rules(tmp_path, ASYNC_RULE)), "-M", "4", timeout=120)
    assert r.returncode == 0, r.stderr
    ticks = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert ticks, r.stderr
    assert {(t["rule"], t["output_fields"]["evt.asynctype"], t["output_fields"]["evt.is_async"]) for t in ticks} == \
        {("ticker", "sampleticker", True)}
