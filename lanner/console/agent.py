"""The console inside the agent: one store, writer and app per configuration, shared by the output
channel that feeds it (:mod:`lanner.console.channel`) and the webserver mount that serves it."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from lanner.config import Config, ConfigError
from lanner.console.ingest import Ingestor, Retention
from lanner.console.opener import open_store
from lanner.console.settings import ConsoleSettings
from lanner.console.store import StoreError
from lanner.console.web import Access, ConsoleApp

log = logging.getLogger("lanner.console")

Handler = Callable[[str, str, Mapping[str, str], bytes], tuple[int, list[tuple[str, str]], bytes]]

_lock = threading.Lock()
_open: dict[int, tuple[Config, ConsoleApp]] = {}   # id(config) -> app (the config kept alive with it)


def console_for(config: Config) -> ConsoleApp:
    """The agent's console for this configuration, opened on first use (ConfigError when unusable)."""
    with _lock:
        hit = _open.get(id(config))
        if hit is not None and hit[0] is config:
            return hit[1]
        s = ConsoleSettings.from_config(config)
        if "://" not in s.store and s.store != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(s.store)), exist_ok=True)
        try:
            store = open_store(s.store)
        except StoreError as e:
            raise ConfigError(f"webui.store: {e}") from None
        ing = Ingestor(store, capacity=s.queue_capacity,
                       retention=Retention(max_age_s=s.max_age_s, max_alerts=s.max_alerts))
        app = ConsoleApp(store, ing, Access(s.token, s.user, s.password), prefix=s.path, max_wait=5.0)
        _open[id(config)] = (config, app)
        if not config.bool("webserver.enabled", False):
            log.warning("webui.enabled but webserver.enabled is false: alerts are stored, the page is not served")
        log.info("Console: alerts stored in %s (%s), page at %s", s.store if "://" not in s.store else store.name,
                 store.name, app.prefix)
        return app


def close_for(config: Config) -> None:
    with _lock:
        hit = _open.pop(id(config), None)
    if hit is not None:
        app = hit[1]
        app.ingestor.close()
        app.store.close()


def mounts(config: Config, engine: Any = None) -> dict[str, Handler]:
    """The webserver mounts for ``webui.enabled`` (none otherwise); also loads the rule catalog."""
    if not config.bool("webui.enabled", False):
        return {}
    app = console_for(config)
    if engine is not None:
        try:
            app.store.upsert_rules(rule_catalog(engine))
        except Exception as e:  # noqa: BLE001 - the catalog is a convenience, never a reason to stop
            log.warning("console: cannot store the rule catalog: %s", e)
    return {app.prefix: app.handle}


def rule_catalog(engine: Any) -> list[dict[str, Any]]:
    """Name, description, tags, priority and source of every loaded rule."""
    out = []
    for r in getattr(getattr(engine, "loader", None), "rules", []) or []:
        prio = getattr(r.priority, "canonical", str(r.priority))
        out.append({"name": r.name, "desc": r.desc, "tags": sorted(r.tags), "priority": prio, "source": r.source})
    return out
