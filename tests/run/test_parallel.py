"""A replay split over several worker processes (``engine.replay.workers``) hands on exactly the alerts of one
core, in the same order, for both rule matching strategies, with the upstream rules (when ../shared has them) and
local ones, on lanner's state-walk capture and a capture of the benches' realistic mix; the run wires it and falls
back where it must. (The reference captures raise one upstream alert in all: the mix is the real check.)"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from lanner.config import Config, ConfigError, engine_defaults
from lanner.core.alert import Alert
from lanner.engine import Engine
from lanner.run.loop import LoopStats, replay_batches, run_loop
from lanner.run.parallel import ParallelReplay, replay_workers, split, weigh, why_single
from lanner.sources.scap.reader import ScapReader
from tests.fields.synthetic_capture import build

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from workload import write_capture  # noqa: E402

UPSTREAM = ROOT.parent / "shared" / "upstream" / "rules"
LOCAL_RULES = """
- macro: sensitive
  condition: fd.name in (/etc/shadow, /etc/passwd, /root/.ssh/id_rsa)
- rule: sensitive read
  desc: d
  condition: evt.type in (open, openat, openat2) and evt.dir = < and sensitive
  output: "read %fd.name by %proc.name (%proc.pname) user=%user.name"
  priority: WARNING
- rule: any open by a shell
  desc: d
  condition: evt.type in (open, openat, openat2) and evt.dir = < and proc.name in (bash, sh)
  output: "shell opened %fd.name pid=%proc.pid"
  priority: NOTICE
- rule: spawned
  desc: d
  condition: evt.type = execve and evt.dir = < and proc.pname exists
  output: "spawned %proc.cmdline parent=%proc.pname"
  priority: INFO
- rule: network
  desc: d
  condition: evt.type in (connect, accept, accept4) and evt.dir = <
  output: "net %fd.name by %proc.name"
  priority: INFO
- rule: every close
  desc: d
  condition: evt.type = close and evt.dir = <
  output: "close %fd.num by %proc.name"
  priority: DEBUG
"""


def engine(rules: list[str], match_all: bool) -> Engine:
    cfg = engine_defaults(["rule_matching=all"] if match_all else [])
    eng = Engine(cfg)
    assert eng.load_rules_files(rules)
    return eng


def one_core(rules: list[str], capture: str, match_all: bool) -> list[Alert]:
    eng = engine(rules, match_all)
    got: list[Alert] = []
    eng.on_alert = got.append
    with ScapReader(capture, on_section=eng.state.seed_from_capture) as r:
        run_loop(eng, replay_batches(r), threading.Event(), LoopStats("syscall"))
    return got


def workers(eng: Engine, capture: str, n: int) -> tuple[list[Alert], LoopStats]:
    """The split replay; ``eng`` itself processes nothing (its forks do), so one engine serves many runs."""
    got: list[Alert] = []
    stats = LoopStats("syscall")
    eng.stats.alerts, eng.stats.by_rule = 0, {}
    ParallelReplay(eng, capture, n, got.append).run(stats, threading.Event())
    return got, stats


@pytest.mark.parametrize("match_all", [False, True], ids=["first", "all"])
def test_workers_give_the_alerts_of_one_core(tmp_path: Path, match_all: bool) -> None:
    local = tmp_path / "local.yaml"
    local.write_text(LOCAL_RULES)
    mix = tmp_path / "mix.scap"
    write_capture(str(mix), 20_000)
    caps = [str(mix), str(build(tmp_path / "walk.scap"))]
    ruleset = [[str(local)]]
    if UPSTREAM.is_dir() and not match_all:
        ruleset.append([str(UPSTREAM / f) for f in ("falco_rules.yaml", "falco-incubating_rules.yaml",
                                                    "falco-sandbox_rules.yaml")])
    total = 0
    for rules in ruleset:
        eng = engine(rules, match_all)
        for cap in caps:
            single = one_core(rules, cap, match_all)
            for n in (2, 3):
                got, stats = workers(eng, cap, n)
                assert got == single, f"{cap} with {n} workers"
                assert eng.stats.alerts == len(single)
                assert eng.stats.by_rule == dict(Counter(a.rule for a in single))
                assert stats.events > 0
            total += len(single)
    assert total > 1000


def test_rule_matching_first_keeps_the_rule_loaded_first(tmp_path: Path) -> None:
    # two rules matching the same events, each on its own worker: only the first-loaded one alerts
    p = tmp_path / "r.yaml"
    p.write_text("\n".join(f"- rule: r{i}\n  desc: d\n  condition: evt.type = close and evt.dir = <\n"
                           f"  output: r{i} %fd.num\n  priority: INFO\n" for i in range(4)))
    cap = tmp_path / "mix.scap"
    write_capture(str(cap), 5_000)
    got, _stats = workers(engine([str(p)], False), str(cap), 4)
    assert got and {a.rule for a in got} == {"r0"}
    assert got == one_core([str(p)], str(cap), False)


def test_shares_are_balanced_by_sampled_cost() -> None:
    class R:
        def __init__(self, name: str, types: frozenset[int] | None) -> None:
            self.name, self.evttypes = name, types
    rules = [R("heavy", frozenset({1})), R("light1", frozenset({2})), R("light2", frozenset({3})),
             R("all", None)]
    w = weigh(rules, Counter({1: 100, 2: 10, 3: 10, 4: 5}), [1, 2, 3, 4])  # type: ignore[arg-type]
    assert w == {"heavy": 100, "light1": 10, "light2": 10, "all": 125}
    a, b = split(rules, w, 2)  # type: ignore[arg-type]
    assert {frozenset(a), frozenset(b)} == {frozenset({"all"}), frozenset({"heavy", "light1", "light2"})}


def test_setting_and_fallbacks() -> None:
    assert replay_workers(Config({})) == 1
    assert replay_workers(Config({"engine": {"replay": {"workers": 3}}})) == 3
    with pytest.raises(ConfigError, match="engine.replay.workers"):
        replay_workers(Config({"engine": {"replay": {"workers": 0}}}))
    eng = Engine(Config({}))
    assert why_single(eng, False, False) == ""
    assert "capture" in why_single(eng, True, False)
    assert "simulate_drops" in why_single(eng, False, True)


def test_the_run_uses_workers(tmp_path: Path) -> None:
    cap = tmp_path / "mix.scap"
    write_capture(str(cap), 20_000)
    rules = tmp_path / "r.yaml"
    rules.write_text(LOCAL_RULES)

    def run(*opts: str) -> tuple[list[str], str]:
        r = subprocess.run([sys.executable, "-m", "lanner", "-c", str(ROOT / "lanner" / "data" / "lanner.yaml"),
                            "-r", str(rules), "-e", str(cap), "-o", "json_output=true", "-o", "log_level=info",
                            *[a for o in opts for a in ("-o", o)]],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        return [ln for ln in r.stdout.splitlines() if ln.startswith("{")], r.stdout + r.stderr

    single, _ = run()
    split_run, out = run("engine.replay.workers=2")
    assert len(single) > 100
    assert split_run == single
    assert "Events detected: " in out
    fallback, out = run("engine.replay.workers=2", "syscall_event_drops.simulate_drops=true")
    assert "runs on one core: simulate_drops" in out
