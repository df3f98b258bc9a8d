"""Container id from a thread's cgroup paths (event-model 8.1), by container runtime layouts only.

A cgroup path denotes a container only when one of its components is laid out the way a container
runtime names the cgroups it creates; everything else is the host, whatever prefix a machine puts its
own processes under. The layouts, innermost component first (a container nested in another is the
inner one):

- ``docker``: ``/docker/<id>`` (cgroupfs driver, v1 and v2), ``docker-<id>.scope`` (systemd driver,
  rootful or rootless), a bare ``<id>`` below any parent (``--cgroup-parent``, ECS);
- ``cri`` (containerd and CRI-O under Kubernetes): ``/kubepods/<qos>/pod<uid>/<id>``,
  ``cri-containerd-<id>.scope``, ``crio-<id>`` and ``crio-<id>.scope`` (conmon's ``crio-conmon-<id>``
  is the host), ``<pod slice>:cri-containerd:<id>``, ``docker-<id>.scope``, ``nerdctl-<id>.scope``;
- ``podman``: ``libpod-<id>.scope`` (optionally ``/container`` below it), ``libpod-<id>`` (cgroupfs),
  ``libpod-payload-<id>``; conmon's ``libpod-conmon-<id>.scope`` is the host;
- ``containerd`` (ctr, nerdctl on cgroupfs): ``/<namespace>/<id>`` for the namespaces containerd
  clients use (``default``, ``k8s.io``, ``moby``, ``buildkit``), the id being any container name;
- ``lxc``: ``/lxc/<name>``, ``/lxc.payload/<name>``, ``/lxc.payload.<name>`` (``lxc.monitor.*`` is the
  host); ``libvirt_lxc``: ``<name>.libvirt-lxc``, ``machine-lxc\\x2d<name>.scope``; ``bpm``: ``bpm-<id>``.

``<id>`` is 64 hex digits unless said otherwise; the short id is its first 12. Falco's container
plugin matches more loosely (any ``/<name>/<name>`` is a containerd container to it, so a host cgroup
such as ``/system/agent`` becomes a bogus id); here a path outside these layouts is always the host.
Results are cached per path because every clone and execve recomputes the id and the same few paths
repeat endlessly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_SCOPE = re.compile(r"(docker|cri-containerd|crio|libpod|libpod-payload|nerdctl)-([0-9a-fA-F]{64})(\.scope)?")
_SCOPE_ENGINES = {"docker": ("docker", "cri"), "cri-containerd": ("cri",), "crio": ("cri",),
                  "libpod": ("podman",), "libpod-payload": ("podman",), "nerdctl": ("cri", "containerd")}
_SCOPE_ONLY = {"docker", "cri-containerd", "nerdctl"}          # these exist only as systemd scopes
_CRI_COLON = re.compile(r"[^:]+\.slice:cri-containerd:([0-9a-fA-F]{64})")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_UNIT_SUFFIXES = (".service", ".slice", ".scope", ".mount", ".socket")
CONTAINERD_NAMESPACES = frozenset({"default", "k8s.io", "moby", "buildkit"})

DEFAULT_ENGINES = ("podman", "docker", "cri", "containerd")
KNOWN_ENGINES = ("podman", "docker", "cri", "containerd", "lxc", "libvirt_lxc", "bpm")


def _component(parts: list[str], i: int, on: frozenset[str]) -> tuple[str, int]:
    """(full container id, length of its short form; 0 = whole) for component ``i`` of a path, or
    ("", 0) when it is no container's."""
    c = parts[i]
    m = _SCOPE.fullmatch(c)
    if m is not None:
        kind, cid, scope = m.groups()
        if (scope or kind not in _SCOPE_ONLY) and on.intersection(_SCOPE_ENGINES[kind]):
            return cid, 12
        return "", 0
    if _HEX64.fullmatch(c):
        return (c, 12) if on & {"docker", "cri", "containerd"} else ("", 0)
    m = _CRI_COLON.fullmatch(c)
    if m is not None:
        return (m.group(1), 12) if "cri" in on else ("", 0)
    if ("containerd" in on and i == 1 and len(parts) == 2 and parts[0] in CONTAINERD_NAMESPACES
            and _NAME.fullmatch(c) and not c.endswith(_UNIT_SUFFIXES)):
        return c, 12
    if "lxc" in on:
        if i == 1 and parts[0] in ("lxc", "lxc.payload"):
            return c, 0
        if i == 0 and c.startswith("lxc.payload.") and len(c) > 12:
            return c[12:], 0
    if "libvirt_lxc" in on:
        if c.endswith(".libvirt-lxc") and len(c) > 12:
            return c[:-12], 0
        if c.startswith("machine-lxc\\x2d") and c.endswith(".scope") and len(c) > 21:
            return c[15:-6], 0
    if "bpm" in on and c.startswith("bpm-") and len(c) > 4:
        return c[4:], 0
    return "", 0


class ContainerIdResolver:
    """Maps cgroup lists to container ids with a per-path cache (bounded)."""

    def __init__(self, engines: Iterable[str] = DEFAULT_ENGINES, cache_size: int = 4096) -> None:
        engines = tuple(engines)
        unknown = [e for e in engines if e not in KNOWN_ENGINES]
        if unknown:
            raise ValueError(f"unknown container engine(s) for cgroup matching: {', '.join(unknown)}")
        self._on = frozenset(engines)
        self._cache: dict[str, tuple[str, str]] = {}
        self._cache_size = cache_size

    def _match(self, path: str) -> tuple[str, str]:
        """(short id, full id) of the innermost container component of ``path``; ("", "") = host."""
        hit = self._cache.get(path)
        if hit is not None:
            return hit
        out = ("", "")
        parts = [p for p in path.split("/") if p]
        for i in range(len(parts) - 1, -1, -1):
            cid, short = _component(parts, i, self._on)
            if cid:
                out = (cid[:short] if short else cid, cid)
                break
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[path] = out
        return out

    def id_for_path(self, path: str) -> str:
        """Container id (12 chars; an LXC name whole) for one cgroup path, or "" for the host."""
        return self._match(path)[0]

    def id_for(self, cgroups: Iterable[tuple[str, str]]) -> str:
        """Container id for a thread's (subsystem, path) list; "" = host."""
        for _subsys, path in cgroups:
            if path:
                cid = self._match(path)[0]
                if cid:
                    return cid
        return ""

    def full_id_for(self, cgroups: Iterable[tuple[str, str]]) -> str:
        """The untruncated id (64 hex for docker/cri/podman), "" for host."""
        for _subsys, path in cgroups:
            if path:
                short, full = self._match(path)
                if short:
                    return full if _HEX64.fullmatch(full) else short
        return ""


_SUBSYS_ALIASES = {"perf": "perf_event", "mem": "memory", "io": "blkio"}


def parse_cgroups(entries: Iterable[str]) -> list[tuple[str, str]]:
    """``subsys=path`` strings (execve/clone param, process-list block) -> (subsys, path) pairs."""
    out = []
    for e in entries:
        if not e:
            continue
        subsys, sep, path = e.partition("=")
        if not sep:
            continue
        if subsys.endswith("_cgroup"):
            subsys = subsys[:-7]
        subsys = _SUBSYS_ALIASES.get(subsys, subsys)
        out.append((subsys, path))
    return out
