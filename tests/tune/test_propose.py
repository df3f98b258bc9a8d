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


def test_tune_reads_a_console_store(tmp_path, capsys) -> None:
    from lanner.console.record import from_alert_json
    from lanner.console.store import SQLiteStore
    from lanner.tune.cli import main
    db = tmp_path / "console.db"
    s = SQLiteStore(str(db))
    doc = {"rule": "Read Shadow or Sudoers File", "priority": "Warning", "time": "2026-01-01T00:00:00Z",
           "output_fields": {"proc.name": "backupd", "fd.name": "/etc/gshadow"}}
    s.add([from_alert_json(doc)] * 3)
    s.close()
    out = tmp_path / "o.yaml"
    rc = main(["--store", str(db), *[x for r in default_rules_paths() for x in ("-r", r)], "--out", str(out),
               "--no-verify"])
    text = capsys.readouterr().out
    assert rc == 0 and "3 alerts from 1 rule(s); the override removes 3 (100%)" in text
    assert '["backupd", "/etc/gshadow"]   # removes 3 alerts' in out.read_text()
    assert main(["-r", "x.yaml", "--out", str(out)]) == 2
    assert "give alert files, --store URL or --live SECONDS" in capsys.readouterr().err
