"""cloudtrail source: CloudTrail log files / directories / .gz, records as aws_cloudtrail events."""

from __future__ import annotations

import gzip

import orjson
import pytest

from lanner.fields.registry import FieldRegistry
from lanner.sources.api import SourceError
from lanner.sources.cloudtrail import CloudTrailPlugin
from lanner.sources.json_plugin import JsonPlugin


def rec(i: int, name: str = "ConsoleLogin", t: str = "2024-01-02T03:04:05Z") -> dict:
    return {"eventID": f"e{i}", "eventTime": t, "eventName": name, "eventSource": "signin.amazonaws.com",
            "sourceIPAddress": "203.0.113.9", "userIdentity": {"type": "Root", "userName": "root"},
            "awsRegion": "us-east-1"}


def test_directory_of_logs(tmp_path) -> None:
    sub = tmp_path / "AWSLogs" / "2024"
    sub.mkdir(parents=True)
    (sub / "a.json").write_bytes(orjson.dumps({"Records": [rec(1), rec(2)]}))
    with gzip.open(sub / "b.json.gz", "wb") as f:
        f.write(orjson.dumps({"Records": [rec(3, "PutBucketPolicy")]}))
    (sub / "c.json").write_bytes(b'{"Records": [1, ')
    (sub / "d.json").write_bytes(b'{"nope": 1}')
    (sub / "e.json").write_bytes(orjson.dumps({"Records": [rec(4, t="bad time")]}))
    p = CloudTrailPlugin()
    p.init(None)
    evts = [e for e in p.open(str(tmp_path)) if e is not None]
    assert [orjson.loads(e.data)["eventID"] for e in evts] == ["e1", "e2", "e3"]
    assert [e.num for e in evts] == [1, 2, 3]
    assert evts[0].ts == 1704164645 * 10**9 and evts[0].source == "aws_cloudtrail"
    assert p.event_info(evts[2]) == "root via 203.0.113.9 → PutBucketPolicy"
    errs = " | ".join(p.errors)
    assert "c.json: line 1: invalid JSON" in errs and "d.json: not a CloudTrail log" in errs
    assert "e.json: record e4: invalid eventTime" in errs
    reg = FieldRegistry([c for pl in (p, JsonPlugin()) for c in pl.field_classes()])
    assert reg.resolve("aws_cloudtrail", "ct.user", None).bind()(evts[0]) == "root"
    assert reg.resolve("aws_cloudtrail", "json.value", "/eventID").bind()(evts[1]) == "e2"


def test_open_errors(tmp_path) -> None:
    p = CloudTrailPlugin()
    with pytest.raises(SourceError, match="s3:// input is not supported"):
        p.open("s3://bucket/prefix")
    with pytest.raises(SourceError, match="cannot open"):
        p.open(str(tmp_path / "missing"))
    assert p.version >= "0.10.0" and JsonPlugin().version >= "0.7.0"
