"""Writing proposals as a Falco rules file of ``override: exceptions: append`` items (Falco >= 0.36
loads it after the rules it tunes, as lanner does)."""

from __future__ import annotations

import json
import time
from typing import Any

from lanner.tune.propose import Proposal


def _q(x: Any) -> str:
    if isinstance(x, list):
        return "[" + ", ".join(_q(i) for i in x) + "]"
    return json.dumps(str(x))      # a JSON string is a YAML double-quoted scalar ("=" must be quoted)


def render(proposals: list[Proposal], header: str = "", only_rules: set[str] | None = None) -> str:
    """The override file text; proposals whose values were all refused are left out."""
    lines = [f"# Override written by `lanner tune` on {time.strftime('%Y-%m-%d %H:%M:%S %Z')}."]
    if header:
        lines += [f"# {h}" for h in header.splitlines()]
    lines += ["# Load it after the rules it tunes (-r rules.yaml -r this.yaml, or last in rules_files).", ""]
    by_rule: dict[str, list[Proposal]] = {}
    for p in proposals:
        if p.accepted and (only_rules is None or p.rule in only_rules):
            by_rule.setdefault(p.rule, []).append(p)
    if not by_rule:
        lines.append("[]")
    for rule, props in by_rule.items():
        lines += [f"- rule: {_q(rule)}", "  exceptions:"]
        for p in props:
            lines.append(f"    - name: {_q(p.name)}")
            if not p.existing:
                lines.append(f"      fields: {_q(p.fields)}")
                lines.append(f"      comps: {_q(p.comps)}")
            lines.append("      values:")
            for v in p.accepted:
                val = _q(v.values[0]) if p.single else _q(list(v.values))
                lines.append(f"        - {val}   # removes {v.removes} alert{'s' if v.removes != 1 else ''}")
        lines += ["  override:", "    exceptions: append", ""]
    return "\n".join(lines) + "\n"
