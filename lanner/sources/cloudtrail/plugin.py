"""The ``cloudtrail`` source: AWS CloudTrail records from local log files (source ``aws_cloudtrail``).

``open_params`` is a file or a directory (searched recursively, files sorted by path); files are
CloudTrail log files (``{"Records": [...]}``, optionally ``.gz``), a JSON array of records, or JSON lines
of records. ``s3://`` and ``sqs://`` inputs of Falco's plugin need AWS access and are refused with a
clear error. Each record is one event, timed by its ``eventTime``.
"""

from __future__ import annotations

import gzip
import logging
import os
from collections import deque
from collections.abc import Iterator
from typing import Any

import orjson

from lanner.events.base import Event, PluginEvent
from lanner.fields import cloudtrail as ct_fields
from lanner.fields.registry import FieldClass
from lanner.sources.api import SourceError, SourcePlugin
from lanner.sources.k8saudit.parse import rfc3339_to_ns
from lanner.sources.k8saudit.plugin import parse_init_config

SOURCE = "aws_cloudtrail"
_log = logging.getLogger("lanner.cloudtrail")


def list_files(path: str) -> list[str]:
    path = path.strip()
    if not os.path.exists(path):
        raise SourceError(f"cloudtrail: cannot open {path}: No such file or directory")
    if not os.path.isdir(path):
        return [path]
    out = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for f in files:
            if f.endswith((".json", ".json.gz", ".jsonl", ".gz")):
                out.append(os.path.join(root, f))
    return sorted(out)


def records_of(doc: Any) -> list[Any] | None:
    if isinstance(doc, dict):
        recs = doc.get("Records")
        if isinstance(recs, list):
            return recs
        if "eventName" in doc or "eventID" in doc:
            return [doc]
        return None
    if isinstance(doc, list):
        return doc
    return None


class CloudTrailPlugin(SourcePlugin):
    name = "cloudtrail"
    version = "0.14.0"
    description = "AWS CloudTrail records from local log files"
    source = SOURCE
    plugin_id = 2
    extract_sources = (SOURCE,)

    def __init__(self) -> None:
        self.errors: deque[str] = deque(maxlen=1000)
        self.n_events = 0
        self.n_errors = 0

    def on_error(self, msg: str) -> None:
        self.n_errors += 1
        self.errors.append(msg)
        _log.error("cloudtrail: %s", msg)

    def init(self, init_config: Any) -> None:
        parse_init_config(init_config, self.name)   # S3/SQS tuning keys are accepted and unused

    def field_classes(self) -> list[FieldClass]:
        return [ct_fields.field_class()]

    def open(self, params: str) -> Iterator[Event | None]:
        params = (params or "").strip()
        if not params:
            raise SourceError("cloudtrail: open_params is empty: give a CloudTrail log file or directory")
        if params.startswith(("s3://", "sqs://")):
            raise SourceError(f"cloudtrail: {params.split('://', 1)[0]}:// input is not supported by lanner; "
                              "download the logs and give their local directory")
        files = list_files(params)
        return self._events(files)

    def _file_records(self, path: str) -> Iterator[dict[str, Any]]:
        try:
            if path.endswith(".gz"):
                with gzip.open(path, "rb") as f:
                    data = f.read()
            else:
                with open(path, "rb") as f:
                    data = f.read()
        except (OSError, EOFError) as e:
            self.on_error(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}")
            return
        try:
            recs = records_of(orjson.loads(data))
            if recs is None:
                self.on_error(f"{path}: not a CloudTrail log (no Records array)")
                return
            lines: list[tuple[int, Any]] = [(0, r) for r in recs]
        except orjson.JSONDecodeError:
            lines = []
            for n, line in enumerate(data.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    doc = orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    self.on_error(f"{path}: line {n}: invalid JSON: {e}")
                    continue
                lines.extend((n, r) for r in records_of(doc) or [doc])
        for n, r in lines:
            if isinstance(r, dict):
                yield r
            else:
                self.on_error(f"{path}{f': line {n}' if n else ''}: record is not a JSON object")

    def _events(self, files: list[str]) -> Iterator[Event | None]:
        num = 0
        for path in files:
            for r in self._file_records(path):
                t = r.get("eventTime")
                try:
                    ts = rfc3339_to_ns(t) if isinstance(t, str) else 0
                except ValueError:
                    self.on_error(f"{path}: record {r.get('eventID', '?')}: invalid eventTime {t!r}")
                    continue
                num += 1
                self.n_events += 1
                yield PluginEvent(num, ts, SOURCE, orjson.dumps(r), self.name, r)

    def event_info(self, evt: PluginEvent) -> str | None:
        """``evt.plugininfo``: the cloudtrail plugin's one-line summary."""
        return ct_fields.event_info(evt)

    def metrics(self) -> dict[str, int]:
        return {"n_evts": self.n_events, "n_errors": self.n_errors}
