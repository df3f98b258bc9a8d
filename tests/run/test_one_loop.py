"""One event loop: the same capture through ``lanner -e``, ``lanner test`` and the bench path gives the
same alerts, field for field (container fields included; the capture carries container events 324)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import orjson

from lanner.config import engine_defaults
from lanner.engine import Engine
from lanner.run.loop import LoopStats, replay_batches, run_loop
from lanner.sources.scap.reader import ScapReader
from lanner.testing.cases import Case, Expectation
from lanner.testing.runner import PASS, CaseRunner
from tests.conftest import shared_path

ROOT = Path(__file__).resolve().parents[2]
FIELDS = ("fd.name", "proc.name", "proc.pid", "container.id", "container.name", "container.image.repository")
RULES = """
- rule: open seen
  desc: every successful open of the capture
  condition: evt.type in (open, openat, openat2) and evt.dir = < and fd.num >= 0
  output: "open %fd.name by %proc.name pid=%proc.pid container=%container.id name=%container.name image=%container.image.repository"
  priority: WARNING
"""


def via_cli(rules: Path, capture: Path) -> list[tuple[str, str, dict]]:
    r = subprocess.run([sys.executable, "-m", "lanner", "-r", str(rules), "-e", str(capture), "-o", "json_output=true",
                        "-o", "stdout_output.enabled=true", "-o", "log_stderr=false"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        if line.startswith("{"):
            d = orjson.loads(line)
            msg = d["output"].split(": ", 1)[1].split(" ", 1)[1]    # "<time>: <Priority> <message>"
            out.append((d["rule"], msg, {k: d["output_fields"].get(k) for k in FIELDS}))
    return out


def via_lanner_test(rules: Path, capture: Path) -> list[tuple[str, str, dict]]:
    case = Case("same capture", "inline", 0, (str(rules),), "capture", path=str(capture),
                expect=[Expectation("open seen", {k: "*" for k in FIELDS})])
    (res,) = CaseRunner().run([case])
    assert res.status == PASS, res.problems
    return [(f.rule, f.message, {k: f.values[k] for k in FIELDS}) for f in res.fired]


def via_bench_loop(rules: Path, capture: Path) -> tuple[list[tuple[str, str, dict]], Engine]:
    eng = Engine(engine_defaults())
    assert eng.load_rules_files([str(rules)])
    got = []
    eng.on_alert = lambda a: got.append((a.rule, a.message, {k: a.output_fields.get(k) for k in FIELDS}))
    with ScapReader(str(capture), on_section=eng.state.seed_from_capture) as r:
        run_loop(eng, replay_batches(r), threading.Event(), LoopStats("syscall"))
    return got, eng


def text(v: object) -> str:
    return "<NA>" if v is None else str(v)


def test_the_three_paths_agree(tmp_path):
    capture = shared_path("captures", "open-multiple-files.scap")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    bench, eng = via_bench_loop(rules, capture)
    cli = via_cli(rules, capture)
    tested = via_lanner_test(rules, capture)
    assert len(bench) >= 5
    assert [(r, m) for r, m, _ in cli] == [(r, m) for r, m, _ in bench] == [(r, m) for r, m, _ in tested]
    norm = [[{k: text(v) for k, v in f.items()} for _, _, f in alerts] for alerts in (cli, bench, tested)]
    assert norm[0] == norm[1] == norm[2]
    # the capture's container events (324) went through Engine.process into the container manager
    assert eng.containers.get("ad64969c62e5").name == "express_server"
    assert eng.containers.get("5ea733068030").image == "sysdig/falco:latest"
