"""``container.*`` fields (Falco's container plugin), syscall source.

The id comes from the thread's cgroups (``ThreadInfo.container_id``, "" = host); everything else from
the runtime metadata a :class:`ContainerManager` holds. While a container's look-up is pending only
``container.id``, ``container.start_ts`` and ``container.duration`` have values; the rest are missing
(``<NA>``), as in Falco. Host processes get id, name, type and full id ``host`` and empty strings elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lanner.events.syscall import SyscallEvent
from lanner.fields import types as ft
from lanner.fields.registry import (
    ARG_REQUIRED,
    DEPRECATED,
    SUGGESTED,
    Extractor,
    FieldClass,
    FieldDef,
    FieldError,
    fdef,
    is_index,
)
from lanner.state.container_info import HOST, ContainerInfo, Mount
from lanner.state.containers import ContainerManager

SOURCES = ("syscall",)
HOST_INFO = ContainerInfo(id=HOST, full_id=HOST, type=HOST, name=HOST)

_S, _B = ft.CHARBUF, ft.BOOL
_PENDING = object()


def thread_of(e: SyscallEvent) -> Any:
    return getattr(e, "thread", None)


def container_id_of(e: SyscallEvent) -> str | None:
    """12-char id, ``host``, or None when the event has no thread."""
    t = thread_of(e)
    if t is None:
        return None
    return getattr(t, "container_id", "") or HOST


class ContainerContext:
    """Per-event access to the container of the event's thread, memoised in ``event.cache``."""

    def __init__(self, manager: ContainerManager) -> None:
        self.manager = manager

    def info(self, e: SyscallEvent) -> ContainerInfo | None:
        c = e.cache
        v = c.get("ctr.info", _PENDING)
        if v is _PENDING:
            cid = container_id_of(e)
            if cid is None:
                v = None
            elif cid == HOST:
                v = HOST_INFO
            else:
                v = self.manager.lookup(cid)
            c["ctr.info"] = v
        return v

    def sandbox(self, info: ContainerInfo) -> ContainerInfo | None:
        """The pod sandbox's own entry, when cached (pod labels/ip of docker-run pods live there)."""
        sid = info.pod_sandbox_id
        if not sid or info.cni_json:
            return None
        return self.manager.get(sid)


def _attr(ctx: ContainerContext, get: Callable[[ContainerInfo], Any]) -> Extractor:
    def ex(e: SyscallEvent) -> Any:
        info = ctx.info(e)
        return None if info is None else get(info)

    return ex


def _mount_getter(ctx: ContainerContext, arg: str, by_dest: bool, render: Callable[[Mount], str]) -> Extractor:
    if is_index(arg):
        idx = int(arg)

        def pick(info: ContainerInfo) -> Mount | None:
            return info.mount_by_index(idx)
    elif by_dest:
        def pick(info: ContainerInfo) -> Mount | None:
            return info.mount_by_dest(arg)
    else:
        def pick(info: ContainerInfo) -> Mount | None:
            return info.mount_by_source(arg)

    def ex(e: SyscallEvent) -> str | None:
        info = ctx.info(e)
        if info is None:
            return None
        m = pick(info)
        return None if m is None else render(m)

    return ex


def join_labels(labels: dict[str, str]) -> str:
    """``k:v, k2:v2`` sorted by key, without ``annotation.*`` and ``io.kubernetes.*`` keys."""
    parts = []
    for k in sorted(labels):
        if k.startswith(("annotation.", "io.kubernetes.")):
            continue
        v = labels[k]
        parts.append(f"{k}:{v}" if v else k)
    return ", ".join(parts)


def _start_ts(e: SyscallEvent) -> int | None:
    t = thread_of(e)
    ts = getattr(t, "pidns_init_start_ts", 0) if t is not None else 0
    return ts or None


def _duration(e: SyscallEvent) -> int | None:
    ts = _start_ts(e)
    return None if ts is None else max(0, e.ts - ts)


_MOUNT_FIELDS: dict[str, tuple[bool, Callable[[Mount], str]]] = {
    "container.mount": (False, Mount.render),
    "container.mount.source": (True, lambda m: m.source),
    "container.mount.dest": (False, lambda m: m.dest),
    "container.mount.mode": (False, lambda m: m.mode),
    "container.mount.rdwr": (False, lambda m: "true" if m.rw else "false"),
    "container.mount.propagation": (False, lambda m: m.propagation),
}

_MOUNT_ARG = "index (container.mount[0]) or path glob (container.mount[/usr/local*])"

