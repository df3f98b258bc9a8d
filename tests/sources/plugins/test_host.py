"""Hosting plugins: sourcing, extraction (own events and syscall events), parsing with state tables,
async events, metrics, and every error path (with lanner's own C test plugin)."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import threading
import time

import pytest

from lanner.events.base import PluginEvent
from lanner.events.syscall import SyscallEvent
from lanner.sources.plugins.host import PluginError, PluginHost
from lanner.sources.plugins.library import PluginLoadError, load_library
from lanner.sources.plugins.tables import TableRegistry
from lanner.state.engine import StateEngine
from tests.sources.plugins.conftest import real_plugin


def host(path: str, config: str = "", tables: TableRegistry | None = None) -> PluginHost:
    h = PluginHost(load_library(path), tables)
    h.init(config)
    return h


def drain(h: PluginHost, params: str) -> list:
    h.open(params)
    try:
        return [e for b in h.batches() if b for e in b]
    finally:
        h.close()


def fields(h: PluginHost, args: dict[str, str] | None = None) -> dict:
    args = args or {}
    return {f.name: h.extractor(f, args.get(f.name)) for f in h.lib.fields}


def test_source_plugin_events() -> None:
    h = host(real_plugin("libplugin_source.so"))
    before = time.time_ns()
    evs = drain(h, "3")
    assert [(e.type, e.source, e.data, e.plugin_id, e.plugin) for e in evs] == \
        [(322, "sample", b"hello world\0", 999, "sample_plugin_source")] * 3
    assert [e.num for e in evs] == [1, 2, 3]
    assert all(e.ts >= before for e in evs), "UINT64_MAX timestamps become the time they were read"
    h.destroy()


def test_dummy_plugins_source_and_extract() -> None:
    for lib in ("libdummy_c.so", "libdummy.so"):
        h = host(real_plugin(lib), '{"jitter": 10}')
        evs = drain(h, '{"start": 1, "maxEvents": 5}')
        assert len(evs) == 5 and all(e.plugin_id == h.lib.id for e in evs)
        x = fields(h, {"dummy.divisible": "3"})
        for e in evs:
            v = x["dummy.value"](e)
            assert isinstance(v, int)
            assert x["dummy.strvalue"](e) == str(v)
            assert x["dummy.divisible"](e) == (1 if v % 3 == 0 else 0)


def test_extract_plugin_on_other_plugins_events() -> None:
    ex = host(real_plugin("libplugin_extract.so"))
    x = fields(ex)["sample.hello"]
    assert x(PluginEvent(1, 1000, "sample", b"hello world\0", plugin_id=999)) == "hello world"


def test_json_plugin_fields() -> None:
    j = host(real_plugin("libjson.so"))
    x = {f.name: f for f in j.lib.fields}
    e = PluginEvent(1, 1000, "anything", b'{"user":{"name":"alice","ids":[1,2]}}', plugin_id=7)
    assert j.extractor(x["json.value"], "/user/name")(e) == "alice"
    assert j.extractor(x["jevt.value"], "/user/ids/1")(e) == "2"
    assert j.extractor(x["json.rawtime"], None)(e) == "1000"
    assert j.extractor(x["json.value"], "/nope")(e) is None


def test_syscall_source_plugin_produces_syscall_events() -> None:
    h = host(real_plugin("libsyscall_source.so"))
    evs = drain(h, "2")
    assert [type(e) for e in evs] == [SyscallEvent, SyscallEvent]
    e = evs[0]
    assert (e.type, e.tid, e.param("fd"), e.param("name"), e.param("ino")) == (3, 1, 3, "/tmp/the_file", 123)


def test_parse_and_extract_plugins_share_state_tables() -> None:
    reg = TableRegistry()
    state = StateEngine()
    reg.attach_state(state)
    parser = host(real_plugin("libsyscall_parse.so"), tables=reg)
    ex = host(real_plugin("libsyscall_extract.so"), tables=reg)
    parse = parser.parser()
    x = fields(ex)
    seen = []
    for i in range(3):
        e = SyscallEvent.from_values(i + 1, 10 + i, 42, 3, [3, "/tmp/x", 0, 0, 0, 0])
        state.process(e)
        parse(e)
        state.post_process(e)
        seen.append((x["sample.is_open"](e), x["sample.open_count"](e), x["sample.evt_count"](e)))
    assert seen == [(1, 1, 1), (1, 2, 2), (1, 3, 3)]
    close = SyscallEvent.from_values(9, 20, 42, 5, [0])
    assert 5 not in ex.extract_codes
    assert x["sample.is_open"](close) is None, "not among the plugin's extract event types: no value"
    assert parser.errors == ex.errors == 0


def test_extract_plugin_needs_tables_from_owner() -> None:
    """Without the threads table (a registry whose state is absent, the table empty) init still works;
    the plugin reads lanner's thread fields through the reader vtable."""
    reg = TableRegistry()
    state = StateEngine()
    reg.attach_state(state)
    ex = host(real_plugin("libsyscall_extract.so"), tables=reg)
    e = SyscallEvent.from_values(1, 10, 77, 3, [3, "/tmp/x", 0, 0, 0, 0])
    state.process(e)
    t = state.threads.get(77)
    t.comm = "myproc"
    assert fields(ex)["sample.proc_name"](e) == "myproc"


