"""The one event model every source produces and every later stage reads.

Every event has: ``num`` (1-based sequence number in its stream), ``ts`` (ns since the epoch),
``source`` (event source name), ``type`` (event type code used by the rule index) and ``cache``
(a per-event dict fields use to memoise extraction; sources give each event a fresh one).
Syscall events (``lanner.events.syscall``) add thread/fd state; plugin-style events add a payload.
"""

from __future__ import annotations

from typing import Any

# Event type code under which every non-syscall (plugin) event is indexed, as Falco does.
PLUGIN_EVENT_TYPE = 322
ASYNC_EVENT_TYPE = 402


class Event:
    __slots__ = ("num", "ts", "source", "type", "cache")

    def __init__(self, num: int, ts: int, source: str, type_: int) -> None:
        self.num = num
        self.ts = ts
        self.source = source
        self.type = type_
        self.cache: dict[str, Any] = {}


class PluginEvent(Event):
    """An event of a plugin-style source (k8s_audit, aws_cloudtrail ...): an opaque payload, usually JSON.

    ``data`` is the raw payload; ``obj`` the parsed JSON (filled lazily by the json fields);
    ``plugin`` the name of the plugin-style source that produced it (``evt.pluginname``), ``plugin_id``
    its plugin id (0 for built-in sources).
    """

    __slots__ = ("data", "obj", "plugin", "plugin_id")

    #: plugin events always reach the rules (syscall events may be state-only)
    hidden = False

    def __init__(self, num: int, ts: int, source: str, data: bytes, plugin: str = "", obj: Any = None,
                 plugin_id: int = 0) -> None:
        super().__init__(num, ts, source, PLUGIN_EVENT_TYPE)
        self.data = data
        self.obj = obj
        self.plugin = plugin
        self.plugin_id = plugin_id
