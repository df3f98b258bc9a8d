"""The alert: what the engine hands to the output pipeline when a rule matches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lanner.core.priority import Priority


@dataclass(slots=True)
class Alert:
    """One rule match (or an internal message, source ``internal``).

    ``message`` is the rendered output format (no time, no priority); ``output_fields`` the typed
    field map of output-format.md 3.4 (keys canonical, ``None`` for missing values), not yet including
    the time key, which ``lanner.outputs.format`` adds.
    """

    time_ns: int
    rule: str
    priority: Priority
    source: str
    message: str
    output_fields: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    hostname: str = ""
    extra: dict[str, Any] = field(default_factory=dict)   # e.g. extra_fields rendered as text
