"""A falcosidekick config.yaml named by ``falcosidekick_config`` drives a real ``lanner`` run; ``--dry-run``
reports a misspelled sidekick option with the file, section and nearest name."""

from __future__ import annotations

from pathlib import Path

from tests.outputs.helpers import RecordingServer
from tests.test_cli import capture, lanner, rules  # noqa: F401 - fixtures shared with the CLI tests


def _configs(tmp: Path, sidekick: str) -> Path:
    sk = tmp / "config.yaml"
    sk.write_text(sidekick)
    cfg = tmp / "lanner.yaml"
    cfg.write_text(f"falcosidekick_config: {sk}\nstdout_output:\n  enabled: true\n")
    return cfg


def test_replay_sends_the_alert_to_sidekick_outputs(tmp_path: Path, rules: Path, capture: Path,  # noqa: F811
                                                     http_server: RecordingServer) -> None:
    cfg = _configs(tmp_path, (
        "customfields:\n  cluster: prod\n"
        f"webhook:\n  address: {http_server.url}/hook\n  minimumpriority: warning\n"
        f"slack:\n  webhookurl: {http_server.url}/slack\n  minimumpriority: error\n"     # the alert is a warning
        "discord:\n  webhookurl: ''\n"))
    r = lanner("-c", str(cfg), "-e", str(capture), "-r", str(rules))
    assert r.returncode == 0, r.stderr
    reqs = http_server.wait_for(1)
    assert [q.path for q in reqs] == ["/hook"]
    ev = reqs[0].json()
    assert ev["rule"] == "Shadow read" and ev["output_fields"]["cluster"] == "prod"


def test_dry_run_reports_a_misspelled_sidekick_option(tmp_path: Path, rules: Path) -> None:  # noqa: F811
    cfg = _configs(tmp_path, "slack:\n  webhookurl: http://127.0.0.1:9/x\n  minimumpriorty: error\n")
    r = lanner("-c", str(cfg), "-r", str(rules), "--dry-run")
    assert r.returncode == 1
    assert (f"{tmp_path / 'config.yaml'}: falcosidekick section 'slack': unknown option 'minimumpriorty' "
            "(did you mean 'minimumpriority'?)") in r.stderr
    ok = _configs(tmp_path, "slack:\n  webhookurl: http://127.0.0.1:9/x\n  minimumpriority: error\n")
    assert lanner("-c", str(ok), "-r", str(rules), "--dry-run").returncode == 0
