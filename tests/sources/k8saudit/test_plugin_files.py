"""k8saudit file input: single files, JSON lines, EventLists, directories, and the malformed file."""

from __future__ import annotations

import gzip
import os
import shutil

import orjson
import pytest

from lanner.events.base import PluginEvent
from lanner.sources.api import SourceError
from lanner.sources.k8saudit import K8sAuditPlugin
from lanner.sources.k8saudit.parse import rfc3339_to_ns
from tests.conftest import shared_path


def run(params: str, init=None) -> tuple[K8sAuditPlugin, list[PluginEvent]]:
    p = K8sAuditPlugin()
    p.init(init)
    evts = [e for e in p.open(params) if e is not None]
    p.close()
    return p, evts


def test_directory_with_malformed_file_keeps_going() -> None:
    d = shared_path("k8s_audit")
    p, evts = run(str(d))
    assert len(evts) == 51
    assert [e.num for e in evts] == list(range(1, 52))
    assert all(e.source == "k8s_audit" and e.plugin == "k8saudit" and e.type == 322 for e in evts)
    assert len(p.errors) == 1
    err = p.errors[0]
    assert "fal_01_003.json" in err and "not recognized as a k8s audit event" in err
    # the file after the malformed one (alphabetically) was still read
    assert any(orjson.loads(e.data)["auditID"] == "b7e177d2-f462-4f7e-8905-9e0f187e4e92" for e in evts)


def test_single_file_timestamp_and_payload() -> None:
    _, evts = run(str(shared_path("k8s_audit", "exec_pod.json")))
    assert len(evts) == 1
    e = evts[0]
    doc = orjson.loads(e.data)
    assert e.ts == rfc3339_to_ns(doc["stageTimestamp"])
    assert e.obj == doc
    assert doc["objectRef"]["subresource"] == "exec"


def test_malformed_file_alone() -> None:
    p, evts = run(str(shared_path("k8s_audit", "fal_01_003.json")))
    assert evts == [] and len(p.errors) == 1


def _event(i: int, ts: str = "2024-05-06T07:08:09.123456Z") -> dict:
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": f"id-{i}", "stage": "ResponseComplete",
            "verb": "get", "requestURI": "/api", "stageTimestamp": ts}


def test_eventlist_pretty_gz_and_bad_lines(tmp_path) -> None:
    (tmp_path / "a_list.json").write_text(orjson.dumps({"kind": "EventList", "items": [_event(1), _event(2)]},
                                                       option=orjson.OPT_INDENT_2).decode())
    lines = [orjson.dumps(_event(3)).decode(), "{not json", "", orjson.dumps([_event(4), _event(5)]).decode(),
             orjson.dumps({"kind": "Event", "auditID": "nots"}).decode()]
    (tmp_path / "b_lines.json").write_text("\n".join(lines) + "\n")
    with gzip.open(tmp_path / "c.json.gz", "wb") as f:
        f.write(orjson.dumps(_event(6)))
    os.utime(tmp_path / "a_list.json", (1, 1))
    os.utime(tmp_path / "b_lines.json", (2, 2))
    os.utime(tmp_path / "c.json.gz", (3, 3))
    p, evts = run(str(tmp_path))
    assert [orjson.loads(e.data)["auditID"] for e in evts] == ["id-1", "id-2", "id-3", "id-4", "id-5", "id-6"]
    assert evts[0].ts == 1714979289123456000
    errs = list(p.errors)
    assert len(errs) == 2
    assert "b_lines.json: line 2: invalid JSON" in errs[0]
    assert "b_lines.json: line 5: event 0: can't read stageTimestamp" in errs[1]


def test_max_event_size(tmp_path) -> None:
    big = _event(1)
    big["requestObject"] = {"pad": "x" * 2000}
    (tmp_path / "f.json").write_text(orjson.dumps(big).decode() + "\n" + orjson.dumps(_event(2)).decode())
    p, evts = run(str(tmp_path / "f.json"), {"maxEventSize": 1000})
    assert [orjson.loads(e.data)["auditID"] for e in evts] == ["id-2"]
    assert "event larger than maxEventSize" in p.errors[0]


def test_open_errors(tmp_path) -> None:
    p = K8sAuditPlugin()
    p.init("")
    with pytest.raises(SourceError, match="cannot open .*nope"):
        p.open(str(tmp_path / "nope"))
    with pytest.raises(SourceError, match='scheme "ftp"'):
        p.open("ftp://x/y")
    with pytest.raises(SourceError, match="open_params is empty"):
        p.open("  ")
    for bad in ({"maxEventSize": -1}, {"webhookMaxBatchSize": "big"}, "{bad json", [1],
                {"customFieldsHeaders": [{"header": "X"}]}):
        with pytest.raises(SourceError, match="k8saudit: init_config"):
            K8sAuditPlugin().init(bad)


def test_init_config_as_json_string() -> None:
    p = K8sAuditPlugin()
    p.init('{"maxEventSize": 5000, "webhookMaxBatchSize": 9000, "sslCertificate": "/x.pem", "useAsync": false}')
    assert (p.max_event_size, p.max_batch_size, p.ssl_certificate) == (5000, 9000, "/x.pem")
    assert p.version >= "0.18.0" and p.source == "k8s_audit"


def test_rfc3339() -> None:
    assert rfc3339_to_ns("1970-01-01T00:00:01Z") == 1_000_000_000
    assert rfc3339_to_ns("1970-01-01T01:00:01.5+01:00") == 1_500_000_000
    assert rfc3339_to_ns("2018-10-26T13:42:46.764713Z") == 1540561366764713000
    with pytest.raises(ValueError):
        rfc3339_to_ns("yesterday")


def test_unreadable_file_in_directory(tmp_path) -> None:
    shutil.copy(shared_path("k8s_audit", "exec_pod.json"), tmp_path / "ok.json")
    (tmp_path / "broken.json.gz").write_bytes(b"not gzip")
    p, evts = run(str(tmp_path))
    assert len(evts) == 1
    assert len(p.errors) == 1 and p.errors[0].startswith(f"{tmp_path / 'broken.json.gz'}: cannot read"), p.errors
