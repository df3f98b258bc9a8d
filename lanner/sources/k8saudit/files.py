"""Reading audit events from files: one file, or every file of a directory.

A file may hold one JSON document (an Event, an EventList, an array; pretty-printed or not) or JSON lines
(one such document per line); ``.gz`` files are decompressed. Bad input is reported per file and line
through ``on_error`` and reading goes on with the next line / file.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Iterator

from lanner.sources.api import SourceError
from lanner.sources.k8saudit.parse import AuditParseError, AuditRecord, loads, split_events, to_records


def list_files(path: str) -> list[str]:
    """The files to read for ``path``: itself, or a directory's regular files by mtime then name."""
    path = path.strip()
    try:
        os.stat(path)
    except OSError as e:
        raise SourceError(f"k8saudit: cannot open {path}: {e.strerror}") from None
    if not os.path.isdir(path):
        return [path]
    entries = []
    with os.scandir(path) as it:
        for d in it:
            if d.is_file():
                entries.append((d.stat().st_mtime_ns, d.name, d.path))
    return [p for _, _, p in sorted(entries)]


def _read(path: str) -> bytes:
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            return f.read()
    with open(path, "rb") as f:
        return f.read()


def read_file(path: str, max_event_size: int, on_error: Callable[[str], None]) -> Iterator[AuditRecord]:
    """Audit records of one file, in file order."""
    try:
        data = _read(path)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        on_error(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}")
        return
    if not data.strip():
        return
    try:
        doc = loads(data)
    except AuditParseError:
        doc = None
        whole = False
    else:
        whole = True
    if whole:
        try:
            events = split_events(doc)
        except AuditParseError as e:
            on_error(f"{path}: {e}")
            return
        yield from to_records(events, max_event_size, on_error, f"{path}: ")
        return
    for lineno, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            events = split_events(loads(line))
        except AuditParseError as e:
            on_error(f"{path}: line {lineno}: {e}")
            continue
        yield from to_records(events, max_event_size, on_error, f"{path}: line {lineno}: ")


def read_path(path: str, max_event_size: int, on_error: Callable[[str], None]) -> Iterator[AuditRecord]:
    for p in list_files(path):
        yield from read_file(p, max_event_size, on_error)