FIELDS: list[FieldDef] = [
    fdef("container.id", _S, "The truncated container id (first 12 characters) from the thread's cgroups; "
         "'host' for processes outside containers", flags=(SUGGESTED,)),
    fdef("container.full_id", _S, "The full container id, from the runtime"),
    fdef("container.name", _S, "The container name ('host' outside containers)", flags=(SUGGESTED,)),
    fdef("container.image", _S, "The container image name (e.g. falcosecurity/falco:latest)"),
    fdef("container.image.id", _S, "The container image id"),
    fdef("container.type", _S, "The container type (docker, containerd, cri-o, podman, host ...)"),
    fdef("container.privileged", _B, "true for containers running privileged"),
    fdef("container.mounts", _S, "All mounts, comma-separated 'source:dest:mode:rdrw:propagation' items"),
    fdef("container.mount", _S, f"One mount as 'source:dest:mode:rdrw:propagation', by {_MOUNT_ARG} of its "
         "source", arg=ARG_REQUIRED),
    fdef("container.mount.source", _S, f"Mount source, by {_MOUNT_ARG} of its destination", arg=ARG_REQUIRED),
    fdef("container.mount.dest", _S, f"Mount destination, by {_MOUNT_ARG} of its source", arg=ARG_REQUIRED),
    fdef("container.mount.mode", _S, f"Mount mode, by {_MOUNT_ARG} of its source", arg=ARG_REQUIRED),
    fdef("container.mount.rdwr", _S, f"Mount read/write flag, by {_MOUNT_ARG} of its source", arg=ARG_REQUIRED),
    fdef("container.mount.propagation", _S, f"Mount propagation, by {_MOUNT_ARG} of its source",
         arg=ARG_REQUIRED),
    fdef("container.image.repository", _S, "The container image repository (e.g. falcosecurity/falco)",
         flags=(SUGGESTED,)),
    fdef("container.image.tag", _S, "The container image tag (e.g. stable, latest)", flags=(SUGGESTED,)),
    fdef("container.image.digest", _S, "The container image registry digest (sha256:...)"),
    fdef("container.healthcheck", _S, "Deprecated", flags=(DEPRECATED,)),
    fdef("container.liveness_probe", _S, "Deprecated", flags=(DEPRECATED,)),
    fdef("container.readiness_probe", _S, "Deprecated", flags=(DEPRECATED,)),
    fdef("container.start_ts", ft.ABSTIME, "Container start (proc.pidns_init_start_ts), ns since the epoch"),
    fdef("container.duration", ft.RELTIME, "Nanoseconds since container.start_ts"),
    fdef("container.ip", _S, "The container's / pod's primary IPv4 address, from the runtime"),
    fdef("container.cni.json", _S, "The pod's CNI result, as JSON (CRI runtimes)"),
    fdef("container.host_pid", _B, "true if the container runs in the host PID namespace"),
    fdef("container.host_network", _B, "true if the container runs in the host network namespace"),
    fdef("container.host_ipc", _B, "true if the container runs in the host IPC namespace"),
    fdef("container.label", _S, "A container label (container.label[key] or container.label.key)",
         arg=ARG_REQUIRED, arg_kind="key", dotted_arg=True),
    fdef("container.labels", _S, "Container labels as 'k:v, k2:v2'"),
]


def field_class(manager: ContainerManager | None = None, sources: tuple[str, ...] = SOURCES) -> FieldClass:
    """The ``container`` field class bound to ``manager`` (an empty one, fed only by capture events,
    when None)."""
    ctx = ContainerContext(manager if manager is not None else ContainerManager())

    simple: dict[str, Callable[[ContainerInfo], Any]] = {
        "container.full_id": lambda i: i.full_id,
        "container.name": lambda i: i.name,
        "container.image": lambda i: i.image,
        "container.image.id": lambda i: i.image_id,
        "container.type": lambda i: i.type,
        "container.privileged": lambda i: i.privileged,
        "container.mounts": lambda i: ",".join(m.render() for m in i.mounts),
        "container.image.repository": lambda i: i.image_repo,
        "container.image.tag": lambda i: i.image_tag,
        "container.image.digest": lambda i: i.image_digest,
        "container.ip": lambda i: i.ip,
        "container.cni.json": lambda i: i.cni_json,
        "container.host_pid": lambda i: i.host_pid,
        "container.host_network": lambda i: i.host_network,
        "container.host_ipc": lambda i: i.host_ipc,
        "container.labels": lambda i: join_labels(i.labels),
    }

    def bind(f: FieldDef, arg: str | None) -> Extractor:
        n = f.name
        if n == "container.id":
            return container_id_of
        if n in simple:
            return _attr(ctx, simple[n])
        if n in _MOUNT_FIELDS:
            if not arg:
                raise FieldError(f"field '{n}' requires an argument but none provided")
            by_dest, render = _MOUNT_FIELDS[n]
            return _mount_getter(ctx, arg, by_dest, render)
        if n == "container.label":
            key = arg or ""
            return _attr(ctx, lambda i: i.labels.get(key))
        if n == "container.start_ts":
            return _start_ts
        if n == "container.duration":
            return _duration
        if DEPRECATED in f.flags:
            return lambda e: None
        raise FieldError(f"field {n} has no extractor")

    return FieldClass("container", "Container metadata (container plugin)", sources, FIELDS, bind)
