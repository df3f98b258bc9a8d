"""The five fuzz targets: each feeds one input to one parser and allows only that parser's clean error.

Anything else escaping (TypeError, RecursionError, UnicodeError, KeyError ...) is a crash: it would be a
traceback for a user. The same functions replay the kept regression cases (data/regressions.yaml).
"""

from __future__ import annotations

import io
import os
import tempfile
from typing import Any

from lanner.config import Config, ConfigError, load_config
from lanner.engine import Engine, syscall_event_table
from lanner.events.base import PluginEvent
from lanner.events.syscall import SyscallEvent
from lanner.rules.compiler import CompileError, ConditionCompiler
from lanner.rules.parser import ParseError, parse
from lanner.sources.k8saudit.parse import AuditParseError, loads, split_events, to_records
from lanner.sources.scap import MachineInfo, ScapError, ScapReader, ScapWriter, ThreadRecord
from tests.rules.synthetic import SOURCE, SynthEvent, registry

REG = registry()


def condition(text: str) -> None:
    """Parse, compile against the synthetic fields and evaluate on one event."""
    try:
        tree = parse(text)
    except ParseError:
        return
    try:
        fn = ConditionCompiler(REG, SOURCE).compile(tree).fn
    except CompileError:
        return
    fn(SynthEvent(**{"test__str": "abc", "test__num": 3}))


def rules(text: str | bytes) -> None:
    """Load a rules file (text, or bytes read as a file is); every problem must be a diagnostic."""
    eng = Engine(Config({}), registry=REG, sources={"syscall"}, events=syscall_event_table())
    if isinstance(text, bytes):
        with tempfile.NamedTemporaryFile("wb", suffix=".yaml", delete=False) as f:
            f.write(text)
        try:
            eng.loader.load_file(f.name)
        finally:
            os.unlink(f.name)
    else:
        eng.load_rules_text("fuzz.yaml", text)
    eng.loader.results[-1].verbose()


def audit(data: bytes) -> None:
    """Parse a webhook body / file line, encode its events and run them through a rule whose output
    renders every k8s_audit field."""
    try:
        events = split_events(loads(data))
    except AuditParseError:
        return
    eng = all_fields_engine()
    for i, rec in enumerate(to_records(events, 262144, lambda msg: None, "fuzz: ")):
        run(eng, PluginEvent(i + 1, rec.ts, "k8s_audit", rec.data, "k8saudit", rec.obj))


def config(data: bytes) -> None:
    """Load a config file (and apply one -o override)."""
    with tempfile.NamedTemporaryFile("wb", suffix=".yaml", delete=False) as f:
        f.write(data)
        path = f.name
    try:
        load_config(path, ["log_level=info"], search_defaults=False)
    except ConfigError:
        pass
    finally:
        os.unlink(path)


def capture(data: bytes) -> None:
    """Read every event of a capture, render its arguments and run it through the state engine and a
    rule whose output renders every syscall field."""
    eng = all_fields_engine()
    try:
        r = ScapReader(io.BufferedReader(io.BytesIO(data)), on_section=eng.state.seed_from_capture)
        for ev in r:
            ev.args_str()
            run(eng, ev)
    except ScapError:
        return


def run(eng: Engine, ev: Any) -> None:
    """state -> rules -> post-state, whichever way the engine splits them."""
    if hasattr(eng, "evaluate") or ev.source != "syscall":     # no state to keep, or process keeps it
        eng.process(ev)
        return
    eng.state.process(ev)
    if not getattr(ev, "hidden", False):
        eng.process(ev)
    eng.state.post_process(ev)


_ENGINE: list[Engine] = []


def all_fields_engine() -> Engine:
    """An engine (one, reused: its state carries over between inputs) with one catch-all rule per source
    whose output names every field that needs no argument."""
    if _ENGINE:
        return _ENGINE[0]
    eng = Engine(Config({}), sources=["k8s_audit", "syscall"])
    text = ""
    for src, cond in (("syscall", "evt.type in (openat, read, close, execve, open, connect)"),
                      ("k8s_audit", "ka.verb exists or evt.num > 0")):
        names = [fd.name for _, fd in eng.registry.all_fields(src)
                 if fd.arg != "required" and "filter_only" not in {str(f) for f in fd.flags}]
        out = " ".join("%" + n for n in names)
        text += f'- rule: all {src}\n  desc: d\n  condition: {cond}\n  output: "{out}"\n  priority: INFO\n' \
                f"  source: {src}\n"
    assert eng.load_rules_text("fuzz.yaml", text), eng.loader.results[-1].verbose()
    _ENGINE.append(eng)
    return eng


OPENAT_X, CLOSE_X, READ_X = 307, 5, 7


def seed_capture() -> bytes:
    """A small uncompressed capture written by lanner's writer: thread table, opens, reads, closes."""
    buf = io.BytesIO()
    w = ScapWriter(buf, compress=False)
    w.write_metadata(MachineInfo(hostname="fuzzhost"),
                     threads=[ThreadRecord(tid=100, pid=100, ptid=1, comm="cat", exe="cat",
                                           exepath="/usr/bin/cat", args=["/etc/shadow"], cwd="/tmp")])
    ts = 1_700_000_000_000_000_000
    for i in range(6):
        w.write(SyscallEvent.from_values(3 * i + 1, ts + i, 100, OPENAT_X,
                                         [3, -100, f"/etc/file{i}", 1, 0, 0, 1000 + i]))
        w.write(SyscallEvent.from_values(3 * i + 2, ts + i, 100, READ_X, [5, b"hello", 3, 5]))
        w.write(SyscallEvent.from_values(3 * i + 3, ts + i, 100, CLOSE_X, [0, 3]))
    w.close()
    return buf.getvalue()


TARGETS: dict[str, Any] = {"condition": condition, "rules": rules, "audit": audit, "config": config,
                           "capture": capture}
