"""Reading alerts as lanner and Falco print them: JSON lines (other lines, such as log lines mixed into
a captured stdout, are skipped and counted) or one JSON array per file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


class TuneError(Exception):
    """Bad input for the tuner; the message names the file (and line) or the rule."""


@dataclass
class AlertSet:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    skipped_lines: int = 0
    files: list[str] = field(default_factory=list)

    def by_rule(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for a in self.alerts:
            out.setdefault(a["rule"], []).append(a)
        return out


def _usable(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("rule"), str) and isinstance(doc.get("output_fields", {}), dict)


def read_alerts(paths: list[str]) -> AlertSet:
    """Every alert of every file; TuneError for an unreadable file or a file with no alert at all."""
    out = AlertSet()
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError as e:
            raise TuneError(f"{path}: cannot read: {e.strerror}") from None
        before = len(out.alerts)
        stripped = text.lstrip()
        if stripped.startswith("["):
            try:
                docs = json.loads(stripped)
            except json.JSONDecodeError as e:
                raise TuneError(f"{path}: line {e.lineno}: not valid JSON: {e.msg}") from None
            for d in docs if isinstance(docs, list) else []:
                if _usable(d) and d.get("source") != "internal":
                    out.alerts.append(d)
        else:
            for line in text.splitlines():
                s = line.strip()
                if not s:
                    continue
                try:
                    d = json.loads(s)
                except json.JSONDecodeError:
                    out.skipped_lines += 1
                    continue
                if _usable(d) and d.get("source") != "internal":
                    out.alerts.append(d)
                else:
                    out.skipped_lines += 1
        if len(out.alerts) == before:
            raise TuneError(f"{path}: no JSON alerts found (lanner/Falco need json_output: true and "
                            "json_include_output_fields_property: true)")
        out.files.append(path)
    return out
