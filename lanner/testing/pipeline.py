"""Engines for test runs: a rules engine whose syscall fields read a state engine this module owns.

The test command drives events itself (capture reader, live probe, audit files), so it needs the
state engine that feeds the syscall field extractors; when the engine builds its own (``engine.state``)
that one is used.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from dataclasses import dataclass, field
from typing import Any

from lanner.config import Config
from lanner.engine import Engine
from lanner.fields import registry as reg

log = logging.getLogger("lanner")

# Field classes that do not depend on syscall state: (module, function), called without arguments.
_STATELESS = (
    ("lanner.fields.container", "field_class"),
    ("lanner.fields.k8s", "field_class"),
    ("lanner.fields.k8saudit", "field_classes"),
    ("lanner.fields.json", "field_classes"),
    ("lanner.fields.cloudtrail", "field_classes"),
)


@dataclass
class Pipeline:
    """An engine plus the state engine behind its syscall fields (None for plugin-only runs)."""

    engine: Engine
    state: Any

    extractors: dict[tuple[str, str], Any] = field(default_factory=dict)

    def values(self, source: str, names: tuple[str, ...], ev: Any) -> dict[str, Any]:
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


def _call(module: str, func: str, *args: Any) -> list[reg.FieldClass]:
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        log.debug("field provider %s unavailable: %s", module, e)
        return []
    fn = getattr(mod, func, None)
    if fn is None:
        return []
    got = fn(*args)
    return list(got) if isinstance(got, (list, tuple)) else [got]


def _registry(state: Any) -> reg.FieldRegistry:
    registry = reg.FieldRegistry()
    seen: set[tuple[str, str]] = set()
    classes = _call("lanner.fields.syscall_classes", "generic_field_classes")
    classes += _call("lanner.fields.syscall_classes", "syscall_field_classes", state)
    for module, func in _STATELESS:
        classes += _call(module, func)
    for c in classes:
        key = (c.name, ",".join(c.sources))
        if key not in seen:
            seen.add(key)
            registry.add(c)
    return registry


def build_pipeline(config: Config | None = None, containers: Any = None) -> Pipeline:
    """An engine whose syscall fields are bound to a fresh ``StateEngine`` (and ``containers``, a
    ``ContainerManager`` for container metadata, when given)."""
    from lanner.state.engine import StateEngine
    config = config or Config()
    params = inspect.signature(Engine.__init__).parameters
    if "state" in params:
        state = StateEngine()
        kw: dict[str, Any] = {"state": state}
        if containers is not None and "containers" in params:
            kw["containers"] = containers
        eng = Engine(config, **kw)
        return Pipeline(eng, getattr(eng, "state", state))
    try:
        eng = Engine(config)
    except TypeError:
        eng = None
    if eng is not None and getattr(eng, "state", None) is not None:
        return Pipeline(eng, eng.state)
    state = StateEngine()
    return Pipeline(Engine(config, registry=_registry(state)), state)


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
