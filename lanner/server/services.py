"""The services around the event loops: the webserver (``/healthz``, ``/versions``, ``/metrics``) and the
periodic metrics snapshot, wired to the engine's, the runner's and the output pipeline's counters.
Everything here reads counters on demand (a scrape, a snapshot tick): nothing runs on the event path."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lanner.config import Config
from lanner.outputs.channels.factory import file_mode
from lanner.server.metrics import FalcoInfo, engine_stats, standard_registry
from lanner.server.snapshot import MetricsConfig, MetricsSnapshotter
from lanner.server.webserver import WebServer, WebServerConfig

log = logging.getLogger("lanner")


class Services:
    def __init__(self, config: Config, engine: Any, *, sources: Callable[[], Iterable[str]],
                 events_by_source: Callable[[], Mapping[str, int]], scap_counters: Callable[[], Mapping[str, int]],
                 pipeline: Any, plugins: Iterable[Any], plugin_versions: Mapping[str, str],
                 webserver: bool = True) -> None:
        self.metrics_cfg = MetricsConfig.from_config(config)
        info = FalcoInfo(rules_files=[r.name for r in engine.loader.results], config_files=list(config.files))

        def channel_counts(key: str) -> dict[str, int]:
            st = pipeline.stats() if pipeline is not None else {}
            return {n: c.get(key, 0) for n, c in st.get("channels", {}).items()}

        stats = engine_stats(
            engine, events_by_source=events_by_source, scap_counters=scap_counters,
            outputs_queue_drops=lambda: (pipeline.stats().get("outputs_queue_num_drops", 0) if pipeline else 0),
            outputs_by_channel=lambda: channel_counts("sent"),
            output_errors_by_channel=lambda: channel_counts("failed"),
            output_drops_by_channel=lambda: channel_counts("dropped"))
        self.registry = standard_registry(info, stats, self.metrics_cfg.options, plugins)
        self.web: WebServer | None = None
        self.snapshotter: MetricsSnapshotter | None = None
        if webserver and config.bool("webserver.enabled", False):
            wcfg = WebServerConfig.from_config(config)
            from lanner.console.agent import mounts
            self.web = WebServer(wcfg, plugin_versions=plugin_versions, metrics=self.registry,
                                 metrics_allowed=self.metrics_cfg.enabled, mounts=mounts(config, engine))
            self.web.start()
            threads = wcfg.threadiness or os.cpu_count() or 1
            log.info("Starting health webserver with threadiness %d, listening on %s:%d%s", threads,
                     wcfg.listen_address, self.web.port, " (SSL)" if wcfg.ssl_enabled else "")
        if self.metrics_cfg.enabled:
            log.info(self.metrics_cfg.log_line())
            if self.metrics_cfg.output_rule or self.metrics_cfg.output_file:
                emit = pipeline.submit if pipeline is not None else None
                self.snapshotter = MetricsSnapshotter(self.metrics_cfg, self.registry, info, stats,
                                                      sources=sources, emit=emit, file_mode=file_mode(config))
                self.snapshotter.start()

    def sources_opened(self) -> None:
        if self.web is not None:
            self.web.enable_metrics()

    def stop(self) -> None:
        if self.snapshotter is not None:
            self.snapshotter.stop()
            self.snapshotter = None
        if self.web is not None:
            self.web.stop()
            self.web = None
