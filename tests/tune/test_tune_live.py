"""``lanner tune`` on real alerts: ordinary build and admin work run live under the upstream stable +
incubating rules; the override it writes silences >= 90 % of that work's alerts when the same work runs
again, and every attack scenario (data/attacks.yaml) still fires with the override loaded. A proposal
that would silence a must-fire case of the default rules' cases is refused, naming the case."""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_tool, shared_path
from tests.e2e.harness import LannerProcess, require_live, user_config

DATA = Path(__file__).parent / "data"
MARK = "proc.env[LANNER_TUNE_RUN]"
WORKDIR = Path("/tmp/lanner-tune-workload")      # fixed: the same work touches the same paths each run


def lanner(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lanner", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def run_workloads(tmp: Path, rules: list[str], name: str, repeat: int = 1) -> tuple[list[list[dict]], int]:
    """Run workloads.sh ``repeat`` times live under ``rules``; per run, the alerts its processes raised
    (marked by an environment variable the alerts carry as an extra output field), and how many times
    the agent reported dropped events (lost clone/exec events leave processes without parent or cwd)."""
    cfg = user_config(tmp, append_output=[{"extra_fields": [MARK]}])
    args = ["-c", str(cfg), "-v"]
    for r in rules:
        args += ["-r", r]
    agent = LannerProcess(args, tmp / f"{name}.log")
    tokens = [secrets.token_hex(8) for _ in range(repeat)]
    try:
        agent.wait_live()
        for token in tokens:
            shutil.rmtree(WORKDIR, ignore_errors=True)
            WORKDIR.mkdir()
            env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
                   "W": str(WORKDIR), "PY": sys.executable, "LANNER_TUNE_RUN": token}
            p = subprocess.run(["sh", str(DATA / "workloads.sh")], env=env, capture_output=True, text=True,
                               timeout=120)
            assert p.returncode == 0, p.stderr[-2000:]
            subprocess.run(["cat", "/etc/shadow"], env={**env, "LANNER_TUNE_RUN": "end-" + token},
                           stdout=subprocess.DEVNULL, check=True)
            assert agent.wait_alert(lambda a, t=token: a["output_fields"].get(MARK) == "end-" + t, 120), \
                agent.describe()
        time.sleep(0.5)                                  # events of other CPUs' buffers
    finally:
        agent.stop()
        shutil.rmtree(WORKDIR, ignore_errors=True)
    m = re.search(r"event drop detected: (\d+) occurrences", agent.log())
    return [[a for a in agent.alerts if a["output_fields"].get(MARK) == t] for t in tokens], int(m.group(1)) if m else 0


