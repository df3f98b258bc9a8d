"""The field classes of the syscall source and the generic event fields, for the engine's registry."""

from __future__ import annotations

from typing import Any

from lanner.fields.container_id import container_id_class
from lanner.fields.evt import evt_class
from lanner.fields.evt_generic import GenericContext, generic_class
from lanner.fields.fd import fd_class
from lanner.fields.fspath import fdlist_class, fspath_class
from lanner.fields.process import process_class
from lanner.fields.registry import FieldClass
from lanner.fields.thread import thread_class
from lanner.fields.user import user_classes


def generic_field_classes(hostname: str = "", context: GenericContext | None = None,
                          plugin_info: dict[str, Any] | None = None) -> list[FieldClass]:
    """``evt.num``, ``evt.time*``, ``evt.source`` ...: fields every source serves (``sources=()``).
    ``plugin_info`` maps a plugin name to its ``evt.plugininfo`` summary function."""
    return [generic_class(context or GenericContext(hostname, plugin_info))]


def syscall_field_classes(state: Any) -> list[FieldClass]:
    """Syscall-only classes bound to one ``lanner.state.engine.StateEngine`` (users, thread table)."""
    return [evt_class(state), process_class(state), thread_class(), *user_classes(state),
            fd_class(state), fspath_class(), fdlist_class(), container_id_class(state)]
