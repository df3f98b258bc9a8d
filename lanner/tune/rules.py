"""The rules that raised the alerts, loaded by lanner's own loader: each rule's source, declared
exceptions and output fields, and whether a rule of that name exists at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lanner.config import Config
from lanner.tune.alerts import TuneError


@dataclass
class RuleFacts:
    name: str
    source: str
    exceptions: list[Any] = field(default_factory=list)      # loader ExceptionDef: name, fields, comps, values


def load_rules(paths: list[str]) -> dict[str, RuleFacts]:
    """Rule name -> facts; RulesFileError for a missing path, TuneError with the loader's own messages when
    a file does not load."""
    from lanner.rules.paths import expand_rules_paths
    from lanner.testing.pipeline import build_pipeline
    files = expand_rules_paths(list(paths), strict=True)
    p = build_pipeline(Config())
    errors = p.load(files)
    if errors:
        raise TuneError("rules failed to load:\n" + "\n".join(errors))
    out = {}
    for name, r in p.engine.loader.state.rules.items():
        out[name] = RuleFacts(name, r.source, list(r.exceptions))
    return out
