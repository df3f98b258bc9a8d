"""Container id from a thread's cgroup paths (event-model 8.1).

The container plugin scans the thread's cgroups in order and tries, for each non-empty path, the
matchers of the enabled engines (podman, docker, cri, containerd by default); the first id found wins.
No id means the host (``container.id = host``). Results are cached per path because every clone and
execve recomputes the id and the same few paths repeat endlessly.

One deliberate exception: paths under ``/process_api/`` are the sandbox that runs lanner itself
(every process of the machine sits in one); Falco's containerd matcher would turn them into a bogus
id, so they are treated as the host.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_HEX = frozenset("0123456789abcdefABCDEF")
_HOST_PREFIXES = ("/process_api/",)
_NAME_RE = re.compile(r"/([A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*)/")

_PODMAN = (("/libpod-", ".scope"), ("/libpod-", ".scope/container"), ("/libpod-", ""),
           ("/libpod-payload-", ".scope"), ("/libpod-payload-", ".scope/container"), ("/libpod-payload-", ""))
_DOCKER = (("/", ""), ("/docker-", ".scope"))
_CRI = (("/", ""), ("/crio-", ""), ("/cri-containerd-", ".scope"), ("/crio-", ".scope"),
        (":cri-containerd:", ""), ("/docker-", ".scope"), ("/nerdctl-", ".scope"))

DEFAULT_ENGINES = ("podman", "docker", "cri", "containerd")


def _span(path: str, prefix: str, suffix: str) -> str | None:
    start = path.rfind(prefix)
    if start < 0:
        return None
    start += len(prefix)
    if suffix:
        end = path.rfind(suffix)
        if end < start:
            return None
    else:
        end = len(path)
    return path[start:end]


def _hex64(path: str, pairs: tuple[tuple[str, str], ...]) -> str | None:
    for prefix, suffix in pairs:
        s = _span(path, prefix, suffix)
        if s is not None and len(s) == 64 and all(c in _HEX for c in s):
            return s[:12]
    return None


def _containerd(path: str) -> str | None:
    m = _NAME_RE.match(path)
    if m is None:
        return None
    s = path[m.end():]
    if not s or "/" in s:
        return None
    if len(s) == 64 and all(c in _HEX for c in s):
        return s[:12]
    if path.endswith((".service", ".slice", ".scope")) or len(s) > 64:
        return None
    return s[:12]


def _lxc(path: str) -> str | None:
    for prefix in ("/lxc/", "/lxc.payload/", "/lxc.payload."):
        i = path.find(prefix)
        if i >= 0:
            rest = path[i + len(prefix):]
            cid = rest.split("/", 1)[0]
            return cid or None
    return None


_MATCHERS = {
    "podman": lambda p: _hex64(p, _PODMAN),
    "docker": lambda p: _hex64(p, _DOCKER),
    "cri": lambda p: _hex64(p, _CRI),
    "containerd": _containerd,
    "lxc": _lxc,
}


class ContainerIdResolver:
    """Maps cgroup lists to container ids with a per-path cache (bounded)."""

    def __init__(self, engines: Iterable[str] = DEFAULT_ENGINES, cache_size: int = 4096) -> None:
        unknown = [e for e in engines if e not in _MATCHERS]
        if unknown:
            raise ValueError(f"unknown container engine(s) for cgroup matching: {', '.join(unknown)}")
        self._matchers = [_MATCHERS[e] for e in engines]
        self._cache: dict[str, str] = {}
        self._cache_size = cache_size

    def id_for_path(self, path: str) -> str:
        """Container id (12 chars) for one cgroup path, or "" for none."""
        hit = self._cache.get(path)
        if hit is not None:
            return hit
        cid = ""
        if path and path != "/" and not path.startswith(_HOST_PREFIXES):
            for m in self._matchers:
                r = m(path)
                if r:
                    cid = r
                    break
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[path] = cid
        return cid

    def id_for(self, cgroups: Iterable[tuple[str, str]]) -> str:
        """Container id for a thread's (subsystem, path) list; "" = host."""
        for _subsys, path in cgroups:
            if path:
                cid = self.id_for_path(path)
                if cid:
                    return cid
        return ""

    def full_id_for(self, cgroups: Iterable[tuple[str, str]]) -> str:
        """The untruncated id (64 hex for docker/cri/podman), "" for host."""
        for _subsys, path in cgroups:
            cid = self.id_for_path(path) if path else ""
            if cid:
                i = path.rfind(cid)
                if i >= 0:
                    tail = path[i:]
                    j = 0
                    while j < len(tail) and j < 64 and tail[j] in _HEX:
                        j += 1
                    if j == 64:
                        return tail[:64]
                return cid
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
