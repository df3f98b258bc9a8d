"""Metrics: a registry of collectors and its two renderings, Prometheus text (prometheus-client's exposition) and the snapshot map.

The engine, the sources and the outputs keep their own plain counters and register *collectors*:
callables returning the current values, called only when ``/metrics`` is scraped or a snapshot is due.
Nothing here runs on the event path.

A :class:`Metric` is named as libs names it (``name`` + ``subsystem`` + ``unit``); the Prometheus name is
derived by Falco's rule (outputs-and-endpoints.md 5.2), e.g. (``cpu_usage_perc``, falco, percentage) ->
``falcosecurity_falco_cpu_usage_ratio`` with the value divided by 100.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from lanner import version

COUNTER, GAUGE = "counter", "gauge"

# units
COUNT, RATIO, PERCENTAGE = "count", "ratio", "percentage"
MEMORY_BYTES, MEMORY_KIB, MEMORY_MB = "bytes", "kib", "mb"
TIME_NS, TIME_S, TIMESTAMP_NS, INFO = "time_ns", "time_s", "timestamp_ns", "info"

_SUFFIX = {COUNT: "total", RATIO: "ratio", PERCENTAGE: "percentage", MEMORY_BYTES: "bytes",
           MEMORY_KIB: "kibibytes", MEMORY_MB: "megabytes", TIME_NS: "nanoseconds", TIME_S: "seconds",
           TIMESTAMP_NS: "timestamp_nanoseconds"}
_STRIP = ("_kb", "_bytes", "_mb", "_perc", "_percentage", "_ratio", "_ns", "_ts", "_sec", "_total")
_BAD = re.compile(r"[^a-zA-Z0-9_:]")
_RUNS = re.compile(r"_+")
HELP = "https://falco.org/docs/metrics/"


@dataclass(frozen=True)
class Metric:
    """One value as libs reports it. ``name`` may contain ``.`` (``prog.run_cnt``)."""

    name: str
    value: float | int
    subsystem: str = "falco"
    unit: str = COUNT
    type: str = COUNTER
    labels: tuple[tuple[str, str], ...] = ()
    snapshot: bool = True          # part of the metrics snapshot map
    help_suffix: str = ""


def prometheus_name(m: Metric) -> tuple[str, float | int, str]:
    """(name, value, suffix-applied type) per Falco's construction rule."""
    name, value, unit = m.name, m.value, m.unit
    if unit == INFO:
        return _clean(f"falcosecurity_{m.subsystem}_{name}_info"), 1, GAUGE
    if unit == MEMORY_KIB:
        value, unit = int(value) * 1024, MEMORY_BYTES
    elif unit == PERCENTAGE and name.endswith("_perc"):
        value, unit = float(value) / 100.0, RATIO
    base = f"falcosecurity_{m.subsystem}_{name}_"
    for cut in _STRIP:
        base = base.replace(cut, "")
    suffix = _SUFFIX.get(unit, "")
    if unit in (TIME_NS, TIME_S) and m.type == COUNTER:
        suffix += "_total"
    return _clean(f"{base}_{suffix}" if suffix else base), value, m.type


def _clean(s: str) -> str:
    return _RUNS.sub("_", _BAD.sub("_", s)).strip("_")


