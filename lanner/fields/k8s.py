"""``k8s.*`` fields of syscall events (Falco's container plugin): the pod a container belongs to.

Pod name, namespace and uid come from the container's ``io.kubernetes.pod.*`` labels (set by the kubelet
on docker containers, and filled from the pod sandbox metadata for CRI runtimes); pod labels and ip from
the pod sandbox (its own cached entry when there is one, else what the container's look-up brought).
The ``k8s.rc/svc/rs/deployment/ns.*`` families are deprecated and never have a value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lanner.events.syscall import SyscallEvent
from lanner.fields import types as ft
from lanner.fields.container import HOST_INFO, SOURCES, ContainerContext, join_labels
from lanner.fields.registry import (
    ARG_REQUIRED,
    DEPRECATED,
    SUGGESTED,
    Extractor,
    FieldClass,
    FieldDef,
    FieldError,
    fdef,
)
from lanner.state.container_info import SHORT_ID_LEN, ContainerInfo
from lanner.state.containers import ContainerManager

_S = ft.CHARBUF
POD_NAME, POD_NS, POD_UID = "io.kubernetes.pod.name", "io.kubernetes.pod.namespace", "io.kubernetes.pod.uid"

FIELDS: list[FieldDef] = [
    fdef("k8s.pod.name", _S, "The Kubernetes pod name", flags=(SUGGESTED,)),
    fdef("k8s.ns.name", _S, "The Kubernetes namespace name", flags=(SUGGESTED,)),
    fdef("k8s.pod.id", _S, "[LEGACY] The Kubernetes pod UID (alias of k8s.pod.uid)"),
    fdef("k8s.pod.uid", _S, "The Kubernetes pod UID"),
    fdef("k8s.pod.sandbox_id", _S, "The truncated (12 chars) pod sandbox id"),
    fdef("k8s.pod.full_sandbox_id", _S, "The full pod sandbox id"),
    fdef("k8s.pod.label", _S, "A pod label (k8s.pod.label[key] or k8s.pod.label.key)", arg=ARG_REQUIRED,
         arg_kind="key", dotted_arg=True),
    fdef("k8s.pod.labels", _S, "Pod labels as 'k:v, k2:v2'"),
    fdef("k8s.pod.ip", _S, "The pod's IPv4 address"),
    fdef("k8s.pod.cni.json", _S, "The pod's CNI result, as JSON"),
]
for _fam in ("rc", "svc", "rs", "deployment"):
    FIELDS += [fdef(f"k8s.{_fam}.name", _S, "Deprecated", flags=(DEPRECATED,)),
               fdef(f"k8s.{_fam}.id", _S, "Deprecated", flags=(DEPRECATED,)),
               fdef(f"k8s.{_fam}.label", _S, "Deprecated", arg=ARG_REQUIRED, arg_kind="key", dotted_arg=True,
                    flags=(DEPRECATED,)),
               fdef(f"k8s.{_fam}.labels", _S, "Deprecated", flags=(DEPRECATED,))]
FIELDS += [fdef("k8s.ns.id", _S, "Deprecated", flags=(DEPRECATED,)),
           fdef("k8s.ns.label", _S, "Deprecated", arg=ARG_REQUIRED, arg_kind="key", dotted_arg=True,
                flags=(DEPRECATED,)),
           fdef("k8s.ns.labels", _S, "Deprecated", flags=(DEPRECATED,))]


def field_class(manager: ContainerManager | None = None, sources: tuple[str, ...] = SOURCES) -> FieldClass:
    """The ``k8s`` field class; pass the same manager as to ``lanner.fields.container.field_class``."""
    ctx = ContainerContext(manager if manager is not None else ContainerManager())

    def on_info(get: Callable[[ContainerInfo], Any]) -> Extractor:
        def ex(e: SyscallEvent) -> Any:
            info = ctx.info(e)
            return None if info is None else get(info)

        return ex

    def pod_labels(info: ContainerInfo) -> dict[str, str]:
        sb = ctx.sandbox(info)
        return sb.pod_sandbox_labels if sb is not None else info.pod_sandbox_labels

    # on the host Falco's container plugin answers "" for the pod address fields (and no value for the others)
    def pod_ip(info: ContainerInfo) -> str | None:
        if info is HOST_INFO:
            return ""
        if info.cni_json:
            return info.ip
        sb = ctx.sandbox(info)
        if sb is not None:
            return sb.ip
        return info.ip if info.pod_sandbox_id and info.ip else None

    def pod_cni(info: ContainerInfo) -> str | None:
        if info is HOST_INFO:
            return ""
        if info.cni_json:
            return info.cni_json
        sb = ctx.sandbox(info)
        return sb.cni_json if sb is not None else None

    table: dict[str, Callable[[ContainerInfo], Any]] = {
        "k8s.pod.name": lambda i: i.labels.get(POD_NAME),
        "k8s.ns.name": lambda i: i.labels.get(POD_NS),
        "k8s.pod.id": lambda i: i.labels.get(POD_UID),
        "k8s.pod.uid": lambda i: i.labels.get(POD_UID),
        "k8s.pod.sandbox_id": lambda i: i.pod_sandbox_id[:SHORT_ID_LEN],
        "k8s.pod.full_sandbox_id": lambda i: i.pod_sandbox_id,
        "k8s.pod.labels": lambda i: join_labels(pod_labels(i)),
        "k8s.pod.ip": pod_ip,
        "k8s.pod.cni.json": pod_cni,
    }

    def bind(f: FieldDef, arg: str | None) -> Extractor:
        n = f.name
        if n in table:
            return on_info(table[n])
        if n == "k8s.pod.label":
            key = arg or ""
            return on_info(lambda i: pod_labels(i).get(key))
        if DEPRECATED in f.flags:
            return lambda e: None
        raise FieldError(f"field {n} has no extractor")

    return FieldClass("k8s", "Kubernetes pod metadata of containers (container plugin)", sources, FIELDS, bind)
