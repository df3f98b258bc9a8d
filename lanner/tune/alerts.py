"""Reading alerts as lanner and Falco print them: JSON lines (other lines, such as log lines mixed into
a captured stdout, are skipped and counted) or one JSON array per file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lanner.core.errors import LannerError


class TuneError(LannerError):
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


def read_store(url: str, since_s: float = 0.0) -> AlertSet:
    """The alerts of a console store (SQLite file or postgresql:// URL), optionally only the last seconds."""
    import time

    from lanner.console.opener import open_store
    from lanner.console.store import Filter
    store = open_store(url)  # StoreError for a store that cannot be opened
    try:
        f = Filter(since_ns=time.time_ns() - int(since_s * 1e9) if since_s else 0)
        out = AlertSet(alerts=[d for d in store.documents(f) if d.get("source") != "internal"], files=[url])
    finally:
        store.close()
    if not out.alerts:
        raise TuneError(f"{url}: the console store holds no alerts" + (" in that time" if since_s else ""))
    return out


def read_live(rules: list[str], seconds: int, config: str = "") -> AlertSet:
    """Run lanner live for ``seconds`` with ``rules`` (root, real probe) and collect its JSON alerts."""
    import subprocess
    import sys
    args = [sys.executable, "-m", "lanner", "-o", "json_output=true", "-o", "stdout_output.enabled=true",
            "-o", "json_include_output_fields_property=true", "-M", str(int(seconds))]
    if config:
        args += ["-c", config]
    for r in rules:
        args += ["-r", r]
    p = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 300)
    if p.returncode != 0:
        raise TuneError(f"live run failed (exit {p.returncode}): {p.stderr.strip()[-1000:]}")
    out = AlertSet(files=[f"live run of {seconds}s"])
    for line in p.stdout.splitlines():
        try:
            d = json.loads(line)
        except json.JSONDecodeError:
            out.skipped_lines += 1
            continue
        if _usable(d) and d.get("source") != "internal":
            out.alerts.append(d)
    if not out.alerts:
        raise TuneError(f"the live run of {seconds}s raised no alerts")
    return out