def _label_key(k: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", k)


Collector = Callable[[], Iterable[Metric]]


class MetricsRegistry:
    """Collectors in registration order; thread-safe registration, lock-free collection."""

    def __init__(self) -> None:
        self._collectors: list[tuple[str, Collector]] = []
        self._lock = threading.Lock()

    def add_collector(self, name: str, fn: Collector) -> None:
        with self._lock:
            self._collectors = [*self._collectors, (name, fn)]

    def remove_collector(self, name: str) -> None:
        with self._lock:
            self._collectors = [c for c in self._collectors if c[0] != name]

    def collect(self) -> list[Metric]:
        out: list[Metric] = []
        for _name, fn in self._collectors:
            try:
                out.extend(fn())
            except Exception as e:   # a broken collector must not take /metrics down
                out.append(Metric("collector_errors", 1, "lanner", COUNT, COUNTER,
                                  (("collector", _name), ("error", type(e).__name__))))
        return out

    def render_prometheus(self) -> str:
        """Prometheus text format 0.0.4, written by prometheus-client's exposition."""
        from prometheus_client.exposition import generate_latest

        return generate_latest(_Exposition(self)).decode()  # type: ignore[arg-type]


class _Exposition:
    """prometheus-client's view of a registry: one metric family per name, in first-collected order
    (Falco's), the samples of a name gathered under it whatever their label sets."""

    def __init__(self, registry: MetricsRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        from prometheus_client.metrics_core import Metric as Family

        families: dict[str, Any] = {}
        for m in self.registry.collect():
            name, value, typ = prometheus_name(m)
            fam = families.get(name)
            if fam is None:
                base, kind = name, typ
                if typ == COUNTER:         # prometheus-client names a counter family without its _total
                    base, kind = (name[:-6], COUNTER) if name.endswith("_total") else (name, "unknown")
                fam = families[name] = Family(base, f"{HELP}{m.help_suffix}", kind)
            labels = {_label_key(k): str(v) for k, v in sorted(m.labels)}
            fam.add_sample(name, labels, float(value))
        yield from families.values()


# ---- standard collectors -----------------------------------------------------------------------------

def sanitize(s: str) -> str:
    return _clean(s)


def file_sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


@dataclass
class EngineStats:
    """What the engine exposes: event counts per source and rule matches.

    The engine owns the counting (plain dict increments or its own structures); these callbacks read it.
    ``rule_matches`` yields ``(rule, priority_number, source, tags, count)``.
    """

    events_by_source: Callable[[], Mapping[str, int]] = dict
    rule_matches: Callable[[], Iterable[tuple[str, int, str, Iterable[str], int]]] = tuple
    outputs_queue_drops: Callable[[], int] = int
    outputs_by_channel: Callable[[], Mapping[str, int]] = dict
    output_errors_by_channel: Callable[[], Mapping[str, int]] = dict
    output_drops_by_channel: Callable[[], Mapping[str, int]] = dict
    scap_counters: Callable[[], Mapping[str, int]] = dict        # libs names: n_evts, n_drops, n_drops_buffer{dir=exit,drop=open}
    engine_names: Callable[[], Mapping[str, str]] = dict          # source -> engine name (modern_bpf, source_plugin ...)


class ProcessUsage:
    """CPU and memory of this process and the host, from /proc (``metrics.resource_utilization_enabled``)."""

    def __init__(self) -> None:
        self._last: tuple[float, float] | None = None
        self._last_host: tuple[int, int] | None = None

    def metrics(self) -> list[Metric]:
        out = []
        now, cpu = time.monotonic(), time.process_time()
        if self._last is not None and now > self._last[0]:
            perc = 100.0 * (cpu - self._last[1]) / (now - self._last[0])
        else:
            perc = 100.0 * cpu / max(time.monotonic() - _START_MONO, 1e-9)
        self._last = (now, cpu)
        out.append(Metric("cpu_usage_perc", round(perc, 6), "falco", PERCENTAGE, GAUGE))
        st = _proc_status()
        out.append(Metric("memory_rss_kb", st.get("VmRSS", 0), "falco", MEMORY_KIB, GAUGE))
        out.append(Metric("memory_vsz_kb", st.get("VmSize", 0), "falco", MEMORY_KIB, GAUGE))
        out.append(Metric("memory_pss_kb", _pss_kb(), "falco", MEMORY_KIB, GAUGE))
        out.append(Metric("host_cpu_usage_perc", round(self._host_cpu(), 6), "falco", PERCENTAGE, GAUGE))
        mem = _meminfo()
        used = mem.get("MemTotal", 0) - mem.get("MemAvailable", mem.get("MemFree", 0))
        out.append(Metric("host_memory_used_kb", max(used, 0), "falco", MEMORY_KIB, GAUGE))
        out.append(Metric("host_procs_running", _procs_running(), "falco", COUNT, GAUGE))
        out.append(Metric("host_open_fds", _open_fds(), "falco", COUNT, GAUGE))
        return out

    def _host_cpu(self) -> float:
        try:
            with open("/proc/stat") as f:
                parts = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return 0.0
        idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
        total = sum(parts[:8])
        last, self._last_host = self._last_host, (total, idle)
        if last is None or total <= last[0]:
            return 100.0 * (total - idle) / total if total else 0.0
        return 100.0 * (1 - (idle - last[1]) / (total - last[0]))


_START_MONO = time.monotonic()


def _proc_status() -> dict[str, int]:
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmSize"):
                    out[k] = int(v.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


def _pss_kb() -> int:
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _meminfo() -> dict[str, int]:
    out = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = int(v.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


def _procs_running() -> int:
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("procs_running"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _open_fds() -> int:
    try:
        with open("/proc/sys/fs/file-nr") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def boot_time_ns() -> int:
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("btime"):
                    return int(line.split()[1]) * 1_000_000_000
    except (OSError, ValueError, IndexError):
        pass
    return 0


@dataclass
class FalcoInfo:
    """The static/wrapper series: versions, file hashes, start/reload times, host facts."""

    rules_files: list[str] = field(default_factory=list)
    config_files: list[str] = field(default_factory=list)
    start_ns: int = field(default_factory=time.time_ns)
    reload_ns: int = 0
    hostname: str = field(default_factory=socket.gethostname)

    def __post_init__(self) -> None:
        self.reload_ns = self.reload_ns or self.start_ns
        self.hashes = {p: file_sha256(p) for p in [*self.rules_files, *self.config_files]}

    def version_metrics(self) -> list[Metric]:
        out = [Metric("version", 1, "falco", INFO, GAUGE, (("version", version.FALCO_COMPAT_VERSION),),
                      snapshot=False)]
        for kind, files in (("rules_files", self.rules_files), ("config_files", self.config_files)):
            for p in files:
                h = self.hashes.get(p)
                if h:
                    out.append(Metric(f"sha256_{kind}", 1, "falco", INFO, GAUGE,
                                      (("file_name", os.path.basename(p)), ("sha256", h)), snapshot=False))
        return out

    def wrapper_metrics(self, queue_drops: int) -> list[Metric]:
        now = time.time_ns()
        return [
            Metric("kernel_release", 1, "falco", INFO, GAUGE, (("kernel_release", os.uname().release),),
                   snapshot=False),
            Metric("hostname", 1, "evt", INFO, GAUGE, (("hostname", self.hostname),), snapshot=False),
            Metric("outputs_queue_num_drops", queue_drops, "falco", COUNT, COUNTER),
            Metric("reload_ts", self.reload_ns, "falco", TIMESTAMP_NS, GAUGE),
            Metric("start_ts", self.start_ns, "falco", TIMESTAMP_NS, GAUGE),
            Metric("duration_sec", (now - self.start_ns) // 1_000_000_000, "falco", TIME_S, COUNTER),
            Metric("host_boot_ts", boot_time_ns(), "falco", TIMESTAMP_NS, GAUGE),
            Metric("host_num_cpus", os.cpu_count() or 1, "falco", COUNT, GAUGE),
        ]


def engine_metrics(stats: EngineStats, *, rules_counters: bool = True, kernel_counters: bool = True) -> list[Metric]:
    """The engine-fed series in Falco's order: rule matches, engine names, scap counters, events."""
    out: list[Metric] = []
    if rules_counters:
        for rule, prio, source, tags, count in stats.rule_matches():
            if count <= 0:
                continue
            rl = [("rule_name", rule), ("priority", str(int(prio))), ("source", source)]
            rl += [(f"tag_{t}", "true") for t in tags]
            out.append(Metric("rules_matches", count, "falco", COUNT, COUNTER, tuple(rl), snapshot=False))
    for src, eng in stats.engine_names().items():
        out.append(Metric("engine_name", 1, "scap", INFO, GAUGE, (("engine_name", eng), ("evt_source", src)),
                          snapshot=False))
    if kernel_counters:
        for name, v in stats.scap_counters().items():
            labels: tuple[tuple[str, str], ...] = ()
            if "{" in name:   # "n_drops_buffer{dir=exit,drop=open}"
                name, _, rest = name.partition("{")
                labels = tuple((k, v) for k, _, v in (kv.partition("=") for kv in rest.rstrip("}").split(",")
                                                      if "=" in kv))
            out.append(Metric(name, v, "scap", COUNT, COUNTER, labels))
    for src, n in stats.events_by_source().items():
        out.append(Metric("n_evts", n, "lanner", COUNT, COUNTER, (("evt_source", src),)))
    for ch, n in stats.outputs_by_channel().items():
        out.append(Metric("outputs_sent", n, "lanner", COUNT, COUNTER, (("channel", ch),)))
    for ch, n in stats.output_errors_by_channel().items():
        out.append(Metric("outputs_errors", n, "lanner", COUNT, COUNTER, (("channel", ch),)))
    for ch, n in stats.output_drops_by_channel().items():
        out.append(Metric("outputs_dropped", n, "lanner", COUNT, COUNTER, (("channel", ch),)))
    return out


def plugin_metrics(name: str, counters: Mapping[str, int]) -> list[Metric]:
    """``falcosecurity_plugins_<plugin>_<counter>_total`` series of a plugin-style source."""
    return [Metric(f"{name}.{k}", v, "plugins", COUNT, COUNTER) for k, v in counters.items()]


@dataclass
class MetricsOptions:
    """The ``metrics.*`` switches that shape what is collected."""

    rules_counters_enabled: bool = True
    resource_utilization_enabled: bool = True
    state_counters_enabled: bool = True
    kernel_event_counters_enabled: bool = True
    plugins_metrics_enabled: bool = True
    convert_memory_to_mb: bool = True
    include_empty_values: bool = False


def standard_registry(info: FalcoInfo, stats: EngineStats, opts: MetricsOptions | None = None,
                      plugins: Iterable[Any] = ()) -> MetricsRegistry:
    """A registry with Falco's series in Falco's order, fed by ``stats`` and the plugins' ``metrics()``."""
    opts = opts or MetricsOptions()
    reg = MetricsRegistry()
    usage = ProcessUsage()
    plugins = list(plugins)
    reg.add_collector("version", info.version_metrics)
    reg.add_collector("engine", lambda: engine_metrics(stats, rules_counters=opts.rules_counters_enabled,
                                                       kernel_counters=opts.kernel_event_counters_enabled))
    if opts.resource_utilization_enabled:
        reg.add_collector("resource_utilization", usage.metrics)
    if opts.plugins_metrics_enabled:
        def plugin_collect() -> list[Metric]:
            out: list[Metric] = []
            for p in plugins:
                m = getattr(p, "metrics", None)
                if callable(m):
                    out.extend(plugin_metrics(p.name, m()))
            return out
        reg.add_collector("plugins", plugin_collect)
    reg.add_collector("wrapper", lambda: info.wrapper_metrics(stats.outputs_queue_drops()))
    return reg


def engine_stats(engine: Any, *, events_by_source: Callable[[], Mapping[str, int]] | None = None,
                 **extra: Any) -> EngineStats:
    """EngineStats reading a :class:`lanner.engine.Engine`'s own counters (``stats.by_rule`` plus each
    rule's priority, source and tags). ``events_by_source`` defaults to all events under each loaded
    rule source; other callbacks (outputs, scap counters ...) are passed through ``extra``."""

    def matches() -> list[tuple[str, int, str, Iterable[str], int]]:
        rules = {r.name: r for r in getattr(engine.loader, "rules", [])}
        out: list[tuple[str, int, str, Iterable[str], int]] = []
        for name, n in list(engine.stats.by_rule.items()):
            r = rules.get(name)
            if r is not None:
                out.append((name, int(r.priority), r.source, tuple(r.tags), n))
        return out

    def events() -> Mapping[str, int]:
        return {s: engine.stats.events for s in sorted(engine.sources)}

    return EngineStats(events_by_source=events_by_source or events, rule_matches=matches, **extra)
