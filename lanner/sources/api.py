"""The source API: how an event source plugs into lanner.

Falco loads event sources as plugins (``load_plugins``/``plugins[]`` in ``falco.yaml``). lanner's sources
are Python classes implementing :class:`SourcePlugin`; a Falco plugin entry whose ``name`` matches a
built-in (``k8saudit``, ``json``, ``cloudtrail``, ``container``) is mapped onto it, so Falco configs work
unchanged. A plugin may *provide an event source* (``source`` set, ``open`` implemented) and/or
*extract fields* (``field_classes``) for one or more sources.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lanner.core.errors import LannerError
from lanner.events.base import Event
from lanner.fields.registry import FieldClass


class SourceError(LannerError):
    """A source could not be opened or read; the message names the file, offset or parameter."""


class SourcePlugin:
    #: plugin name as written in falco.yaml (`plugins[].name`), e.g. "k8saudit"
    name: str = ""
    #: version reported for `required_plugin_versions` checks
    version: str = "0.0.0"
    description: str = ""
    contact: str = "https://github.com/lanner"
    #: Falco plugin id of the event source (0: none, or syscall events)
    plugin_id: int = 0
    #: event source this plugin produces ("k8s_audit"), or "" for extraction-only plugins
    source: str = ""
    #: sources whose events this plugin's fields can extract from ("" source = its own)
    extract_sources: tuple[str, ...] = ()

    def init(self, init_config: Any) -> None:
        """Receive `plugins[].init_config` (a dict, a JSON string or None). Raise SourceError if invalid."""

    def field_classes(self) -> list[FieldClass]:
        return []

    def open(self, params: str) -> Iterator[Event | None]:
        """Open the event stream with `plugins[].open_params`.

        Yields events; yields ``None`` when no event is available right now (so the caller can check
        for shutdown); returns at end of stream. Must not block for more than ~100 ms without yielding.
        """
        raise SourceError(f"plugin {self.name} does not provide an event source")

    def close(self) -> None:
        """Release what open() acquired (sockets, files, threads)."""
