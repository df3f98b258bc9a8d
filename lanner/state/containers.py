"""Container context: which container a process runs in, and what its runtime says about it.

Two halves, as in Falco's container plugin:

* *Identity* is synchronous and cheap: a thread's cgroup paths name its container
  (``lanner.state.cgroups``, event-model.md 8.1, kept on ``ThreadInfo.container_id``; "" = host).
* *Metadata* (name, image, labels, mounts, pod ...) comes from the runtime over its socket, which can be
  slow or dead. :class:`ContainerManager` answers :meth:`ContainerManager.lookup` from its cache at once
  and queues a miss for a worker thread; fields are missing (``<NA>``) until the answer arrives, exactly as
  Falco's plugin leaves them while its look-up is pending. Entries are dropped when the runtime reports
  the container gone (docker/podman ``/events``) or, for runtimes without an event stream, when a periodic
  listing no longer shows them.
"""

from __future__ import annotations

import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from lanner.core.errors import LannerError
from lanner.events.base import PluginEvent
from lanner.events.syscall import SyscallEvent
from lanner.state.container_info import HOST, SHORT_ID_LEN, ContainerInfo

log = logging.getLogger("lanner.containers")

ENGINES = ("podman", "docker", "cri", "containerd", "lxc", "libvirt_lxc", "bpm")
DEFAULT_ENABLED = frozenset({"podman", "docker", "cri", "containerd"})


# ---------------------------------------------------------------------------------------------------
# Configuration: Falco container plugin ``init_config`` / lanner ``container_engines``

DEFAULT_SOCKETS: dict[str, tuple[str, ...]] = {
    "docker": ("/var/run/docker.sock",),
    "podman": ("/run/podman/podman.sock",),
    "containerd": ("/run/host-containerd/containerd.sock",),
    "cri": ("/run/containerd/containerd.sock", "/run/crio/crio.sock", "/run/k3s/containerd/containerd.sock",
            "/run/host-containerd/containerd.sock"),
}


@dataclass
class EngineSettings:
    enabled: bool
    sockets: tuple[str, ...] = ()


@dataclass
class ContainerSettings:
    engines: dict[str, EngineSettings]
    engine_timeout: float = 10.0      # seconds a runtime call may take
    label_max_len: int = 100
    refresh_interval: float = 30.0    # seconds between liveness sweeps of runtimes without events

    def cgroup_engines(self) -> tuple[str, ...]:
        """Enabled engines in matcher order, for ``lanner.state.cgroups.ContainerIdResolver``."""
        return tuple(n for n in ENGINES if self.engines.get(n) and self.engines[n].enabled)


class ContainerConfigError(LannerError, ValueError):
    """A malformed container engine configuration; the message names the key."""


def _default_podman_sockets() -> tuple[str, ...]:
    socks = list(DEFAULT_SOCKETS["podman"])
    try:
        for uid in sorted(os.listdir("/run/user")):
            socks.append(f"/run/user/{uid}/podman/podman.sock")
    except OSError:
        pass
    return tuple(socks)


