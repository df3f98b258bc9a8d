"""The console's settings (``webui.*`` in falco.yaml, or ``lanner console`` options)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lanner.config import Config, ConfigError

DEFAULT_STORE = "/var/lib/lanner/console.db"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: Any, key: str) -> float:
    """``90``, ``30m``, ``12h``, ``7d``, ``2w`` as seconds; ConfigError naming ``key`` otherwise."""
    m = _DURATION.match(str(text))
    if not m:
        raise ConfigError(f"key '{key}': not a duration (like 3600, 30m, 12h, 7d): {text!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


@dataclass
class ConsoleSettings:
    enabled: bool = False
    path: str = "/ui/"
    store: str = DEFAULT_STORE
    token: str = ""
    user: str = ""
    password: str = ""
    max_age_s: float = 7 * 86400
    max_alerts: int = 1_000_000
    queue_capacity: int = 10000

    @classmethod
    def from_config(cls, cfg: Config) -> ConsoleSettings:
        s = cls(enabled=cfg.bool("webui.enabled", False),
                path=cfg.str("webui.path", "/ui/"),
                store=cfg.str("webui.store", DEFAULT_STORE),
                token=cfg.str("webui.token", ""),
                user=cfg.str("webui.user", ""),
                password=cfg.str("webui.password", ""),
                max_alerts=cfg.int("webui.retention.max_alerts", 1_000_000),
                queue_capacity=cfg.int("webui.queue_capacity", 10000))
        if cfg.has("webui.retention.max_age"):
            s.max_age_s = parse_duration(cfg.raw("webui.retention.max_age"), "webui.retention.max_age")
        if not s.path.startswith("/") or s.path.strip("/") == "" or any(c in s.path for c in "?#"):
            raise ConfigError(f"key 'webui.path': must be an absolute path other than '/', got {s.path!r}")
        if s.max_alerts < 0 or s.queue_capacity <= 0:
            raise ConfigError("key 'webui.retention.max_alerts' must be >= 0 and 'webui.queue_capacity' > 0")
        if s.enabled and not s.token and not (s.user and s.password):
            raise ConfigError("webui.enabled is true but neither webui.token nor webui.user + webui.password "
                              "is set: the console serves nothing without access control")
        return s
