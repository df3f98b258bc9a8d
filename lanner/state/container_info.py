"""The container info model the runtimes (docker, cri) and the container manager share: what a runtime
reports about one container, its mounts, and the numeric type codes capture files use."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

HOST = "host"
SHORT_ID_LEN = 12

# Numeric container types as they appear in capture container events (event-model.md 8.2).
TYPE_CODES = {
    "docker": 0, "lxc": 1, "libvirt-lxc": 2, "custom": 5, "cri": 6, "containerd": 7, "cri-o": 8,
    "bpm": 9, "static": 10, "podman": 11, "host": 0xFFFE,
}
TYPE_NAMES = {v: k for k, v in TYPE_CODES.items()}


@dataclass(frozen=True)
class Mount:
    source: str
    dest: str
    mode: str = ""
    rw: bool = True
    propagation: str = ""

    def render(self) -> str:
        """``source:dest:mode:rdwr:propagation`` as Falco prints one mount."""
        return f"{self.source}:{self.dest}:{self.mode}:{'true' if self.rw else 'false'}:{self.propagation}"


@dataclass
class ContainerInfo:
    """What a runtime reported about one container (or pod sandbox)."""

    id: str                       # 12-char id
    full_id: str = ""
    type: str = ""
    name: str = ""
    image: str = ""
    image_id: str = ""
    image_repo: str = ""
    image_tag: str = ""
    image_digest: str = ""
    privileged: bool = False
    mounts: list[Mount] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    ip: str = ""
    host_pid: bool = False
    host_network: bool = False
    host_ipc: bool = False
    pod_sandbox_id: str = ""
    pod_sandbox_labels: dict[str, str] = field(default_factory=dict)
    cni_json: str = ""
    created_ns: int = 0
    is_pod_sandbox: bool = False
    user: str = ""
    env: list[str] = field(default_factory=list)

    def mount_by_index(self, i: int) -> Mount | None:
        return self.mounts[i] if 0 <= i < len(self.mounts) else None

    def mount_by_source(self, pattern: str) -> Mount | None:
        """First mount whose host source path matches ``pattern`` (a glob)."""
        return _first_match(self.mounts, pattern, lambda m: m.source)

    def mount_by_dest(self, pattern: str) -> Mount | None:
        return _first_match(self.mounts, pattern, lambda m: m.dest)

    def to_json(self) -> dict[str, Any]:
        """The ``{"container": {...}}`` document Falco writes into captures (event-model.md 8.4)."""
        return {"container": {
            "type": TYPE_CODES.get(self.type, TYPE_CODES["custom"]), "id": self.id, "full_id": self.full_id,
            "name": self.name, "image": self.image, "imageid": self.image_id, "imagerepo": self.image_repo,
            "imagetag": self.image_tag, "imagedigest": self.image_digest, "privileged": self.privileged,
            "Mounts": [{"Source": m.source, "Destination": m.dest, "Mode": m.mode, "RW": m.rw,
                        "Propagation": m.propagation} for m in self.mounts],
            "labels": dict(self.labels), "ip": self.ip, "host_pid": self.host_pid,
            "host_network": self.host_network, "host_ipc": self.host_ipc,
            "pod_sandbox_id": self.pod_sandbox_id, "pod_sandbox_labels": dict(self.pod_sandbox_labels),
            "cni_json": self.cni_json, "created_time": self.created_ns // 1_000_000_000,
            "is_pod_sandbox": self.is_pod_sandbox, "User": self.user, "env": list(self.env),
        }}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ContainerInfo:
        """Read a capture's container JSON (asyncevent ``container`` or old container events)."""
        c = doc.get("container", doc)
        if not isinstance(c, Mapping):
            raise ValueError("container JSON: 'container' is not an object")
        t = c.get("type", TYPE_CODES["custom"])
        type_name = TYPE_NAMES.get(t, "custom") if isinstance(t, int) else str(t)
        mounts = []
        for m in c.get("Mounts") or c.get("mounts") or []:
            if isinstance(m, Mapping):
                mounts.append(Mount(str(m.get("Source", "")), str(m.get("Destination", "")),
                                    str(m.get("Mode", "")), bool(m.get("RW", True)),
                                    str(m.get("Propagation", ""))))
        full_id = str(c.get("full_id") or "")
        cid = str(c.get("id") or full_id[:SHORT_ID_LEN])
        return cls(
            id=cid, full_id=full_id, type=type_name, name=str(c.get("name") or ""),
            image=str(c.get("image") or ""), image_id=str(c.get("imageid") or ""),
            image_repo=str(c.get("imagerepo") or ""), image_tag=str(c.get("imagetag") or ""),
            image_digest=str(c.get("imagedigest") or ""), privileged=bool(c.get("privileged", False)),
            mounts=mounts, labels=_str_map(c.get("labels")), ip=str(c.get("ip") or ""),
            host_pid=bool(c.get("host_pid", False)), host_network=bool(c.get("host_network", False)),
            host_ipc=bool(c.get("host_ipc", False)), pod_sandbox_id=str(c.get("pod_sandbox_id") or ""),
            pod_sandbox_labels=_str_map(c.get("pod_sandbox_labels")), cni_json=str(c.get("cni_json") or ""),
            created_ns=int(c.get("created_time") or 0) * 1_000_000_000,
            is_pod_sandbox=bool(c.get("is_pod_sandbox", False)), user=str(c.get("User") or ""),
            env=[str(e) for e in c.get("env") or []],
        )


def _str_map(v: Any) -> dict[str, str]:
    return {str(k): str(x) for k, x in v.items()} if isinstance(v, Mapping) else {}


def _first_match(mounts: Iterable[Mount], pattern: str, key: Callable[[Mount], str]) -> Mount | None:
    glob = any(c in pattern for c in "*?[")
    for m in mounts:
        p = key(m)
        if (fnmatch.fnmatchcase(p, pattern) if glob else p == pattern):
            return m
    return None


def split_image(image: str) -> tuple[str, str, str]:
    """``repo[:tag][@digest]`` -> (repo, tag, digest); a ``:`` inside the registry host is not a tag."""
    digest = ""
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = ""
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        image, tag = image[:colon], image[colon + 1:]
    return image, tag, digest