def parse_container_settings(cfg: Any = None) -> ContainerSettings:
    """Engine settings from a falco.yaml-style document (``lanner.config.Config`` or a plain dict).

    ``plugins: [{name: container, init_config: {engines: {...}}}]`` wins over lanner's own
    ``container_engines: {docker: {enabled, sockets}, ...}``; engines not named keep the defaults (docker,
    podman, containerd and cri enabled on their default sockets; lxc, libvirt_lxc, bpm disabled).
    """
    data = getattr(cfg, "data", cfg) or {}
    if not isinstance(data, Mapping):
        raise ContainerConfigError("configuration is not a mapping")
    init: Mapping[str, Any] = {}
    where = "container_engines"
    for i, p in enumerate(data.get("plugins") or []):
        if isinstance(p, Mapping) and p.get("name") == "container":
            ic = p.get("init_config") or {}
            if isinstance(ic, str):
                import json
                try:
                    ic = json.loads(ic) if ic.strip() else {}
                except ValueError as e:
                    raise ContainerConfigError(f"plugins[{i}].init_config: not valid JSON: {e}") from None
            if not isinstance(ic, Mapping):
                raise ContainerConfigError(f"plugins[{i}].init_config: expected a mapping")
            init = ic
            where = f"plugins[{i}].init_config.engines"
            break
    engines_cfg = init.get("engines") if init else data.get("container_engines")
    if engines_cfg is None:
        engines_cfg = {}
    if not isinstance(engines_cfg, Mapping):
        raise ContainerConfigError(f"{where}: expected a mapping of engine name -> settings")
    engines: dict[str, EngineSettings] = {}
    for name in ENGINES:
        default_sockets = _default_podman_sockets() if name == "podman" else DEFAULT_SOCKETS.get(name, ())
        ecfg = engines_cfg.get(name)
        if ecfg is None:
            engines[name] = EngineSettings(name in DEFAULT_ENABLED, default_sockets)
            continue
        if not isinstance(ecfg, Mapping):
            raise ContainerConfigError(f"{where}.{name}: expected a mapping with 'enabled' and 'sockets'")
        enabled = ecfg.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ContainerConfigError(f"{where}.{name}.enabled: expected true or false, got {enabled!r}")
        sockets = ecfg.get("sockets", default_sockets)
        if isinstance(sockets, str):
            sockets = [sockets]
        if not isinstance(sockets, (list, tuple)) or not all(isinstance(s, str) for s in sockets):
            raise ContainerConfigError(f"{where}.{name}.sockets: expected a list of socket paths")
        engines[name] = EngineSettings(enabled, tuple(sockets))
    unknown = set(engines_cfg) - set(ENGINES)
    if unknown:
        log.warning("%s: unknown container engine(s) ignored: %s", where, ", ".join(sorted(unknown)))

    def num(key: str, default: float) -> float:
        v = init.get(key, default) if init else default
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ContainerConfigError(f"{where.rsplit('.', 1)[0]}.{key}: expected a number, got {v!r}")
        return float(v)

    return ContainerSettings(engines, engine_timeout=num("engine_timeout", 10.0) or 3600.0,
                             label_max_len=int(num("label_max_len", 100)))


# ---------------------------------------------------------------------------------------------------
# Runtime engines and the asynchronous manager


class Engine(Protocol):
    """One runtime socket. ``inspect`` may block (the manager calls it on a worker thread)."""

    name: str
    socket: str

    def available(self) -> bool: ...

    def inspect(self, container_id: str) -> ContainerInfo | None: ...


def build_engines(settings: ContainerSettings) -> list[Engine]:
    """Clients for every enabled engine socket that exists; a missing socket is a logged warning."""
    from lanner.state.runtimes.docker import DockerEngine

    engines: list[Engine] = []
    for name in ("docker", "podman", "cri", "containerd"):
        es = settings.engines.get(name)
        if es is None or not es.enabled:
            continue
        for sock in es.sockets:
            if not os.path.exists(sock):
                log.debug("container engine %s: socket %s absent, skipped", name, sock)
                continue
            if name in ("docker", "podman"):
                engines.append(DockerEngine(sock, kind=name, timeout=settings.engine_timeout,
                                            label_max_len=settings.label_max_len))
            else:
                try:
                    from lanner.state.runtimes.cri import CriEngine
                except ImportError as e:  # grpcio/protobuf missing
                    log.warning("container engine %s: gRPC support unavailable (%s); %s skipped", name, e, sock)
                    continue
                engines.append(CriEngine(sock, timeout=settings.engine_timeout,
                                         label_max_len=settings.label_max_len))
    return engines


@dataclass
class _Pending:
    attempts: int = 0
    next_try: float = 0.0


