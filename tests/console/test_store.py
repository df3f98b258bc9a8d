"""The SQLite store: filters on columns, tags and any output field; breakdowns; timeline; retention."""

from __future__ import annotations

import pytest

from lanner.console.record import RecordError, from_alert_json, parse_time
from lanner.console.store import Filter, SQLiteStore, StoreError


def alert(rule: str, prio: str, t: int, **fields: object) -> dict:
    return {"rule": rule, "priority": prio, "time": f"2026-01-01T00:00:{t:02d}.000000001Z", "hostname": "h",
            "source": "syscall", "tags": ["a", rule[:3].lower()], "output": f"{rule} {fields}", "output_fields": fields}


@pytest.fixture
def store(tmp_path) -> SQLiteStore:
    s = SQLiteStore(str(tmp_path / "c.db"))
    s.add([from_alert_json(alert("Write Below Etc", "Error", 1, **{"proc.name": "touch", "fd.name": "/etc/x",
                                                                   "container.name": "web", "container.image.repository": "nginx",
                                                                   "k8s.ns.name": "prod", "k8s.pod.name": "web-1"})),
           from_alert_json(alert("Read Shadow", "Warning", 2, **{"proc.name": "cat", "fd.name": "/etc/shadow",
                                                                "container.name": "host"})),
           from_alert_json(alert("Read Shadow", "Warning", 59, **{"proc.name": "python3", "fd.name": "/etc/shadow",
                                                                 "container.id": "abc123", "container.name": "<NA>"}))])
    yield s
    s.close()


def test_record_reading() -> None:
    assert parse_time("2026-01-01T00:00:00.5Z") == 1767225600_500000000
    assert parse_time("2026-01-01T01:00:00+01:00") == 1767225600_000000000
    with pytest.raises(RecordError, match="'priority'"):
        from_alert_json({"rule": "r", "priority": "loud", "time": "2026-01-01T00:00:00Z"})
    with pytest.raises(RecordError, match="'rule'"):
        from_alert_json({"priority": "Error"})
    r = from_alert_json(alert("R", "informational", 0, **{"container.id": "abc", "container.name": "<NA>"}))
    assert r.priority == "Informational" and r.container == "abc"


def test_filters(store: SQLiteStore) -> None:
    assert store.count(Filter()) == 3
    assert [a["rule"] for a in store.alerts(Filter(rule="Read Shadow"))] == ["Read Shadow", "Read Shadow"]
    assert store.count(Filter(rule="Read*")) == 2
    assert store.count(Filter(image="nginx", namespace="prod", pod="web-1", container="web")) == 1
    assert store.count(Filter(container="abc123")) == 1
    assert store.count(Filter(fields={"proc.name": "cat"})) == 1
    assert store.count(Filter(fields={"fd.name": "/etc/*"})) == 3
    assert store.count(Filter(fields={"fd.name": "/etc/sha*", "proc.name": "python3"})) == 1
    assert store.count(Filter(tag="rea")) == 2 and store.count(Filter(tag="re")) == 0
    assert store.count(Filter(text="shadow")) == 2
    assert store.count(Filter(since_ns=parse_time("2026-01-01T00:00:02Z"))) == 2
    with pytest.raises(StoreError, match="quotes"):
        store.count(Filter(fields={"a'b": "x"}))
    q = Filter.from_query({"rule": ["Read Shadow"], "f.proc.name": ["cat"], "since": ["1"]})
    assert (q.rule, q.fields, q.since_ns) == ("Read Shadow", {"proc.name": "cat"}, 1)
    newest = store.alerts(Filter(), limit=1)[0]
    assert store.alerts(Filter(), after_id=newest["id"]) == []
    assert len(store.alerts(Filter(), before_id=newest["id"])) == 2
    full = store.alert(newest["id"])
    assert full is not None and full["output_fields"]["proc.name"] == "python3"


def test_breakdown_and_timeline(store: SQLiteStore) -> None:
    assert store.breakdown(Filter(), "rule") == [("Read Shadow", 2), ("Write Below Etc", 1)]
    assert store.breakdown(Filter(), "tag") == [("a", 2 + 1), ("rea", 2), ("wri", 1)]
    assert store.breakdown(Filter(rule="Read Shadow"), "container") == [("abc123", 1), ("host", 1)]
    with pytest.raises(StoreError, match="unknown breakdown"):
        store.breakdown(Filter(), "nope")
    tl = store.timeline(Filter(), buckets=6)
    assert tl["priority"]["Warning"] == [1, 0, 0, 0, 0, 1] and tl["priority"]["Error"] == [1, 0, 0, 0, 0, 0]
    assert list(tl["priority"]) == ["Error", "Warning"]       # most severe first
    assert sum(tl["rule"]["Read Shadow"]) == 2


def test_retention(store: SQLiteStore) -> None:
    assert store.prune(keep_rows=2) == 1
    assert [a["rule"] for a in store.alerts(Filter())] == ["Read Shadow", "Read Shadow"]
    assert store.breakdown(Filter(), "tag") == [("a", 2), ("rea", 2)]      # tags of pruned alerts went too
    assert store.prune(older_than_ns=parse_time("2026-01-01T00:00:30Z")) == 1
    assert store.count(Filter()) == 1


def test_rule_catalog(store: SQLiteStore) -> None:
    store.upsert_rules([{"name": "Read Shadow", "desc": "reads", "tags": ["x", "y"], "priority": "WARNING"}])
    store.upsert_rules([{"name": "Read Shadow", "desc": "reads it", "tags": ["x"], "priority": "WARNING"}])
    assert store.rule("Read Shadow") == {"name": "Read Shadow", "desc": "reads it", "tags": ["x"],
                                         "priority": "WARNING", "source": ""}
    assert store.rule("nope") is None