def test_metrics_plugin() -> None:
    m = host(real_plugin("libmetrics.so"))
    parse = m.parser()
    for i in range(3):
        parse(SyscallEvent.from_values(i + 1, 5, 10, 3, [3, "/tmp/x", 0, 0, 0, 0]))
    parse(SyscallEvent.from_values(4, 5, 10, 5, [0]))       # not among its parse types: not counted
    assert m.metrics() == {"sample_metrics.dummy_metric": 1234, "sample_metrics.evt_count": 3}


def test_async_events_and_dump_state() -> None:
    h = host(real_plugin("libsyscall_async.so"), "5:1000000")
    dumped = h.dump_state()
    assert [e.param("name") for e in dumped] == ["sampleticker"] * 10
    assert dumped[0].param("data") == b"hello world #0\0"
    got = []
    done = threading.Event()

    def on_event(e) -> None:
        got.append(e)
        if len(got) >= 3:
            done.set()

    h.set_async_handler(on_event)
    assert done.wait(10), "three async events within 10 s"
    h.set_async_handler(None)
    assert {(e.type, e.param("name")) for e in got} == {(402, "sampleticker")}
    h.destroy()


# --- lanner's own test plugin: the error paths -----------------------------------------------------------

def test_own_plugin_sourcing_and_fields(test_plugin) -> None:
    h = host(str(test_plugin))
    evs = drain(h, "2")
    assert [(e.data, e.plugin_id, e.ts) for e in evs] == [(b"event 1 of 2\0", 1999, 10**9),
                                                         (b"event 2 of 2\0", 1999, 2 * 10**9)]
    x = fields(h, {"test.arg": "some key"})
    e = evs[1]
    assert x["test.num"](e) == 2
    assert x["test.text"](e) == "event 2 of 2"
    assert x["test.words"](e) == ["event", "2 of 2"]
    assert x["test.ip"](e) == ipaddress.ip_address("10.1.2.3")
    assert x["test.arg"](e) == "some key"


def test_own_plugin_failing_extraction_is_a_missing_value(test_plugin) -> None:
    h = host(str(test_plugin))
    e = drain(h, "1")[0]
    assert fields(h)["test.fail"](e) is None
    assert h.errors == 1
    assert h.last_error() == "test.fail always fails"


def test_own_plugin_failing_init(test_plugin) -> None:
    h = PluginHost(load_library(str(test_plugin)))
    with pytest.raises(PluginLoadError) as e:
        h.init("fail")
    assert str(e.value) == "could not initialize plugin: init refused: the config asked to fail"


def test_own_plugin_failing_open(test_plugin) -> None:
    h = host(str(test_plugin))
    with pytest.raises(PluginError, match="could not open plugin lanner_test with params 'fail': cannot open: "
                                          "params asked to fail"):
        h.open("fail")


def test_own_plugin_malformed_event(test_plugin) -> None:
    h = host(str(test_plugin))
    h.open("malformed")
    with pytest.raises(PluginError, match=r"error in plugin lanner_test: malformed event #1: invalid event length 10"):
        list(h.batches())


def test_init_config_validated_against_schema() -> None:
    h = PluginHost(load_library(real_plugin("libdummy.so")))
    with pytest.raises(PluginLoadError, match="error in plugin dummy init config: In <root>"):
        h.init('{"jitter": "not a number"}')
    with pytest.raises(PluginLoadError, match="error in plugin dummy: init config is not a valid json"):
        h.init("{nope")


def test_plugin_log_lines_reach_lanner_log(test_plugin) -> None:
    code = ("import logging,sys; logging.basicConfig(stream=sys.stdout, level=logging.INFO, format='%(message)s');"
            "from lanner.sources.plugins.library import load_library;"
            "from lanner.sources.plugins.host import PluginHost;"
            f"PluginHost(load_library({str(test_plugin)!r})).init('')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "lanner_test: test plugin initialising" in out.stdout
