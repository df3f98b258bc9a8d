"""falcosidekick's ``timescaledb`` output: one row per alert in a (hyper)table, through psycopg (the extra
``lanner[postgres]``).

Columns as sidekick writes them: ``time``, ``rule``, ``priority``, ``source``, ``output``, ``tags`` (comma-joined,
if any), ``hostname`` (if set) and one column per custom or templated field (``columns``; the sidekick shape fills
it from ``customfields``/``templatedfields``). A value ``null`` (any case) is written as NULL, as sidekick does.
The table is the user's (sidekick does not create it either). Options: ``host``, ``port`` (5432), ``user``
(postgres), ``password``, ``database`` (falcosidekick), ``hypertable`` (falcosidekick_events), ``columns``.
"""

from __future__ import annotations

import datetime
from typing import Any

from lanner.core.alert import Alert
from lanner.outputs.fanout.base import PermanentError, Target, TransientError
from lanner.outputs.fanout.extras import need


class TimescaleDbTarget(Target):
    type_name = "timescaledb"
    required = ("host",)

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self._pg = need("psycopg", "postgres", name)
        self.table = str(options.get("hypertable") or "falcosidekick_events")
        cols = options.get("columns") or []
        self.columns = [c.strip() for c in (cols.split(",") if isinstance(cols, str) else cols) if str(c).strip()]
        self.params = {"host": str(options["host"]), "port": int(options.get("port") or 5432),
                       "user": str(options.get("user") or "postgres"), "password": str(options.get("password") or ""),
                       "dbname": str(options.get("database") or "falcosidekick"),
                       "connect_timeout": max(1, int(float(options.get("timeout_ms", 5000)) / 1000))}
        self._conn: Any = None

    def row(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        s, ns = divmod(alert.time_ns, 1_000_000_000)
        vals: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(s, datetime.UTC).replace(microsecond=ns // 1000),
            "rule": event["rule"], "priority": event["priority"], "source": event["source"],
            "output": event["output"]}
        if event.get("tags"):
            vals["tags"] = ",".join(sorted(event["tags"]))
        if event.get("hostname"):
            vals["hostname"] = event["hostname"]
        fields = event.get("output_fields") or {}
        for c in self.columns:
            if isinstance(fields.get(c), str):
                vals[c] = fields[c].replace('"', "")
        return {k: (None if isinstance(v, str) and v.lower() == "null" else v) for k, v in vals.items()}

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        from psycopg import sql
        vals = self.row(event, alert)
        query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
            sql.Identifier(*self.table.split(".")), sql.SQL(",").join(sql.Identifier(k) for k in vals),
            sql.SQL(",").join(sql.Placeholder() * len(vals)))
        pg = self._pg
        try:
            if self._conn is None or self._conn.closed:
                self._conn = pg.connect(autocommit=True, **self.params)
            self._conn.execute(query, list(vals.values()))
        except pg.OperationalError as e:
            self.close()
            raise TransientError(f"timescaledb {self.params['host']}:{self.params['port']}: {e}") from None
        except pg.Error as e:
            raise PermanentError(f"timescaledb {self.table}: {e}") from None

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None
