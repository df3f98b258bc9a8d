"""Docker Engine API client (also podman's Docker-compatible API) over a unix socket.

``inspect`` maps ``GET /containers/{id}/json`` (+ ``GET /images/{image}/json`` for repository, tag and
digest) onto :class:`ContainerInfo` the way Falco's container plugin does: name without the leading
``/``, image = ``Config.Image``, image id = the hex of ``Image`` (``sha256:<hex>``), repository/tag/digest
from the image's ``RepoDigests``/``RepoTags``, labels longer than ``label_max_len`` dropped, host
namespaces from ``HostConfig.{Pid,Ipc,Network}Mode == "host"``. ``watch`` follows ``GET /events`` so a
destroyed container leaves the cache.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import urllib.parse
from collections.abc import Callable
from datetime import datetime
from typing import Any

from lanner.core.errors import HttpError
from lanner.state.container_info import SHORT_ID_LEN, ContainerInfo, Mount, split_image
from lanner.state.runtimes.unixhttp import get_json, stream_json_lines

log = logging.getLogger("lanner.containers.docker")

K8S_SANDBOX_LABEL = "io.kubernetes.sandbox.id"


def parse_rfc3339_ns(s: str) -> int:
    """``2026-11-28T17:57:40.814355145Z`` -> ns since the epoch (0 if unparsable)."""
    if not s or s.startswith("0001-"):
        return 0
    try:
        main, _, rest = s.partition(".")
        frac = ""
        tz = "Z"
        if rest:
            i = 0
            while i < len(rest) and rest[i].isdigit():
                i += 1
            frac, tz = rest[:i], rest[i:] or "Z"
        else:
            for sep in ("Z", "+", "-"):
                j = main.rfind(sep)
                if j > 10:
                    main, tz = main[:j], main[j:]
                    break
        tz = "+00:00" if tz == "Z" else tz
        dt = datetime.fromisoformat(main + tz)
        return int(dt.timestamp()) * 1_000_000_000 + int((frac + "000000000")[:9])
    except ValueError:
        return 0


def _obj(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def image_repo_tag_digest(image_doc: dict[str, Any] | None, config_image: str) -> tuple[str, str, str]:
    """Repository, tag and registry digest of an image, preferring the image's own records."""
    repo = tag = digest = ""
    if isinstance(image_doc, dict):
        digests = []
        for rd in _list(image_doc.get("RepoDigests")):
            if not isinstance(rd, str) or rd.count("@") != 1:
                continue
            r, d = rd.split("@")
            repo = repo or r
            digests.append(d)
            if r == repo:
                digest = d
                break
        if not digest and len(digests) == 1:
            digest = digests[0]
        for rt in _list(image_doc.get("RepoTags")):
            if not isinstance(rt, str):
                continue
            r, t, _ = split_image(rt)
            if not t:
                continue
            repo = repo or r
            if r == repo:
                tag = t
                break
    if not repo:
        r, t, d = split_image(config_image)
        if not config_image.startswith("sha256:"):
            repo, tag, digest = r, tag or t, digest or d
    return repo, tag, digest


