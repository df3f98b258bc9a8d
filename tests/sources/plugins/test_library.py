"""Opening plugin libraries: metadata, capabilities and fields of the real plugins; Falco's errors."""

from __future__ import annotations

import pytest

from lanner.sources.plugins import abi
from lanner.sources.plugins.library import (
    CAP_ASYNC,
    CAP_EXTRACTION,
    CAP_PARSING,
    CAP_SOURCING,
    PluginLoadError,
    check_api_version,
    load_library,
    parse_fields,
)
from tests.sources.plugins.conftest import real_plugin

# name, version, required API, capabilities, id, source, fields (as libs' checker printed them)
REAL = [
    ("libplugin_source.so", "sample_plugin_source", "0.1.0", "3.12.0", CAP_SOURCING, 999, "sample", []),
    ("libplugin_extract.so", "sample_plugin_extract", "0.1.0", "3.12.0", CAP_EXTRACTION, 0, "", ["sample.hello"]),
    ("libdummy_c.so", "dummy_c", "0.3.0", "3.0.0", CAP_SOURCING | CAP_EXTRACTION, 4, "dummy_c",
     ["dummy.divisible", "dummy.value", "dummy.strvalue"]),
    ("libdummy.so", "dummy", "0.11.5", "3.11.0", CAP_SOURCING | CAP_EXTRACTION, 3, "dummy",
     ["dummy.divisible", "dummy.value", "dummy.strvalue"]),
    ("libjson.so", "json", "0.7.4", "3.11.0", CAP_EXTRACTION, 0, "",
     ["json.value", "json.obj", "json.rawtime", "jevt.value", "jevt.obj", "jevt.rawtime"]),
    ("libsyscall_async.so", "sample_syscall_async", "0.1.0", "3.12.0", CAP_ASYNC, 0, "", []),
    ("libmetrics.so", "sample_metrics", "0.1.0", "3.12.0", CAP_PARSING, 0, "", []),
    ("libsyscall_source.so", "sample_syscall_source", "0.1.0", "3.12.0", CAP_SOURCING, 0, "", []),
]


@pytest.mark.parametrize("lib,name,version,api,caps,pid,source,fields", REAL, ids=[r[0] for r in REAL])
def test_real_plugin_metadata(lib, name, version, api, caps, pid, source, fields) -> None:
    p = load_library(real_plugin(lib))
    assert (p.name, p.version, p.required_api_version, p.caps, p.id, p.event_source) == \
        (name, version, api, caps, pid, source)
    assert [f.name for f in p.fields] == fields
    assert [f.index for f in p.fields] == list(range(len(fields)))


def test_field_details_and_sources() -> None:
    d = load_library(real_plugin("libdummy_c.so"))
    div = d.fields[0]
    assert (div.type, div.arg_required, div.arg_index) == ("uint64", True, True)
    assert d.extract_sources == frozenset({"dummy_c"})
    ex = load_library(real_plugin("libsyscall_extract.so"))
    assert ex.extract_sources == frozenset({"syscall"})
    assert load_library(real_plugin("libsyscall_async.so")).async_events == ("sampleticker",)
    st, schema = load_library(real_plugin("libdummy.so")).init_schema()
    assert st == abi.SCHEMA_JSON and '"jitter"' in schema


def test_missing_library_message() -> None:
    with pytest.raises(PluginLoadError) as e:
        load_library("/nonexistent/dir/libnope.so")
    assert str(e.value).startswith("cannot load plugin /nonexistent/dir/libnope.so: can't load plugin dynamic "
                                   "library: ")
    assert "No such file or directory" in str(e.value)


def test_relative_path_under_falco_plugins_dir() -> None:
    with pytest.raises(PluginLoadError, match=r"cannot load plugin /usr/share/falco/plugins/libnope\.so"):
        load_library("libnope.so")


def test_incompatible_api_version(incompat_plugin) -> None:
    with pytest.raises(PluginLoadError) as e:
        load_library(str(incompat_plugin))
    assert str(e.value) == (f"cannot load plugin {incompat_plugin}: plugin required API version '10000000.0.0' "
                            "not compatible with the framework's API version '3.12.0': major versions disagree")


@pytest.mark.parametrize("req,msg", [
    ("3.13.0", "framework's minor is less than the requested one"),
    ("3.12.1", "framework's patch is less than the requested one"),
    ("2.0.0", "major versions disagree"),
])
def test_api_version_rules(req, msg) -> None:
    with pytest.raises(PluginLoadError, match=msg):
        check_api_version(req)
    check_api_version("3.0.0")
    check_api_version("3.12.0")
    with pytest.raises(PluginLoadError, match="invalid required API version: '3.x'"):
        check_api_version("3.x")


@pytest.mark.parametrize("text,msg", [
    (None, "get_fields returned a null string"),
    ("{}", "get_fields returned an invalid JSON"),
    ('[{"name":"a.b","desc":"d"}]', "field JSON entry has no type"),
    ('[{"type":"string","desc":"d"}]', "field JSON entry has no name"),
    ('[{"type":"string","name":"a.b"}]', "field JSON entry has no desc"),
    ('[{"type":"double","name":"a.b","desc":"d"}]', "invalid field type double"),
    ('[{"type":"string","name":"a.b","desc":"d","isList":1}]', "field a.b isList property is not boolean"),
    ('[{"type":"string","name":"a.b","desc":"d","arg":{"isRequired":true}}]',
     "field a.b arg has isRequired true, but none of isKey nor isIndex is true"),
    ("[]", "plugins with extraction capability must export at least one field"),
])
def test_malformed_fields(text, msg) -> None:
    with pytest.raises(PluginLoadError) as e:
        parse_fields("p", text)
    assert str(e.value) == f"error in plugin p: {msg}"
