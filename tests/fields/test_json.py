"""json.* / jevt.* fields: RFC 6901 pointers, rendering, lazy memoised parsing."""

from __future__ import annotations

import orjson
import pytest

from lanner.events.base import PluginEvent
from lanner.fields import json as jf
from lanner.fields.registry import FieldError, FieldRegistry

REG = FieldRegistry([jf.field_class(("k8s_audit", "aws_cloudtrail"))])
DOC = {"a/b": 1, "m~n": "tilde", "": "empty-key", "arr": [10, {"x": None}, "s"], "obj": {"k": True},
       "f": 1.5, "s": "héllo", "nested": {"deep": {"er": [1, 2]}}}


def evt(doc=DOC, ts=1_600_000_000_123_456_789, source="k8s_audit") -> PluginEvent:
    return PluginEvent(1, ts, source, orjson.dumps(doc), "k8saudit")


def val(e, ptr, prefix="json"):
    return REG.resolve(e.source, f"{prefix}.value", ptr).bind()(e)


@pytest.mark.parametrize("ptr,expected", [
    ("/a~1b", "1"), ("/m~0n", "tilde"), ("/", "empty-key"), ("/arr/0", "10"), ("/arr/1", '{"x":null}'),
    ("/arr/1/x", "null"), ("/arr/2", "s"), ("/obj", '{"k":true}'), ("/obj/k", "true"), ("/f", "1.5"),
    ("/s", "héllo"), ("nested/deep/er/1", "2"), ("/nested/deep/er", "[1,2]"),
    ("/arr/3", None), ("/arr/01", None), ("/arr/-", None), ("/arr/x", None), ("/missing", None),
    ("/s/0", None), ("/obj/k/z", None),
])
def test_pointers(ptr, expected) -> None:
    e = evt()
    assert val(e, ptr) == expected
    assert val(e, ptr, "jevt") == expected


def test_empty_pointer_is_whole_document() -> None:
    assert orjson.loads(val(evt(), "")) == DOC


def test_obj_and_rawtime() -> None:
    e = evt({"b": [1, {}], "a": "x"})
    obj = REG.resolve("k8s_audit", "jevt.obj", None).bind()(e)
    assert obj == '{\n  "b": [\n    1,\n    {}\n  ],\n  "a": "x"\n}'
    assert REG.resolve("k8s_audit", "json.rawtime", None).bind()(e) == "1600000000123456789"


def test_parse_once_and_bad_payloads() -> None:
    e = evt()
    assert e.obj is None
    val(e, "/f")
    parsed = e.obj
    assert parsed == DOC
    val(e, "/s")
    assert e.obj is parsed                      # memoised in the event
    for data in (b"", b"not json", b'{"a": ', b"42"):
        bad = PluginEvent(1, 1, "k8s_audit", data, "x")
        assert val(bad, "/a") is None
        assert REG.resolve("k8s_audit", "json.obj", None).bind()(bad) is None
        assert REG.resolve("k8s_audit", "json.rawtime", None).bind()(bad) is None


def test_sources_and_args() -> None:
    assert val(evt(source="aws_cloudtrail"), "/f") == "1.5"
    with pytest.raises(FieldError):
        REG.resolve("syscall", "json.value", "/a")
    with pytest.raises(FieldError):
        REG.resolve("k8s_audit", "json.value", None)
    with pytest.raises(FieldError):
        REG.resolve("k8s_audit", "json.obj", "/x")
