"""``syscall_event_drops`` and ``syscall_event_timeouts`` as Falco reads them, with Falco's messages.

Read once when the configuration loads, whatever the engine, so a bad setting stops lanner at start-up
exactly where Falco stops (``Error reading config file (<file>): ...``), and the drop monitor of every
engine (live, replay) gets the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lanner.core.errors import ConfigError

ACTIONS = ("ignore", "log", "alert", "exit")


class DropConfigError(ConfigError, ValueError):
    """A ``syscall_event_drops``/``syscall_event_timeouts`` value Falco refuses (message without the file;
    ``nospace``: Falco writes this one as ``Error reading config file(<file>)``)."""

    def __init__(self, message: str, nospace: bool = False) -> None:
        super().__init__(message)
        self.nospace = nospace


@dataclass(frozen=True)
class DropSettings:
    actions: tuple[str, ...]        # performed in this order: log, alert, exit ("ignore" performs nothing)
    threshold: float
    rate: float
    max_burst: float
    simulate: bool
    max_consecutive_timeouts: int


def _lenient_float(value: Any, default: float) -> float:
    """Falco's scalar read: a value that does not convert leaves the default in place."""
    if value is None or isinstance(value, bool):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _lenient_bool(value: Any, default: bool) -> bool:
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower() if value is not None else ""
    if s in ("true", "yes", "on", "y", "1"):
        return True
    if s in ("false", "no", "off", "n", "0"):
        return False
    return default


def drop_settings(data: dict[str, Any]) -> DropSettings:
    """Parse and check the two sections of a merged configuration document."""
    sec = data.get("syscall_event_drops")
    sec = sec if isinstance(sec, dict) else {}
    raw = sec.get("actions")
    if raw is None:
        raw = []
    elif not isinstance(raw, list):
        raw = [raw]
    chosen: set[str] = set()
    for item in raw:
        act = "" if item is None else str(item)
        if act in ("log", "alert") and "ignore" in chosen:
            raise DropConfigError(f'syscall event drop action "{act}" does not make sense with the "ignore" action')
        if act not in ACTIONS:
            raise DropConfigError('available actions for syscall event drops are "ignore", "log", "alert", '
                                  'and "exit"')
        chosen.add(act)
    if not chosen:
        chosen.add("ignore")
    threshold = _lenient_float(sec.get("threshold"), 0.1)
    if threshold < 0 or threshold > 1:
        raise DropConfigError("syscall event drops threshold must be a double in the range [0, 1]")
    timeouts = data.get("syscall_event_timeouts")
    timeouts = timeouts if isinstance(timeouts, dict) else {}
    max_to = timeouts.get("max_consecutives", 1000)
    try:
        max_to = int(max_to) if max_to is not None and not isinstance(max_to, bool) else 1000
    except (TypeError, ValueError):
        max_to = 1000
    if max_to <= 0:
        raise DropConfigError("the maximum consecutive timeouts without an event must be an unsigned integer > 0",
                              nospace=True)
    return DropSettings(actions=tuple(a for a in ACTIONS if a in chosen), threshold=threshold,
                        rate=_lenient_float(sec.get("rate"), 0.03333),
                        max_burst=_lenient_float(sec.get("max_burst"), 1.0),
                        simulate=_lenient_bool(sec.get("simulate_drops"), False),
                        max_consecutive_timeouts=max_to)
