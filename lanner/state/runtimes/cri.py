"""Kubernetes CRI client (``runtime.v1`` over gRPC on a unix socket): containerd's CRI plugin, CRI-O.

``inspect`` finds the container (``ListContainers`` filtered by id prefix), then asks
``ContainerStatus(verbose)`` and its ``PodSandboxStatus``, and maps them as Falco's container plugin does:
pod name/namespace/uid from the sandbox metadata (written into the ``io.kubernetes.pod.*`` labels),
pod labels from the sandbox, ip and host namespaces from the sandbox status, image repository/tag from
the image name and the digest from the image reference. An id that is a pod sandbox itself (the pause
process) gets a sandbox entry. The messages come from ``cri_api.proto`` (a runtime.v1 subset).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

import grpc

from lanner.state.container_info import SHORT_ID_LEN, ContainerInfo, Mount, split_image
from lanner.state.runtimes import cri_api_pb2 as pb

log = logging.getLogger("lanner.containers.cri")

SERVICE = "/runtime.v1.RuntimeService/"
_PROPAGATION = {pb.PROPAGATION_PRIVATE: "private", pb.PROPAGATION_HOST_TO_CONTAINER: "rslave",
                pb.PROPAGATION_BIDIRECTIONAL: "rshared"}
_RPCS: dict[str, tuple[Any, Any]] = {
    "Version": (pb.VersionRequest, pb.VersionResponse),
    "ListContainers": (pb.ListContainersRequest, pb.ListContainersResponse),
    "ContainerStatus": (pb.ContainerStatusRequest, pb.ContainerStatusResponse),
    "PodSandboxStatus": (pb.PodSandboxStatusRequest, pb.PodSandboxStatusResponse),
    "ListPodSandbox": (pb.ListPodSandboxRequest, pb.ListPodSandboxResponse),
    "RunPodSandbox": (pb.RunPodSandboxRequest, pb.RunPodSandboxResponse),
    "StopPodSandbox": (pb.StopPodSandboxRequest, pb.StopPodSandboxResponse),
    "RemovePodSandbox": (pb.RemovePodSandboxRequest, pb.RemovePodSandboxResponse),
    "CreateContainer": (pb.CreateContainerRequest, pb.CreateContainerResponse),
    "StartContainer": (pb.StartContainerRequest, pb.StartContainerResponse),
    "StopContainer": (pb.StopContainerRequest, pb.StopContainerResponse),
    "RemoveContainer": (pb.RemoveContainerRequest, pb.RemoveContainerResponse),
}


def runtime_type(runtime_name: str) -> str:
    return runtime_name if runtime_name in ("containerd", "cri-o") else "cri"


class CriClient:
    """Thin typed wrapper over the RuntimeService RPCs lanner needs."""

    def __init__(self, socket_path: str, timeout: float = 10.0) -> None:
        self.socket = socket_path
        self.timeout = timeout
        self._channel = grpc.insecure_channel("unix://" + socket_path)
        self._calls: dict[str, Callable[..., Any]] = {}

    def call(self, method: str, request: Any, timeout: float | None = None) -> Any:
        fn = self._calls.get(method)
        if fn is None:
            req_t, resp_t = _RPCS[method]
            fn = self._calls[method] = self._channel.unary_unary(
                SERVICE + method, request_serializer=req_t.SerializeToString,
                response_deserializer=resp_t.FromString)
        return fn(request, timeout=self.timeout if timeout is None else timeout)

    def close(self) -> None:
        self._channel.close()


def _json_info(info: Any) -> dict[str, Any]:
    raw = info.get("info") if info else None
    if not raw:
        return {}
    try:
        v = json.loads(raw)
    except ValueError:
        return {}
    return v if isinstance(v, dict) else {}


def _dig(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def _privileged(info: dict[str, Any]) -> bool:
    for path in (("runtimeSpec", "linux", "security_context", "privileged"),
                 ("config", "linux", "security_context", "privileged"), ("privileged",)):
        v = _dig(info, *path)
        if isinstance(v, bool):
            return v
    return False


def _cni_json(sandbox_info: dict[str, Any]) -> str:
    ifaces = _dig(sandbox_info, "cniResult", "Interfaces") or _dig(sandbox_info, "cniResult", "interfaces")
    if isinstance(ifaces, dict):
        ifaces = [dict(v, name=k) if isinstance(v, dict) else v for k, v in ifaces.items()]
    if isinstance(ifaces, list):
        kept = [i for i in ifaces if not (isinstance(i, dict) and i.get("name") in ("lo", "veth"))]
        return json.dumps(kept, separators=(",", ":"))[:4096] if kept else ""
    ann = _dig(sandbox_info, "runtimeSpec", "annotations", "io.kubernetes.cri-o.CNIResult")
    return str(ann)[:4096] if ann else ""


class CriEngine:
    """One CRI socket (containerd or CRI-O)."""

    def __init__(self, socket_path: str, *, timeout: float = 10.0, label_max_len: int = 100) -> None:
        self.socket = socket_path
        self.timeout = timeout
        self.label_max_len = label_max_len
        self.client = CriClient(socket_path, timeout)
        self._type: str | None = None
        self._lock = threading.Lock()
        self.name = "cri"

    @property
    def type(self) -> str:
        if self._type is None:
            v = self.client.call("Version", pb.VersionRequest(version="v1"))
            with self._lock:
                self._type = runtime_type(v.runtime_name)
                self.name = self._type
        return self._type

    def available(self) -> bool:
        try:
            return bool(self.type)
        except grpc.RpcError as e:
            log.debug("%s: Version failed: %s", self.socket, e)
            return False

    def list_ids(self) -> list[str]:
        ids = [c.id for c in self.client.call("ListContainers", pb.ListContainersRequest()).containers]
        ids += [s.id for s in self.client.call("ListPodSandbox", pb.ListPodSandboxRequest()).items]
        return ids

    def inspect(self, container_id: str) -> ContainerInfo | None:
        kind = self.type
        found = self.client.call("ListContainers", pb.ListContainersRequest(
            filter=pb.ContainerFilter(id=container_id))).containers
        if found:
            st = self.client.call("ContainerStatus", pb.ContainerStatusRequest(
                container_id=found[0].id, verbose=True))
            sb = None
            if found[0].pod_sandbox_id:
                try:
                    sb = self.client.call("PodSandboxStatus", pb.PodSandboxStatusRequest(
                        pod_sandbox_id=found[0].pod_sandbox_id, verbose=True))
                except grpc.RpcError as e:
                    log.debug("%s: PodSandboxStatus %s: %s", self.socket, found[0].pod_sandbox_id, e)
            return self.to_info(kind, st, sb)
        sandboxes = self.client.call("ListPodSandbox", pb.ListPodSandboxRequest(
            filter=pb.PodSandboxFilter(id=container_id))).items
        if sandboxes:
            sb = self.client.call("PodSandboxStatus", pb.PodSandboxStatusRequest(
                pod_sandbox_id=sandboxes[0].id, verbose=True))
            return self.sandbox_info(kind, sb)
        return None

    def _labels(self, m: Any) -> dict[str, str]:
        return {k: v for k, v in m.items() if len(v) <= self.label_max_len}

    def to_info(self, kind: str, st: Any, sb: Any) -> ContainerInfo:
        s = st.status
        info = _json_info(st.info)
        sbs = sb.status if sb is not None and sb.HasField("status") else None
        sb_info = _json_info(sb.info) if sb is not None else {}
        labels = self._labels(s.labels)
        sandbox_id = sbs.id if sbs is not None else ""
        labels["io.kubernetes.sandbox.id"] = sandbox_id or s.id
        if sbs is not None and sbs.HasField("metadata"):
            labels["io.kubernetes.pod.uid"] = sbs.metadata.uid
            labels["io.kubernetes.pod.name"] = sbs.metadata.name
            labels["io.kubernetes.pod.namespace"] = sbs.metadata.namespace
        image_name = s.image.image
        ref = s.image_ref
        digest = ""
        tag_from_image = False
        at = ref.find("sha256:")
        if at == 0:
            digest = ref
        elif at > 0 and ref[at - 1] == "@":
            image_name, digest, tag_from_image = ref[:at - 1], ref[at:], True
        if not image_name or image_name.startswith("sha256"):
            ann = _dig(info, "runtimeSpec", "annotations") or {}
            for k in ("io.kubernetes.cri.image-name", "io.kubernetes.cri-o.Image", "io.kubernetes.cri-o.ImageName"):
                if isinstance(ann, dict) and ann.get(k):
                    image_name, tag_from_image = str(ann[k]), False
                    break
        repo, tag, _ = split_image(image_name)
        if tag_from_image:
            _, t, _ = split_image(s.image.image)
            if t:
                tag = t
                image_name += ":" + t
        cfg_image = str(_dig(info, "config", "image", "image") or "")
        image_id = cfg_image[7:] if cfg_image.startswith("sha256:") else ""
        if not image_id:
            image_id = s.image_id.split(":", 1)[1] if s.image_id.startswith("sha256:") else s.image_id
        if not image_id and ref.startswith("sha256:"):
            image_id = ref[7:]
        ns = sbs.linux.namespaces.options if sbs is not None else None
        envs = _dig(info, "config", "envs") or []
        return ContainerInfo(
            id=s.id[:SHORT_ID_LEN], full_id=s.id, type=kind, name=s.metadata.name, image=image_name,
            image_id=image_id, image_repo=repo, image_tag=tag, image_digest=digest,
            privileged=_privileged(info),
            mounts=[Mount(m.host_path, m.container_path, "", not m.readonly,
                          _PROPAGATION.get(m.propagation, "unknown")) for m in s.mounts],
            labels=labels, ip=sbs.network.ip if sbs is not None else "",
            host_pid=ns is not None and ns.pid == pb.NODE,
            host_network=ns is not None and ns.network == pb.NODE,
            host_ipc=ns is not None and ns.ipc == pb.NODE,
            pod_sandbox_id=sandbox_id or s.id,
            pod_sandbox_labels=self._labels(sbs.labels) if sbs is not None else {},
            cni_json=_cni_json(sb_info), created_ns=s.created_at,
            env=[f"{e['key']}={e.get('value') or ''}" for e in (envs if isinstance(envs, list) else [])
                 if isinstance(e, dict) and isinstance(e.get("key"), str)],
        )

    def sandbox_info(self, kind: str, sb: Any) -> ContainerInfo:
        s = sb.status
        ns = s.linux.namespaces.options
        labels = self._labels(s.labels)
        labels.update({"io.kubernetes.sandbox.id": s.id, "io.kubernetes.pod.uid": s.metadata.uid,
                       "io.kubernetes.pod.name": s.metadata.name,
                       "io.kubernetes.pod.namespace": s.metadata.namespace})
        return ContainerInfo(
            id=s.id[:SHORT_ID_LEN], full_id=s.id, type=kind, name=s.metadata.name, labels=labels,
            ip=s.network.ip, host_pid=ns.pid == pb.NODE, host_network=ns.network == pb.NODE,
            host_ipc=ns.ipc == pb.NODE, pod_sandbox_id=s.id, pod_sandbox_labels=self._labels(s.labels),
            cni_json=_cni_json(_json_info(sb.info)), created_ns=s.created_at, is_pod_sandbox=True,
        )

    def close(self) -> None:
        self.client.close()
