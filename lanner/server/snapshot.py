"""``metrics.*``: interval parsing, validation, and the periodic metrics snapshot.

Every ``metrics.interval`` a snapshot map per enabled source is built from the same collectors
``/metrics`` uses, then sent as the internal alert ``Falco internal: metrics snapshot``
(``metrics.output_rule``) and/or appended to ``metrics.output_file`` as
``{"output_fields":{...},"sample":N}`` lines. A background thread does it, so events never wait on it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from lanner import version
from lanner.config import Config, ConfigError
from lanner.core.alert import Alert
from lanner.core.priority import Priority
from lanner.filemodes import DEFAULT_FILE_MODE, open_append
from lanner.server.metrics import (
    INFO,
    MEMORY_KIB,
    PERCENTAGE,
    EngineStats,
    FalcoInfo,
    MetricsOptions,
    MetricsRegistry,
    sanitize,
)

SNAPSHOT_RULE = "Falco internal: metrics snapshot"
SNAPSHOT_TEXT = "Falco metrics snapshot"

NUMERIC_INTERVAL_ERROR = ("Metrics interval was passed as numeric value without Prometheus time unit. "
                          "Please specify a time unit")
INTERVAL_ERROR = ("Metrics interval must have a minimum value of 100ms and reflect a Prometheus compliant "
                  "time duration format: https://prometheus.io/docs/prometheus/latest/querying/basics/#time-durations. ")
NO_OUTPUT_ERROR = ("Metrics are enabled with no output configured. Please enable at least one output channel "
                   "('metrics.output_rule', 'metrics.output_file' or 'webserver.prometheus_metrics_enabled')")

_UNIT_MS = {"y": 365 * 86400_000, "w": 7 * 86400_000, "d": 86400_000, "h": 3600_000, "m": 60_000, "s": 1000,
            "ms": 1}
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")


def parse_interval(text: str) -> int:
    """A Prometheus duration (``1h30m``, ``15s``, ``100ms``) -> milliseconds; ConfigError with Falco's
    messages for a bare number, an unparsable text or less than 100 ms."""
    s = re.sub(r"\s+", "", str(text))
    if s.isdigit():
        raise ConfigError(NUMERIC_INTERVAL_ERROR)
    m = _DURATION.match(s)
    if not s or not m or not any(m.groups()):
        raise ConfigError(INTERVAL_ERROR)
    ms = sum(int(g) * _UNIT_MS[u] for g, u in zip(m.groups(), ("y", "w", "d", "h", "m", "s", "ms"), strict=True)
             if g)
    if ms < 100:
        raise ConfigError(INTERVAL_ERROR)
    return ms


@dataclass
class MetricsConfig:
    enabled: bool = False
    interval_text: str = "5000"
    interval_ms: int = 0
    output_rule: bool = False
    output_file: str = ""
    options: MetricsOptions = field(default_factory=MetricsOptions)

    @classmethod
    def from_config(cls, cfg: Config) -> MetricsConfig:
        """Read and validate ``metrics.*`` (only checked when ``metrics.enabled``)."""
        c = cls(
            enabled=cfg.bool("metrics.enabled", False),
            interval_text=cfg.str("metrics.interval", "5000"),
            output_rule=cfg.bool("metrics.output_rule", False),
            output_file=cfg.str("metrics.output_file", ""),
            options=MetricsOptions(
                rules_counters_enabled=cfg.bool("metrics.rules_counters_enabled", True),
                resource_utilization_enabled=cfg.bool("metrics.resource_utilization_enabled", True),
                state_counters_enabled=cfg.bool("metrics.state_counters_enabled", True),
                kernel_event_counters_enabled=cfg.bool("metrics.kernel_event_counters_enabled", True),
                plugins_metrics_enabled=cfg.bool("metrics.plugins_metrics_enabled", True),
                convert_memory_to_mb=cfg.bool("metrics.convert_memory_to_mb", True),
                include_empty_values=cfg.bool("metrics.include_empty_values", False),
            ),
        )
        if not c.enabled:
            return c
        c.interval_ms = parse_interval(c.interval_text)
        if not (c.output_rule or c.output_file or cfg.bool("webserver.prometheus_metrics_enabled", False)):
            raise ConfigError(NO_OUTPUT_ERROR)
        return c

    def log_line(self) -> str:
        return f"Setting metrics interval to {self.interval_text}, equivalent to {self.interval_ms} (ms)"


class MetricsSnapshotter:
    """Builds snapshot maps and delivers them every interval (see module doc)."""

    def __init__(self, cfg: MetricsConfig, registry: MetricsRegistry, info: FalcoInfo, stats: EngineStats,
                 *, sources: Callable[[], Iterable[str]], emit: Callable[[Alert], None] | None = None,
                 file_mode: int = DEFAULT_FILE_MODE) -> None:
        self.cfg = cfg
        self.file_mode = file_mode
        self.registry = registry
        self.info = info
        self.stats = stats
        self.sources = sources
        self.emit = emit
        self.sample = 0
        self._prev: dict[str, tuple[int, int]] = {}      # source -> (num_evts, wall ns)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def snapshot(self, source: str, now_ns: int | None = None) -> dict[str, Any]:
        now = now_ns or time.time_ns()
        opts = self.cfg.options
        out: dict[str, Any] = {
            "evt.time": now, "evt.source": source, "evt.hostname": self.info.hostname,
            "falco.version": version.FALCO_COMPAT_VERSION,
        }
        for p in self.info.rules_files:
            h = self.info.hashes.get(p)
            if h:
                out[f"falco.sha256_rules_file.{sanitize(p.rsplit('/', 1)[-1])}"] = h
        for p in self.info.config_files:
            h = self.info.hashes.get(p)
            if h:
                out[f"falco.sha256_config_file.{sanitize(p.rsplit('/', 1)[-1])}"] = h
        n = int(self.stats.events_by_source().get(source, 0))
        out["falco.num_evts"] = n
        prev = self._prev.get(source)
        if prev is not None:
            out["falco.num_evts_prev"] = prev[0]
            dt = (now - prev[1]) / 1e9
            out["falco.evts_rate_sec"] = round((n - prev[0]) / dt, 1) if dt > 0 else 0.0
        self._prev[source] = (n, now)
        total = 0
        for rule, _prio, src, _tags, count in self.stats.rule_matches():
            if count > 0 and src == source:
                total += count
                out[f"falco.rules.{sanitize(rule)}"] = count
        if opts.rules_counters_enabled:
            out["falco.rules.matches_total"] = total
        for m in self.registry.collect():
            if not m.snapshot or m.unit == INFO or m.labels:
                continue
            name, value = m.name, m.value
            if m.unit == MEMORY_KIB and opts.convert_memory_to_mb:
                name, value = name.replace("_kb", "_mb"), round(int(value) / 1024.0, 2)
            elif m.unit == PERCENTAGE:
                value = round(float(value), 2)
            if not value and not opts.include_empty_values:
                continue
            key = f"{m.subsystem}.{name}"
            if key not in out:
                out[key] = value
        out.setdefault("falco.start_ts", self.info.start_ns)
        out.setdefault("falco.reload_ts", self.info.reload_ns)
        return out

    def tick(self, now_ns: int | None = None) -> list[dict[str, Any]]:
        """Build and deliver one snapshot per source now; returns the maps (tests, --dry-run tools)."""
        self.sample += 1
        maps = [self.snapshot(s, now_ns) for s in self.sources()]
        for m in maps:
            if self.cfg.output_rule and self.emit is not None:
                self.emit(Alert(time_ns=m["evt.time"], rule=SNAPSHOT_RULE, priority=Priority.INFORMATIONAL,
                                source="internal", message=SNAPSHOT_TEXT, output_fields=m,
                                hostname=self.info.hostname))
            if self.cfg.output_file:
                line = orjson.dumps({"output_fields": m, "sample": self.sample}) + b"\n"
                with open_append(self.cfg.output_file, self.file_mode, binary=True) as f:
                    f.write(line)
        return maps

    def start(self) -> None:
        if self._thread is not None or not self.cfg.enabled:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="metrics-snapshot", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        period = self.cfg.interval_ms / 1000.0
        while not self._stop.wait(period):
            try:
                self.tick()
            except OSError as e:
                logging.getLogger("lanner.metrics").error("metrics.output_file %s: %s", self.cfg.output_file, e)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