class DockerEngine:
    """One Docker (or podman) API socket."""

    def __init__(self, socket_path: str, *, kind: str = "docker", timeout: float = 10.0,
                 label_max_len: int = 100) -> None:
        self.name = kind
        self.socket = socket_path
        self.timeout = timeout
        self.label_max_len = label_max_len
        self._event_conn: Any = None
        self._lock = threading.Lock()

    def _get(self, url: str, timeout: float | None = None) -> Any:
        return get_json(self.socket, url, self.timeout if timeout is None else timeout)

    def available(self) -> bool:
        try:
            from lanner.state.runtimes.unixhttp import UnixHTTPConnection
            conn = UnixHTTPConnection(self.socket, min(self.timeout, 2.0))
            try:
                conn.request("GET", "/_ping")
                return conn.getresponse().status == 200
            finally:
                conn.close()
        except OSError:
            return False

    def list_ids(self) -> list[str]:
        return [c["Id"] for c in self._get("/containers/json?all=1") if isinstance(c, dict) and "Id" in c]

    def inspect(self, container_id: str) -> ContainerInfo | None:
        try:
            doc = self._get(f"/containers/{urllib.parse.quote(container_id)}/json")
        except HttpError as e:
            if e.status == 404:
                return None
            raise
        return self.to_info(doc)

    def to_info(self, doc: dict[str, Any]) -> ContainerInfo:
        """A container from an inspect document; members of the wrong JSON type count as absent."""
        if not isinstance(doc, dict):
            raise HttpError(f"{self.socket}: container inspect answer is not an object", status=200)
        cfg, host, net = _obj(doc.get("Config")), _obj(doc.get("HostConfig")), _obj(doc.get("NetworkSettings"))
        full_id = str(doc.get("Id", ""))
        name = str(doc.get("Name", "")).lstrip("/")
        config_image = str(cfg.get("Image") or "")
        image_ref = str(doc.get("Image") or "")
        image_doc = None
        if image_ref:
            try:
                image_doc = self._get(f"/images/{urllib.parse.quote(image_ref)}/json")
            except (HttpError, OSError) as e:
                log.debug("%s: image %s: %s", self.socket, image_ref, e)
        repo, tag, digest = image_repo_tag_digest(image_doc, config_image)
        image_id = image_ref.split(":", 1)[1] if ("/" not in image_ref and ":" in image_ref) else ""
        labels = {str(k): str(v) for k, v in _obj(cfg.get("Labels")).items()
                  if len(str(v)) <= self.label_max_len}
        ip = str(net.get("IPAddress") or "")
        if not ip:
            for n in _obj(net.get("Networks")).values():
                if isinstance(n, dict) and n.get("IPAddress"):
                    ip = str(n["IPAddress"])
                    break
        netmode = str(host.get("NetworkMode") or "")
        if not ip and netmode.startswith("container:"):
            try:
                other = self._get(f"/containers/{urllib.parse.quote(netmode[10:])}/json")
                ip = str(_obj(_obj(other).get("NetworkSettings")).get("IPAddress") or "")
            except (HttpError, OSError):
                pass
        mounts = [Mount(str(m.get("Source", "")), str(m.get("Destination", "")), str(m.get("Mode", "")),
                        bool(m.get("RW", True)), str(m.get("Propagation", "")))
                  for m in _list(doc.get("Mounts")) if isinstance(m, dict)]
        is_sandbox = "k8s_POD" in name or labels.get("io.kubernetes.docker.type") == "podsandbox"
        sandbox_id = labels.get(K8S_SANDBOX_LABEL, full_id if is_sandbox else "")
        return ContainerInfo(
            id=full_id[:SHORT_ID_LEN], full_id=full_id, type=self.name, name=name, image=config_image,
            image_id=image_id, image_repo=repo, image_tag=tag, image_digest=digest,
            privileged=bool(host.get("Privileged", False)), mounts=mounts, labels=labels, ip=ip,
            host_pid=host.get("PidMode") == "host", host_network=netmode == "host",
            host_ipc=host.get("IpcMode") == "host", pod_sandbox_id=sandbox_id,
            pod_sandbox_labels=dict(labels) if is_sandbox else {},
            created_ns=parse_rfc3339_ns(str(doc.get("Created") or "")), is_pod_sandbox=is_sandbox,
            user=str(cfg.get("User") or ""), env=[str(e) for e in _list(cfg.get("Env"))],
        )

    def watch(self, stop: threading.Event, *, on_start: Callable[[str], None],
              on_remove: Callable[[str], None]) -> None:
        """Follow the container event stream until ``stop`` is set or the stream ends."""
        flt = json.dumps({"type": ["container"], "event": ["start", "destroy"]})
        conn, lines = stream_json_lines(self.socket, "/events?filters=" + urllib.parse.quote(flt),
                                        self.timeout, None)
        with self._lock:
            self._event_conn = conn
        try:
            for ev in lines:
                if stop.is_set():
                    return
                if not isinstance(ev, dict):
                    continue
                action = ev.get("Action") or ev.get("status")
                cid = _obj(ev.get("Actor")).get("ID") or ev.get("id")
                if not isinstance(cid, str):
                    continue
                if not cid:
                    continue
                if action == "destroy":
                    on_remove(cid)
                elif action == "start":
                    on_start(cid)
        finally:
            with self._lock:
                self._event_conn = None
            conn.close()

    def close(self) -> None:
        with self._lock:
            conn = self._event_conn
        if conn is not None and conn.sock is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
