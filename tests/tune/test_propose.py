"""Proposals from alerts, without running anything: shape order (declared exceptions, path, parent,
single fields), path prefixes, values Falco's exception quoting cannot carry, and the override file loading
in lanner's loader after the rules it tunes."""

from __future__ import annotations

from lanner.config import Config
from lanner.testing.pipeline import build_pipeline
from lanner.testing.runner import default_rules_paths
from lanner.tune.override import render
from lanner.tune.propose import propose, usable, value_match
from lanner.tune.rules import RuleFacts, load_rules


def a(rule: str, **f: object) -> dict:
    return {"rule": rule, "output_fields": {k.replace("__", "."): v for k, v in f.items()}}


def test_shapes_narrow_first_and_prefixes() -> None:
    facts = {"R": RuleFacts("R", "syscall")}
    alerts = {"R": [a("R", proc__name="gcc", fd__name=f"/usr/lib/gcc/x86_64/{i}.o") for i in range(5)]
              + [a("R", proc__name="tar", fd__name="/etc/shadow"), a("R", proc__name="tar", fd__name="/etc/shadow")]
              + [a("R", proc__name="strace", proc__pname="sh")]
              + [a("R", user__name="svc")]
              + [a("R", proc__name="x", fd__name='/tmp/a"b')]}
    props, notes = propose(alerts, facts)
    got = {(p.name, tuple(p.comps)): [(v.values, v.removes) for v in p.values] for p in props}
    assert got[("lanner_tune_proc_name_fd_name", ("=", "="))] == [(("tar", "/etc/shadow"), 2)]
    assert got[("lanner_tune_proc_name_fd_name_prefix", ("=", "startswith"))] == [(("gcc", "/usr/lib/gcc/x86_64/"), 5)]
    assert got[("lanner_tune_proc_name_proc_pname", ("=", "="))] == [(("strace", "sh"), 1)]
    assert got[("lanner_tune_user_name", ("=",))] == [(("svc",), 1)]
    assert got[("lanner_tune_proc_name", ("=",))] == [(("x",), 1)]     # the quoted path cannot be a value
    assert notes == []
    assert usable('a"b') is None and usable("<NA>") is None and usable("a b") == "a b" and usable(["a", "b"]) == ["a", "b"]
    assert value_match("/usr/lib/x", "startswith", "/usr/lib/") and not value_match("/usr/libx", "pmatch", "/usr/lib")


def test_declared_exception_gets_the_values_and_override_loads(tmp_path) -> None:
    rules = load_rules(list(default_rules_paths()))
    alerts = {"Read Shadow or Sudoers File": [a("Read Shadow or Sudoers File", proc__name="backupd", fd__name="/etc/gshadow")],
              "No Such Rule": [a("No Such Rule", proc__name="x")]}
    props, notes = propose(alerts, rules)
    assert [(p.name, p.existing) for p in props] == [("known_reader_files", True)]
    assert notes == ["rule 'No Such Rule': 1 alert(s), but no rule of that name in the rules given"]
    text = render(props)
    assert "fields:" not in text and '["backupd", "/etc/gshadow"]' in text
    path = tmp_path / "override.yaml"
    path.write_text(text)
    p = build_pipeline(Config())
    assert p.load([*default_rules_paths(), str(path)]) == []
    cond = next(r.condition for r in p.engine.loader.rules if r.name == "Read Shadow or Sudoers File")
    assert "backupd" in cond and "/etc/gshadow" in cond
