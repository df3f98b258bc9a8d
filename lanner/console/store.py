"""Where the console keeps alerts: SQL over an embedded SQLite file (default) or PostgreSQL (a fleet).

Both stores share the queries; a dialect supplies the placeholder, the JSON-field accessor and the
schema. Every method is safe to call from any thread (one connection, one lock: the writer batches, so
readers wait for one short transaction at most).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any

from lanner.console.record import PRIORITIES, Record
from lanner.core.errors import LannerError

DIMENSIONS = ("rule", "priority", "hostname", "image", "namespace", "pod", "container", "source", "tag")
_COLUMNS = ("id", "time_ns", "rule", "priority", "source", "hostname", "image", "namespace", "pod",
            "container", "tags", "output")


class StoreError(LannerError):
    """The store cannot be opened or written; the message names it."""


@dataclass
class Filter:
    """What the page asks for; every set attribute narrows the selection (AND)."""

    rule: str = ""
    priority: str = ""
    hostname: str = ""
    image: str = ""
    namespace: str = ""
    pod: str = ""
    container: str = ""
    source: str = ""
    tag: str = ""
    text: str = ""                                    # substring of the output line
    fields: dict[str, str] = field(default_factory=dict)   # output field = value ('*' is a wildcard)
    since_ns: int = 0
    until_ns: int = 0

    @classmethod
    def from_query(cls, q: dict[str, list[str]]) -> Filter:
        """``?rule=..&f.proc.name=cat&q=text&since=ns`` as sent by the page."""
        def one(k: str) -> str:
            return (q.get(k) or [""])[-1]
        f = cls(rule=one("rule"), priority=one("priority"), hostname=one("hostname"), image=one("image"),
                namespace=one("namespace"), pod=one("pod"), container=one("container"), source=one("source"),
                tag=one("tag"))
        f.text = one("q")
        f.fields = {k[2:]: v[-1] for k, v in q.items() if k.startswith("f.") and len(k) > 2 and v and v[-1]}
        for k in ("since", "until"):
            v = one(k)
            if v:
                try:
                    setattr(f, f"{k}_ns", int(v))
                except ValueError:
                    raise StoreError(f"'{k}': not an integer (nanoseconds since the epoch): {v!r}") from None
        return f


def _like(v: str) -> str:
    return v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")


class SqlStore:
    """The queries; subclasses open the connection and say how the dialect differs."""

    ph = "?"
    name = "sql"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.conn: Any = None

    # dialect ------------------------------------------------------------------------------------
    def json_text(self, key: str) -> str:
        raise NotImplementedError

    def _exec(self, sql: str, args: tuple | list = ()) -> Any:
        raise NotImplementedError

    def _insert_alert(self, cur: Any, row: tuple) -> int:
        raise NotImplementedError

    def _commit(self) -> None:
        self.conn.commit()

    # writing ------------------------------------------------------------------------------------
    @staticmethod
    def _row(r: Record) -> tuple:
        return (r.time_ns, r.rule, r.priority, r.rank, r.source, r.hostname, r.image, r.namespace, r.pod,
                r.container, "," + ",".join(r.tags) + "," if r.tags else "", r.output,
                json.dumps(r.fields, default=str, separators=(",", ":")))

    def _insert_batch(self, cur: Any, rows: list[tuple]) -> list[int]:
        return [self._insert_alert(cur, row) for row in rows]

    def add(self, records: list[Record]) -> list[int]:
        """Insert a batch in one transaction; the new ids, in order."""
        p = self.ph
        with self.lock:
            cur = self.conn.cursor()
            try:
                ids = self._insert_batch(cur, [self._row(r) for r in records])
                tags = [(aid, t) for aid, r in zip(ids, records, strict=True) for t in r.tags]
                if tags:
                    cur.executemany(f"INSERT INTO alert_tags (alert_id, tag) VALUES ({p}, {p})", tags)
                self._commit()
            except Exception:
                self.conn.rollback()
                raise
        return ids

    def upsert_rules(self, rules: list[dict[str, Any]]) -> None:
        """The rule catalog (name, desc, tags, priority, source) the page links alerts to."""
        p = self.ph
        with self.lock:
            cur = self.conn.cursor()
            for r in rules:
                cur.execute(f"DELETE FROM rules WHERE name = {p}", (r["name"],))
                cur.execute(f"INSERT INTO rules (name, descr, tags, priority, source) VALUES ({p},{p},{p},{p},{p})",
                            (r["name"], r.get("desc", ""), ",".join(r.get("tags", [])), r.get("priority", ""),
                             r.get("source", "")))
            self._commit()

    def prune(self, *, older_than_ns: int = 0, keep_rows: int = 0) -> int:
        """Retention: drop alerts older than a time and beyond the newest ``keep_rows``; how many went."""
        p = self.ph
        removed = 0
        with self.lock:
            cur = self.conn.cursor()
            if older_than_ns:
                cur.execute(f"DELETE FROM alert_tags WHERE alert_id IN (SELECT id FROM alerts WHERE time_ns < {p})",
                            (older_than_ns,))
                cur.execute(f"DELETE FROM alerts WHERE time_ns < {p}", (older_than_ns,))
                removed += max(cur.rowcount, 0)
            if keep_rows:
                cur.execute(f"SELECT id FROM alerts ORDER BY id DESC LIMIT 1 OFFSET {p}", (keep_rows,))
                row = cur.fetchone()
                if row:
                    cur.execute(f"DELETE FROM alert_tags WHERE alert_id <= {p}", (row[0],))
                    cur.execute(f"DELETE FROM alerts WHERE id <= {p}", (row[0],))
                    removed += max(cur.rowcount, 0)
            self._commit()
        return removed

    # reading ------------------------------------------------------------------------------------
    def _where(self, f: Filter) -> tuple[str, list[Any]]:
        p = self.ph
        conds: list[str] = []
        args: list[Any] = []
        for col in ("rule", "priority", "hostname", "image", "namespace", "pod", "container", "source"):
            v = getattr(f, col)
            if v:
                if "*" in v:
                    conds.append(f"{col} LIKE {p} ESCAPE '\\'")
                    args.append(_like(v))
                else:
                    conds.append(f"{col} = {p}")
                    args.append(v)
        if f.tag:
            conds.append(f"tags LIKE {p} ESCAPE '\\'")
            args.append("%," + _like(f.tag) + ",%")
        if f.text:
            conds.append(f"output LIKE {p} ESCAPE '\\'")
            args.append("%" + _like(f.text) + "%")
        for k, v in f.fields.items():
            if any(c in k for c in "\"'\\%"):
                raise StoreError(f"field name {k!r}: quotes are not allowed")
            if "*" in v:
                conds.append(f"{self.json_text(k)} LIKE {p} ESCAPE '\\'")
                args.append(_like(v))
            else:
                conds.append(f"{self.json_text(k)} = {p}")
                args.append(v)
        if f.since_ns:
            conds.append(f"time_ns >= {p}")
            args.append(f.since_ns)
        if f.until_ns:
            conds.append(f"time_ns < {p}")
            args.append(f.until_ns)
        return (" WHERE " + " AND ".join(conds)) if conds else "", args

    def _rows(self, sql: str, args: list[Any] | tuple = ()) -> list[tuple]:
        with self.lock:
            if self.conn is None:
                raise StoreError("the store is closed")
            cur = self.conn.cursor()
            cur.execute(sql, args)
            out = cur.fetchall()
            self._commit()      # end the read transaction (PostgreSQL keeps it open otherwise)
            return out

    @staticmethod
    def _summary(row: tuple) -> dict[str, Any]:
        d = dict(zip(_COLUMNS, row, strict=True))
        d["tags"] = [t for t in (d["tags"] or "").split(",") if t]
        return d

    def alerts(self, f: Filter, *, limit: int = 100, before_id: int = 0, after_id: int = 0) -> list[dict[str, Any]]:
        """Newest first; ``after_id`` gives only newer alerts (the live stream), ``before_id`` pages back."""
        where, args = self._where(f)
        p = self.ph
        extra = []
        if after_id:
            extra.append(f"id > {p}")
            args.append(after_id)
        if before_id:
            extra.append(f"id < {p}")
            args.append(before_id)
        if extra:
            where = (where + " AND " if where else " WHERE ") + " AND ".join(extra)
        sql = f"SELECT {', '.join(_COLUMNS)} FROM alerts{where} ORDER BY id DESC LIMIT {p}"
        return [self._summary(r) for r in self._rows(sql, [*args, max(1, min(limit, 1000))])]

    def alert(self, aid: int) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT {', '.join(_COLUMNS)}, fields FROM alerts WHERE id = {self.ph}", (aid,))
        if not rows:
            return None
        d = self._summary(rows[0][:-1])
        raw = rows[0][-1]
        d["output_fields"] = raw if isinstance(raw, dict) else json.loads(raw)
        return d

    def recent_documents(self, f: Filter, n: int) -> list[dict[str, Any]]:
        """The newest ``n`` matching alerts as JSON documents (rule, priority, output_fields)."""
        where, args = self._where(f)
        rows = self._rows(f"SELECT rule, priority, source, fields FROM alerts{where} ORDER BY id DESC LIMIT {self.ph}",
                          [*args, n])
        return [{"rule": r, "priority": p, "source": s,
                 "output_fields": fl if isinstance(fl, dict) else json.loads(fl)} for r, p, s, fl in rows]

    def documents(self, f: Filter, batch: int = 5000) -> Any:
        """Every matching alert as a Falco-like JSON document (oldest first), read in batches."""
        where, args = self._where(f)
        p = self.ph
        last = 0
        while True:
            cond = (where + " AND " if where else " WHERE ") + f"id > {p}"
            rows = self._rows(f"SELECT id, rule, priority, source, hostname, tags, output, fields FROM alerts{cond} "
                              f"ORDER BY id LIMIT {p}", [*args, last, batch])
            for aid, rule, prio, src, host, tags, out, fields in rows:
                yield {"rule": rule, "priority": prio, "source": src, "hostname": host, "output": out,
                       "tags": [t for t in (tags or "").split(",") if t],
                       "output_fields": fields if isinstance(fields, dict) else json.loads(fields)}
                last = aid
            if len(rows) < batch:
                return

    def count(self, f: Filter) -> int:
        where, args = self._where(f)
        return int(self._rows(f"SELECT COUNT(*) FROM alerts{where}", args)[0][0])

    def last_id(self) -> int:
        return int(self._rows("SELECT COALESCE(MAX(id), 0) FROM alerts")[0][0])

    def breakdown(self, f: Filter, dim: str, limit: int = 10) -> list[tuple[str, int]]:
        """The top values of one dimension and their alert counts."""
        if dim not in DIMENSIONS:
            raise StoreError(f"unknown breakdown {dim!r} (one of {', '.join(DIMENSIONS)})")
        where, args = self._where(f)
        p = self.ph
        if dim == "tag" and not where:
            sql = f"SELECT tag, COUNT(*) AS n FROM alert_tags GROUP BY tag ORDER BY n DESC, tag LIMIT {p}"
        elif dim == "tag":
            sql = (f"SELECT t.tag, COUNT(*) AS n FROM alert_tags t "
                   f"WHERE t.alert_id IN (SELECT id FROM alerts{where}) GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT {p}")
        else:
            sql = (f"SELECT {dim}, COUNT(*) AS n FROM alerts{where} GROUP BY {dim} "
                   f"ORDER BY n DESC, {dim} LIMIT {p}")
        return [(str(v or ""), int(n)) for v, n in self._rows(sql, [*args, limit])]

    def timeline(self, f: Filter, buckets: int = 60, top_rules: int = 5) -> dict[str, Any]:
        """Counts over time: one series per priority and per top rule, ``buckets`` equal steps."""
        where, args = self._where(f)
        lo_hi = self._rows(f"SELECT MIN(time_ns), MAX(time_ns) FROM alerts{where}", args)[0]
        lo = f.since_ns or lo_hi[0] or 0
        hi = f.until_ns or ((lo_hi[1] or 0) + 1)
        if not f.since_ns and hi - lo < 60 * 10**9:       # a burst: show the minute up to it, not a 1 ms window
            lo = hi - 60 * 10**9
        buckets = max(1, min(buckets, 500))
        step = max(1, -(-(hi - lo) // buckets))
        if not lo_hi[0]:
            return {"start_ns": 0, "step_ns": step, "buckets": buckets, "priority": {}, "rule": {}}
        out: dict[str, Any] = {"start_ns": lo, "step_ns": step, "buckets": buckets, "priority": {}, "rule": {}}
        b = f"((time_ns - {int(lo)}) / {int(step)})"
        rows = self._rows(f"SELECT {b} AS b, priority, rule, COUNT(*) FROM alerts{where} GROUP BY b, priority, rule",
                          args)
        prio: dict[str, list[int]] = {}
        rule: dict[str, list[int]] = {}
        for bi, pr, ru, n in rows:             # one scan, both series folded here
            i = min(int(bi), buckets - 1)
            prio.setdefault(str(pr), [0] * buckets)[i] += int(n)
            rule.setdefault(str(ru), [0] * buckets)[i] += int(n)
        out["priority"] = {k: prio[k] for k in PRIORITIES if k in prio}
        out["rule"] = {k: rule[k] for k in sorted(rule, key=lambda k: -sum(rule[k]))[:top_rules]}
        return out

    def rule(self, name: str) -> dict[str, Any] | None:
        rows = self._rows(f"SELECT name, descr, tags, priority, source FROM rules WHERE name = {self.ph}", (name,))
        if not rows:
            return None
        n, d, t, pr, s = rows[0]
        return {"name": n, "desc": d, "tags": [x for x in (t or "").split(",") if x], "priority": pr, "source": s}

    def close(self) -> None:
        with self.lock:
            if self.conn is not None:
                self.conn.close()
                self.conn = None


_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time_ns INTEGER NOT NULL, rule TEXT NOT NULL, priority TEXT NOT NULL,
    prio INTEGER NOT NULL, source TEXT, hostname TEXT, image TEXT, namespace TEXT, pod TEXT, container TEXT,
    tags TEXT, output TEXT, fields TEXT);
CREATE INDEX IF NOT EXISTS alerts_rule ON alerts (rule);
CREATE INDEX IF NOT EXISTS alerts_time_priority_rule ON alerts (time_ns, priority, rule);
CREATE INDEX IF NOT EXISTS alerts_priority ON alerts (priority);
CREATE INDEX IF NOT EXISTS alerts_hostname ON alerts (hostname);
CREATE INDEX IF NOT EXISTS alerts_image ON alerts (image);
CREATE INDEX IF NOT EXISTS alerts_container ON alerts (container);
CREATE INDEX IF NOT EXISTS alerts_pod ON alerts (namespace, pod);
CREATE TABLE IF NOT EXISTS alert_tags (alert_id INTEGER NOT NULL, tag TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alert_tags_id ON alert_tags (alert_id);
CREATE INDEX IF NOT EXISTS alert_tags_tag ON alert_tags (tag);
CREATE TABLE IF NOT EXISTS rules (name TEXT PRIMARY KEY, descr TEXT, tags TEXT, priority TEXT, source TEXT);
"""


class SQLiteStore(SqlStore):
    """An embedded SQLite file (WAL journal), or ``:memory:``."""

    name = "sqlite"

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        try:
            self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level="DEFERRED")
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(_SQLITE_SCHEMA)
            self.conn.commit()
        except sqlite3.Error as e:
            raise StoreError(f"webui.store {path}: cannot open SQLite database: {e}") from None

    def json_text(self, key: str) -> str:
        return f"CAST(json_extract(fields, '$.\"{key}\"') AS TEXT)"

    def _insert_alert(self, cur: Any, row: tuple) -> int:
        cur.execute("INSERT INTO alerts (time_ns, rule, priority, prio, source, hostname, image, namespace, pod, "
                    "container, tags, output, fields) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
        return int(cur.lastrowid)
