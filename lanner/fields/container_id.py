"""``container.id`` / ``container.full_id`` from the thread's cgroups (event-model 8.1).

Runtime metadata fields (name, image, labels, mounts ...) come from the container-metadata module; this
class only knows what the cgroup path says.
"""

from __future__ import annotations

from typing import Any

from lanner.events.syscall import SyscallEvent
from lanner.fields import types as ft
from lanner.fields.registry import SUGGESTED, Extractor, FieldClass, FieldDef, cached, fdef


def container_id_class(state: Any) -> FieldClass:
    resolver = state.containers if state is not None else None

    def cid(e: SyscallEvent) -> str | None:
        t = e.thread
        if t is None:
            return None
        return t.container_id or "host"

    def full(e: SyscallEvent) -> str | None:
        t = e.thread
        if t is None:
            return None
        if not t.container_id or resolver is None:
            return "host"
        return resolver.full_id_for(t.cgroups) or t.container_id

    ex: dict[str, Extractor] = {"container.id": cid, "container.full_id": cached("container.full_id", full)}
    fields = [
        fdef("container.id", ft.CHARBUF, "12-character container id; host for processes outside containers",
             flags=[SUGGESTED]),
        fdef("container.full_id", ft.CHARBUF, "full container id; host outside containers"),
    ]

    def bind(f: FieldDef, arg: str | None) -> Extractor:
        return ex[f.name]

    return FieldClass("container", "Container id from cgroups", ("syscall",), fields, bind)
