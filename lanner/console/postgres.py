"""The console's PostgreSQL store (``webui.store: postgresql://…``): one database shared by a fleet of
agents or consoles. Needs the optional ``psycopg`` package (``pip install lanner[postgres]``)."""

from __future__ import annotations

from typing import Any

from lanner.console.store import SqlStore, StoreError

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS alerts (id BIGSERIAL PRIMARY KEY, time_ns BIGINT NOT NULL, rule TEXT NOT NULL, "
    "priority TEXT NOT NULL, prio INTEGER NOT NULL, source TEXT, hostname TEXT, image TEXT, namespace TEXT, pod TEXT, "
    "container TEXT, tags TEXT, output TEXT, fields JSONB)",
    "CREATE INDEX IF NOT EXISTS alerts_time_priority_rule ON alerts (time_ns, priority, rule)",
    "CREATE INDEX IF NOT EXISTS alerts_priority ON alerts (priority)",
    "CREATE INDEX IF NOT EXISTS alerts_hostname ON alerts (hostname)",
    "CREATE INDEX IF NOT EXISTS alerts_container ON alerts (container)",
    "CREATE INDEX IF NOT EXISTS alerts_rule ON alerts (rule)",
    "CREATE TABLE IF NOT EXISTS alert_tags (alert_id BIGINT NOT NULL, tag TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS alert_tags_id ON alert_tags (alert_id)",
    "CREATE INDEX IF NOT EXISTS alert_tags_tag ON alert_tags (tag)",
    "CREATE TABLE IF NOT EXISTS rules (name TEXT PRIMARY KEY, descr TEXT, tags TEXT, priority TEXT, source TEXT)",
)


def _redact(url: str) -> str:
    from urllib.parse import urlsplit
    u = urlsplit(url)
    host = u.hostname or ""
    return f"{u.scheme}://{host}{':' + str(u.port) if u.port else ''}{u.path}"


class PostgresStore(SqlStore):
    ph = "%s"
    name = "postgresql"

    def __init__(self, url: str) -> None:
        super().__init__()
        try:
            import psycopg
        except ImportError:
            raise StoreError("webui.store is a postgresql:// URL but the psycopg package is not installed "
                             "(pip install 'lanner[postgres]')") from None
        self.url = url
        self._psycopg = psycopg
        self._connect()

    def _connect(self) -> None:
        psycopg = self._psycopg
        url = self.url
        try:
            self.conn = psycopg.connect(url, connect_timeout=10)
            with self.conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_lock(7254001)")     # two consoles creating the schema at once
                for stmt in _SCHEMA:
                    cur.execute(stmt)
                cur.execute("SELECT pg_advisory_unlock(7254001)")
            self.conn.commit()
        except psycopg.Error as e:
            raise StoreError(f"webui.store {_redact(url)}: cannot open PostgreSQL database: "
                             f"{str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None

    def _again(self, fn: Any, *args: Any) -> Any:
        """Run ``fn``; if the server went away (restart, failover), connect again and run it once more."""
        try:
            return fn(*args)
        except self._psycopg.OperationalError:
            with self.lock:
                try:
                    self.conn.close()
                except Exception:  # noqa: BLE001 - the old connection is dead anyway
                    pass
                self._connect()
            return fn(*args)

    def add(self, records: list[Any]) -> list[int]:
        return self._again(super().add, records)

    def _rows(self, sql: str, args: Any = ()) -> list[tuple]:
        return self._again(super()._rows, sql, args)

    def json_text(self, key: str) -> str:
        return f"(fields->>'{key}')"

    def _insert_batch(self, cur: Any, rows: list[tuple]) -> list[int]:
        cur.executemany("INSERT INTO alerts (time_ns, rule, priority, prio, source, hostname, image, namespace, pod, "
                        "container, tags, output, fields) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb) "
                        "RETURNING id", rows, returning=True)
        ids = []
        while True:
            ids.append(int(cur.fetchone()[0]))
            if not cur.nextset():
                break
        return ids

    def _insert_alert(self, cur: Any, row: tuple) -> int:
        cur.execute("INSERT INTO alerts (time_ns, rule, priority, prio, source, hostname, image, namespace, pod, "
                    "container, tags, output, fields) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s::jsonb) "
                    "RETURNING id", row)
        return int(cur.fetchone()[0])
