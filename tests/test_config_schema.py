"""Start-up checks of falco.yaml (unknown, legacy and unimplemented keys, Falco's schema verdict,
syscall_event_drops validation): golden cases in tests/data/config_cases.yaml."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lanner.config import ConfigError, load_config
from lanner.config_drops import drop_settings
from tests.conftest import shared_path

CASES = yaml.safe_load((Path(__file__).parent / "data" / "config_cases.yaml").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_config_case(case: dict, tmp_path: Path) -> None:
    path = tmp_path / "falco.yaml"
    path.write_text(case["config"])
    if "error" in case:
        with pytest.raises(ConfigError) as e:
            load_config(str(path), case.get("options", []))
        assert re.search(case["error"], str(e.value)), str(e.value)
        return
    cfg = load_config(str(path), case.get("options", []))
    assert cfg.schema_notes[str(path)] == case["verdict"]
    assert [n.message for n in cfg.key_notes] == case["notes"]


def test_drop_settings_defaults_and_order() -> None:
    d = drop_settings({})
    assert (d.actions, d.threshold, d.rate, d.max_burst, d.simulate) == (("ignore",), 0.1, 0.03333, 1.0, False)
    d = drop_settings({"syscall_event_drops": {"actions": ["exit", "alert", "log"], "threshold": "abc",
                                               "simulate_drops": "true", "max_burst": 10}})
    assert d.actions == ("log", "alert", "exit")
    assert d.threshold == 0.1 and d.simulate and d.max_burst == 10.0


OLD_FALCO_YAML = """\
# A falco.yaml laid out as Falco 0.35 shipped it (keys from that release's documentation).
rules_file:
  - {rules}
plugins:
  - name: k8saudit
    library_path: libk8saudit.so
    init_config: ""
    open_params: "http://:9765/k8s-audit"
  - name: json
    library_path: libjson.so
    init_config: ""
load_plugins: []
watch_config_files: true
time_format_iso_8601: false
priority: debug
json_output: false
json_include_output_property: true
json_include_tags_property: true
buffered_outputs: false
outputs:
  rate: 0
  max_burst: 1000
syslog_output:
  enabled: false
file_output:
  enabled: false
  keep_alive: false
  filename: ./events.txt
stdout_output:
  enabled: true
webserver:
  enabled: false
  threadiness: 0
  listen_port: 8765
  k8s_healthz_endpoint: /healthz
  ssl_enabled: false
  ssl_certificate: /etc/falco/falco.pem
program_output:
  enabled: false
  keep_alive: false
  program: "jq '{{text: .output}}' | curl -d @- -X POST https://hooks.slack.com/services/XXX"
http_output:
  enabled: false
  url: http://some.url
  user_agent: "falcosecurity/falco"
grpc:
  enabled: false
  bind_address: "unix:///run/falco/falco.sock"
  threadiness: 0
grpc_output:
  enabled: false
log_stderr: true
log_syslog: false
log_level: info
libs_logger:
  enabled: false
  severity: debug
output_timeout: 2000
syscall_event_timeouts:
  max_consecutives: 1000
syscall_event_drops:
  threshold: .1
  actions:
    - log
    - alert
  rate: .03333
  max_burst: 1
  simulate_drops: false
metadata_download:
  max_mb: 100
  chunk_wait_us: 1000
  watch_freq_sec: 1
syscall_buf_size_preset: 4
syscall_drop_failed_exit: false
base_syscalls:
  custom_set: []
  repair: false
modern_bpf:
  cpus_for_each_syscall_buffer: 2
metrics:
  enabled: false
  interval: 1h
  output_rule: true
  resource_utilization_enabled: true
  kernel_event_counters_enabled: true
  libbpf_stats_enabled: true
  convert_memory_to_mb: true
  include_empty_values: false
"""


def test_old_falco_layout_warns_and_runs(tmp_path: Path) -> None:
    """An unmodified falco.yaml of a 0.3x release: warnings at start-up, then the agent runs (a replay)."""
    capture = shared_path("captures", "cat_write.scap")
    rules = tmp_path / "rules.yaml"
    rules.write_text("- rule: cat opens\n  desc: d\n  condition: evt.type in (open, openat) and proc.name=cat\n"
                     "  output: cat opened (fd=%fd.name)\n  priority: WARNING\n")
    conf = tmp_path / "falco.yaml"
    conf.write_text(OLD_FALCO_YAML.format(rules=rules))
    r = subprocess.run([sys.executable, "-m", "lanner", "-c", str(conf), "-o", "engine.kind=replay",
                        "-o", f"engine.replay.capture_file={capture}"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "schema validation: failed for <root>" in r.stderr
    for key in ("syscall_buf_size_preset", "syscall_drop_failed_exit", "modern_bpf", "metadata_download"):
        assert f"Configuration key '{key}' of an older Falco release" in r.stderr
    assert "Configuration key 'libs_logger' is read by Falco but not implemented" in r.stderr
    assert "Using deprecated config key 'rules_file'" in r.stderr
    assert "Warning cat opened (fd=/etc/ld.so.cache)" in r.stdout
    assert "Events detected:" in r.stdout