def test_tuned_workloads_stay_quiet_and_attacks_still_fire(tmp_path: Path) -> None:
    require_live()
    for tool in ("gcc", "make", "git", "strace", "useradd", "runuser", "unshare"):
        require_tool(tool)
    up = shared_path("upstream", "rules")
    rules = [str(up / "falco_rules.yaml"), str(up / "falco-incubating_rules.yaml")]
    attacks = tmp_path / "attacks.yaml"
    attacks.write_text((DATA / "attacks.yaml").read_text().replace("@UPSTREAM@", str(up)))

    runs, _ = run_workloads(tmp_path, rules, "before", repeat=2)  # tuned on two runs of the same work
    before = runs[0] + runs[1]
    by_rule = Counter(a["rule"] for a in before)
    print(f"\nworkload alerts before tuning: {len(before)} {dict(by_rule)}")
    assert min(len(r) for r in runs) >= 10 and len(by_rule) >= 4, "the workloads no longer raise the upstream rules' noise"
    alerts = tmp_path / "alerts.json"
    alerts.write_text("".join(json.dumps(a) + "\n" for a in before))

    override, report = tmp_path / "override.yaml", tmp_path / "report.html"
    p = lanner("tune", str(alerts), "-r", rules[0], "-r", rules[1], "--cases", str(attacks),
               "--out", str(override), "--report", str(report))
    print(p.stdout + p.stderr)
    assert p.returncode in (0, 1) and override.exists(), p.stderr
    assert "override:\n    exceptions: append" in override.read_text()
    html = report.read_text()
    assert "<svg" in html and "Noisiest rules" in html and "User mgmt binaries" in html
    print(f"override: {override}\nreport: {report}")

    for attempt in range(3):                 # a run with dropped events measures the drops, not the override
        after_runs, drops = run_workloads(tmp_path, [*rules, str(override)], f"after-{attempt}")
        after = after_runs[0]
        if not drops:
            break
        print(f"after-run {attempt}: the agent dropped events {drops} time(s) (machine busy); measuring again")
    else:
        pytest.skip("the agent dropped events in 3 runs: this machine is too busy to measure the override")
    (tmp_path / "after.json").write_text("".join(json.dumps(a) + "\n" for a in after))
    print(f"workload alerts after tuning: {len(after)} {dict(Counter(a['rule'] for a in after))}")
    removed = 1 - len(after) / (len(before) / 2)
    print(f"removed: {100 * removed:.0f}% of the workloads' alerts")
    assert removed >= 0.9

    tuned_attacks = tmp_path / "attacks_tuned.yaml"
    tuned_attacks.write_text(attacks.read_text().replace(
        'falco-incubating_rules.yaml"]', f'falco-incubating_rules.yaml", "{override}"]', 1))
    p = lanner("test", str(tuned_attacks))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr
    assert "6 cases: 6 passed" in p.stdout

    falco = Path(str(shared_path("falco"))) / "falco-ref"
    if falco.exists():                               # the same file loads in real Falco
        p = subprocess.run([str(falco), "-c", str(shared_path("falco", "falco.yaml")), "-V", rules[0], "-V", rules[1],
                            "-V", str(override)], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0 and f"{override}: Ok" in p.stdout, p.stdout[-2000:] + p.stderr[-2000:]


def test_refuses_an_exception_that_silences_a_must_fire_case(tmp_path: Path) -> None:
    require_live()
    def alert(proc: str, path: str) -> str:
        return json.dumps({"rule": "Read Shadow or Sudoers File", "priority": "Warning", "source": "syscall",
                           "time": "2026-01-01T00:00:00.000000000Z", "output": "x",
                           "output_fields": {"proc.name": proc, "fd.name": path, "proc.pname": "sh",
                                             "user.name": "root"}}) + "\n"
    alerts = tmp_path / "alerts.json"
    alerts.write_text("09:00:00 a log line in the middle\n" + alert("backupd", "/etc/gshadow") * 4
                      + alert("cat", "/etc/shadow") * 2)
    override = tmp_path / "override.yaml"
    p = lanner("tune", str(alerts), "-r", str(ROOT / "lanner" / "rules" / "default"), "--out", str(override),
               "--cases", str(ROOT / "tests" / "rules" / "default" / "cases" / "credentials.yaml"))
    print(p.stdout + p.stderr)
    assert p.returncode == 1
    assert "REFUSED Read Shadow or Sudoers File: proc.name = cat and fd.name = /etc/shadow" in p.stdout
    assert "would stop must-fire case 'cat reads /etc/shadow'" in p.stdout
    text = override.read_text()
    assert '- name: "known_reader_files"' in text and "fields:" not in text     # values appended to the declared one
    assert '["backupd", "/etc/gshadow"]' in text and '"cat"' not in text
    assert "removes 4 of" not in p.stdout and "the override removes 4 (67%)" in p.stdout
    p = lanner("-V", str(ROOT / "lanner" / "rules" / "default" / "lanner_rules.yaml"), "-V", str(override))
    assert p.returncode == 0, p.stdout + p.stderr


def test_bad_input_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("not an alert\n")
    p = lanner("tune", str(empty), "-r", str(ROOT / "lanner" / "rules" / "default"), "--out", str(tmp_path / "o.yaml"))
    assert p.returncode == 2 and f"{empty}: no JSON alerts found" in p.stderr
    p = lanner("tune", str(tmp_path / "missing.json"), "-r", "x.yaml", "--out", str(tmp_path / "o.yaml"))
    assert p.returncode == 2 and "missing.json: cannot read" in p.stderr
    good = tmp_path / "a.json"
    good.write_text(json.dumps({"rule": "R", "output_fields": {}}) + "\n")
    p = lanner("tune", str(good), "-r", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o.yaml"))
    assert p.returncode == 2 and "nope.yaml" in p.stderr and "Traceback" not in p.stderr
    pytest.importorskip("yaml")
