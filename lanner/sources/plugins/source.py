"""A Falco plugin library as one of lanner's sources (``SourcePlugin``): its events, its fields, its parser.

The facts about the plugin (name, version, event source, field classes, capabilities) are read from the
library itself, so ``--list``, ``--list-plugins``, ``/versions`` and ``required_plugin_versions`` see
exactly what was loaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from lanner.events.base import Event, PluginEvent
from lanner.fields import registry as reg
from lanner.fields import types as ft
from lanner.sources.api import SourcePlugin
from lanner.sources.plugins import abi
from lanner.sources.plugins.host import PluginHost
from lanner.sources.plugins.library import (
    CAP_ASYNC,
    CAP_EXTRACTION,
    CAP_PARSING,
    CAP_SOURCING,
    PluginField,
    load_library,
)
from lanner.sources.plugins.tables import TableRegistry

_TYPES = {"string": ft.CHARBUF, "uint64": ft.UINT64, "reltime": ft.RELTIME, "abstime": ft.ABSTIME,
          "bool": ft.BOOL, "ipaddr": ft.IPADDR, "ipnet": ft.IPNET}


def field_def(f: PluginField) -> reg.FieldDef:
    arg = reg.ARG_REQUIRED if f.arg_required else reg.ARG_OPTIONAL if f.arg_allowed else reg.ARG_NONE
    kind = "index" if f.arg_index and not f.arg_key else "key" if f.arg_key else ""
    flags = []
    if f.add_output:
        flags.append(reg.SUGGESTED)
    if "hidden" in f.properties:
        flags.append(reg.HIDDEN)
    return reg.fdef(f.name, _TYPES[f.type], f.desc, arg=arg, arg_kind=kind, is_list=f.is_list, flags=flags)


class LibraryPlugin(SourcePlugin):
    """One ``plugins[]`` entry whose ``library_path`` was loaded."""

    def __init__(self, library_path: str, tables: TableRegistry | None = None) -> None:
        self.lib = load_library(library_path)
        self.host = PluginHost(self.lib, tables)
        self.name = self.lib.name
        self.version = self.lib.version
        self.description = self.lib.description
        self.contact = self.lib.contact
        self.source = self.host.source
        self.extract_sources = tuple(sorted(self.lib.extract_sources))
        self.parse_sources = tuple(sorted(self.lib.parse_sources))
        self.async_sources = tuple(sorted(self.lib.async_sources))
        self.library_path = self.lib.path
        self.caps = self.lib.caps
        self.plugin_id = self.lib.id
        self._classes: list[reg.FieldClass] | None = None

    # --- facts -------------------------------------------------------------------------------------
    @property
    def capabilities(self) -> list[str]:
        return self.lib.capability_names()

    def has(self, cap: int) -> bool:
        return bool(self.caps & cap)

    def init(self, init_config: Any) -> None:
        self.host.init(init_config)

    def init_schema(self) -> str:
        return self.lib.init_schema()[1]

    def init_schema_kind(self) -> str:
        """"JSON" when the plugin declares a JSON init schema, else ""."""
        kind, text = self.lib.init_schema()
        return "JSON" if kind == abi.SCHEMA_JSON and text else ""

    def list_open_params(self) -> list[dict[str, Any]]:
        return self.host.list_open_params()

    # --- fields ------------------------------------------------------------------------------------
    def field_classes(self) -> list[reg.FieldClass]:
        """The plugin's fields as one field class (made once: the registry and the checks share it)."""
        if not self.caps & CAP_EXTRACTION:
            return []
        if self._classes is None:
            self._classes = self._make_classes()
        return self._classes

    def _make_classes(self) -> list[reg.FieldClass]:
        by_name = {f.name: f for f in self.lib.fields}
        host = self.host

        def bind(fd: reg.FieldDef, arg: str | None) -> reg.Extractor:
            return host.extractor(by_name[fd.name], arg)

        return [reg.FieldClass(f"{self.name} (plugin)", self.description,
                               tuple(sorted(self.lib.extract_sources)), [field_def(f) for f in self.lib.fields],
                               bind)]

    # --- parsing and async events ----------------------------------------------------------------
    def parser(self) -> Callable[[Any], None] | None:
        return self.host.parser() if self.caps & CAP_PARSING else None

    def start_async(self, on_event: Callable[[Event], None]) -> None:
        if self.caps & CAP_ASYNC:
            self.host.set_async_handler(on_event)

    def event_to_string(self, ev: PluginEvent) -> str | None:
        """``evt.plugininfo``: the plugin's own summary of one of its events."""
        if not self.caps & CAP_SOURCING or getattr(ev, "plugin_id", 0) not in (0, self.lib.id):
            return None
        return self.host.event_to_string(ev) or None

    def metrics(self) -> dict[str, float]:
        return self.host.metrics()

    # --- sourcing ----------------------------------------------------------------------------------
    def open(self, params: str) -> Iterator[Event | None]:
        """Events from ``plugin_next_batch``; None while the plugin has nothing (it returned a timeout)."""
        if not self.caps & CAP_SOURCING:
            return super().open(params)
        self.host.open(params)
        return self._events()

    def _events(self) -> Iterator[Event | None]:
        for batch in self.host.batches():
            if batch is None:
                time.sleep(0.01)
                yield None
                continue
            yield from batch

    def progress(self) -> tuple[str, int]:
        return self.host.progress()

    def close(self) -> None:
        self.host.close()

    def destroy(self) -> None:
        self.host.set_async_handler(None)
        self.host.close()
        self.host.destroy()
