"""Engines for test runs: the run's engine (with its state engine), plus field look-ups by name so a
case can check the values of the fields it names. Events go through ``lanner.run.loop`` as in a run."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from lanner.config import Config
from lanner.engine import Engine
from lanner.events.base import PluginEvent
from lanner.events.syscall import SyscallEvent
from lanner.fields import registry as reg
from lanner.state.engine import StateEngine

log = logging.getLogger("lanner")

@dataclass
class Pipeline:
    """An engine plus the state engine behind its syscall fields (None for plugin-only runs)."""

    engine: Engine
    state: Any

    extractors: dict[tuple[str, str], Any] = field(default_factory=dict)

    def values(self, source: str, names: tuple[str, ...], ev: SyscallEvent | PluginEvent) -> dict[str, Any]:
        """Field values of ``ev`` for the given names (None when missing or unknown)."""
        out: dict[str, Any] = {}
        for name in names:
            key = (source, name)
            if key not in self.extractors:
                self.extractors[key] = bind_field(self, source, name)
            ex = self.extractors[key]
            try:
                out[name] = ex(ev) if ex is not None else None
            except Exception:  # noqa: BLE001 - extractors may not raise, but a test must not crash on one
                out[name] = None
        return out

    def load(self, paths: list[str]) -> list[str]:
        """Load rules files; returns the error texts (empty when every file loaded)."""
        ok = self.engine.load_rules_files(paths)
        if ok:
            return []
        return [r.verbose() for r in self.engine.loader.results if not r.successful]


def build_pipeline(config: Config | None = None, containers: Any = None) -> Pipeline:
    """An engine with its own fresh state engine (and ``containers``, a ``ContainerManager`` for container
    metadata, when given), built exactly as a run builds its engine."""
    eng = Engine(config or Config(), state=StateEngine(), containers=containers)
    return Pipeline(eng, eng.state)


def bind_field(pipeline: Pipeline, source: str, name: str) -> Any:
    """An extractor for a field name (``proc.name``, ``proc.aname[2]``), or None when unknown."""
    base, arg = name, None
    if name.endswith("]") and "[" in name:
        base, _, rest = name.partition("[")
        arg = rest[:-1]
    try:
        return pipeline.engine.registry.resolve(source, base, arg).bind()
    except (reg.FieldError, AttributeError, TypeError, ValueError):
        return None