class ContainerManager:
    """Cache of container metadata, filled off the hot path.

    :meth:`lookup` never blocks: a hit returns the cached :class:`ContainerInfo`; a miss returns None and
    (once) queues the id for a worker thread that asks each engine in turn. A container no engine knows is
    retried with back-off (its runtime may not have registered it yet), at most ``max_attempts`` times.
    """

    def __init__(self, engines: Iterable[Engine] = (), *, workers: int = 1, max_attempts: int = 5,
                 retry_base: float = 0.25, refresh_interval: float = 30.0, watch_events: bool = True) -> None:
        self.engines = list(engines)
        self._cache: dict[str, ContainerInfo] = {}
        self._by_full: dict[str, str] = {}
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listeners: list[Callable[[str, ContainerInfo | None], None]] = []
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.refresh_interval = refresh_interval
        self.watch_events = watch_events
        self.n_workers = max(1, workers)
        self.settings: ContainerSettings | None = None
        self.stats = {"lookups": 0, "hits": 0, "queued": 0, "resolved": 0, "failed": 0, "evicted": 0}

    @classmethod
    def from_config(cls, cfg: Any = None, **kw: Any) -> ContainerManager:
        settings = parse_container_settings(cfg)
        engines = build_engines(settings)
        for e in list(engines):
            if not e.available():
                log.warning("container engine %s: socket %s does not answer; container metadata from it "
                            "will be missing until it does", e.name, e.socket)
        kw.setdefault("refresh_interval", settings.refresh_interval)
        m = cls(engines, **kw)
        m.settings = settings
        return m

    # -- hot path ------------------------------------------------------------------------------------

    def lookup(self, container_id: str) -> ContainerInfo | None:
        """Cached metadata for a 12-char id (or a full id), or None while unknown; never blocks."""
        info = self._cache.get(container_id)
        if info is not None:
            return info
        if not container_id or container_id == HOST:
            return None
        short = self._by_full.get(container_id, container_id[:SHORT_ID_LEN])
        info = self._cache.get(short)
        if info is not None:
            return info
        if short not in self._pending:
            with self._lock:
                if short not in self._pending and short not in self._cache:
                    self._pending[short] = _Pending()
                    self.stats["queued"] += 1
                    self._queue.put(short)
        return None

    def get(self, container_id: str) -> ContainerInfo | None:
        """Cached metadata without queuing a look-up (for the pod sandbox of a known container)."""
        return self._cache.get(container_id[:SHORT_ID_LEN]) if container_id else None

    # -- state updates -------------------------------------------------------------------------------

    def add(self, info: ContainerInfo) -> None:
        """Record metadata (from a worker, a capture's container event, or a runtime listing)."""
        with self._lock:
            self._cache[info.id] = info
            if info.full_id:
                self._by_full[info.full_id] = info.id
            self._pending.pop(info.id, None)
        for cb in self._listeners:
            cb(info.id, info)

    def remove(self, container_id: str) -> None:
        short = container_id[:SHORT_ID_LEN]
        with self._lock:
            info = self._cache.pop(short, None)
            self._pending.pop(short, None)
            if info is not None and info.full_id:
                self._by_full.pop(info.full_id, None)
        if info is not None:
            self.stats["evicted"] += 1
            for cb in self._listeners:
                cb(short, None)

    def add_listener(self, cb: Callable[[str, ContainerInfo | None], None]) -> None:
        """``cb(id, info)`` on every add, ``cb(id, None)`` on eviction (e.g. to emit async events)."""
        self._listeners.append(cb)

    def known(self) -> dict[str, ContainerInfo]:
        return dict(self._cache)

    def pending(self) -> list[str]:
        return list(self._pending)

    # -- worker side ---------------------------------------------------------------------------------

    def start(self) -> ContainerManager:
        """Start the worker threads (look-ups, runtime event streams, liveness sweep)."""
        if self._threads:
            return self
        self._stop.clear()
        for i in range(self.n_workers):
            self._spawn(self._work, f"lanner-ctr-lookup-{i}")
        if self.watch_events:
            for e in self.engines:
                if hasattr(e, "watch"):
                    self._spawn(functools.partial(self._watch, e), f"lanner-ctr-events-{e.name}")
        if self.refresh_interval > 0:
            self._spawn(self._sweep, "lanner-ctr-sweep")
        return self

    def _spawn(self, fn: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=fn, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        for _ in range(self.n_workers):
            self._queue.put(None)
        for e in self.engines:
            close = getattr(e, "close", None)
            if close:
                try:
                    close()
                except Exception:  # noqa: BLE001 - best effort on shutdown
                    pass
        for t in self._threads:
            t.join(timeout)
        self._threads = []

    def __enter__(self) -> ContainerManager:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, container_id: str, timeout: float) -> ContainerInfo | None:
        """Block until metadata for ``container_id`` is cached (tests and tools, never the hot path)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self.lookup(container_id)
            if info is not None:
                return info
            time.sleep(0.01)
        return self._cache.get(container_id[:SHORT_ID_LEN])

    def resolve_now(self, container_id: str) -> ContainerInfo | None:
        """Ask the engines synchronously (used by the worker; callable from tools)."""
        for e in self.engines:
            try:
                info = e.inspect(container_id)
            except Exception as ex:  # noqa: BLE001 - a broken runtime must never kill the worker
                log.warning("container engine %s (%s): look-up of %s failed: %s", e.name, e.socket,
                            container_id, ex)
                continue
            if info is not None:
                return info
        return None

    def _work(self) -> None:
        while not self._stop.is_set():
            cid = self._queue.get()
            if cid is None:
                return
            p = self._pending.get(cid)
            if p is None:
                continue
            delay = p.next_try - time.monotonic()
            if delay > 0:
                # Not due yet: wait, but stay responsive to stop().
                if self._stop.wait(min(delay, 0.5)):
                    return
                self._queue.put(cid)
                continue
            info = self.resolve_now(cid)
            if info is not None:
                self.stats["resolved"] += 1
                self.add(info)
                continue
            p.attempts += 1
            if p.attempts >= self.max_attempts:
                self.stats["failed"] += 1
                # Keep the entry so lookup() does not re-queue it on every event; a sweep forgets it.
                p.next_try = float("inf")
                continue
            p.next_try = time.monotonic() + self.retry_base * (2 ** (p.attempts - 1))
            self._queue.put(cid)

    def _watch(self, engine: Any) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                engine.watch(self._stop, on_start=self._on_runtime_start, on_remove=self.remove)
                backoff = 0.5
            except Exception as ex:  # noqa: BLE001
                log.debug("container engine %s: event stream ended: %s", engine.name, ex)
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, 30.0)

    def _on_runtime_start(self, container_id: str) -> None:
        # A container started: look it up ahead of its first event.
        self.lookup(container_id)

    def _sweep(self) -> None:
        while not self._stop.wait(self.refresh_interval):
            self.sweep()

    def sweep(self) -> None:
        """Evict cached containers the runtimes no longer list; forget failed look-ups."""
        if not self.engines:
            return
        alive: set[str] = set()
        complete = True
        for e in self.engines:
            lister = getattr(e, "list_ids", None)
            if lister is None:
                complete = False
                continue
            try:
                alive.update(i[:SHORT_ID_LEN] for i in lister())
            except Exception:  # noqa: BLE001
                complete = False
        with self._lock:
            for cid, p in list(self._pending.items()):
                if p.next_try == float("inf"):
                    del self._pending[cid]
        if not complete:
            return
        for cid in list(self._cache):
            if cid not in alive:
                self.remove(cid)


def apply_container_event(ev: SyscallEvent | PluginEvent, manager: ContainerManager) -> bool:
    """Feed a capture's container metadata event (container 324 JSON, or asyncevent 402 named
    ``container``/``container_removed``) to the manager. True if the event was one of those."""
    import json
    if not isinstance(ev, SyscallEvent):
        return False
    if ev.type == 324:
        data = ev.params[0] if ev.params else None
        removed = False
    elif ev.type == 402 and len(ev.params) >= 3 and ev.params[1] in ("container", "container_removed"):
        data = ev.params[2]
        removed = ev.params[1] == "container_removed"
    else:
        return False
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace").rstrip("\x00")
    try:
        doc = json.loads(data) if data else None
        info = ContainerInfo.from_json(doc) if isinstance(doc, Mapping) else None
    except ValueError as e:
        log.warning("capture container event %d: invalid JSON: %s", ev.num, e)
        return True
    if info is not None:
        if removed:
            manager.remove(info.id)
        else:
            manager.add(info)
    return True
