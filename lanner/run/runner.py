"""Event loops: one per enabled source (replay, live syscalls, plugin-style sources), all feeding one
engine and one output pipeline. Each loop: next event -> state -> rules -> alerts (to the pipeline's
bounded queue) -> post-rule state updates."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from lanner.config import Config
from lanner.core.errors import LannerError, RunError
from lanner.core.priority import Priority
from lanner.engine import Engine
from lanner.events.syscall import SyscallEvent
from lanner.outputs.pipeline import OutputPipeline
from lanner.run.args import Args
from lanner.run.capture import install as install_capture
from lanner.run.drops import DropMonitor, drop_checked
from lanner.run.live import run_live, scap_counters
from lanner.run.loop import LoopStats, merge_async, plugin_batches, replay_batches, run_loop, within
from lanner.run.userspace import check_userspace, run_userspace
from lanner.server.services import Services
from lanner.sources.api import SourceError
from lanner.sources.registry import PluginEntry, configured_plugins, plugin_versions
from lanner.sources.scap.reader import ScapReader
from lanner.state.containers import build_engines, parse_container_settings

log = logging.getLogger("lanner")

KINDS = ("modern_ebpf", "replay", "nodriver", "userspace")
# Falco 0.44 kinds (and older ones) lanner does not provide, with what to use instead.
NOT_PROVIDED = {
    "kmod": "lanner has no kernel module: its eBPF probe replaces Falco's kmod driver; use engine.kind=modern_ebpf",
    "ebpf": "the legacy eBPF probe is gone (Falco 0.44 removed it too); use engine.kind=modern_ebpf",
    "gvisor": "gVisor is not supported (Falco 0.44 removed it too); use engine.kind=modern_ebpf",
}


def engine_kind(config: Config) -> str:
    """``engine.kind``, checked when the configuration is read, as Falco does (so ``--dry-run`` and every
    informational flag refuse it too); a kind lanner does not provide says what replaces it."""
    kind = config.str("engine.kind", "modern_ebpf").strip().lower()
    where = f" ({config.files[0]})" if config.files else ""
    if kind in NOT_PROVIDED:
        raise RunError(f"Error reading config file{where}: engine.kind '{kind}' is not available in lanner: "
                       f"{NOT_PROVIDED[kind]}.")
    if kind not in KINDS:
        raise RunError(f"Error reading config file{where}: engine.kind '{kind}' is not a valid kind.")
    if kind == "replay" and not config.str("engine.replay.capture_file", ""):
        raise RunError("engine.kind is 'replay' but no engine.replay.capture_file specified.")
    return kind


def select_sources(kind: str, plugins: list[PluginEntry], args: Args) -> list[str]:
    """The event sources a run opens: the syscall source (unless ``nodriver``) and the configured plugins'
    sources, narrowed by ``--enable-source``/``--disable-source`` (Falco's checks and messages)."""
    if kind == "replay":
        return ["syscall"]
    available = [] if kind == "nodriver" else ["syscall"]
    available += [p.plugin.source for p in plugins if p.plugin is not None and p.plugin.source]
    enable = args.all("enable-source")
    disable = args.all("disable-source")
    if enable and disable:
        raise RunError("You can not mix --enable-source and --disable-source")
    for s in enable:
        if s not in available:
            raise RunError(f"Attempted enabling an unknown event source: {s}")
    for s in disable:
        if s not in available:
            raise RunError(f"Attempted disabling an unknown event source: {s}")
    chosen = [s for s in available if (not enable or s in enable) and s not in disable]
    if not chosen:
        raise RunError("Must enable at least one event source")
    log.info("Loaded event sources: %s", ", ".join(available))
    log.info("Enabled event sources: %s", ", ".join(chosen))
    return chosen


class Runner:
    def __init__(self, config: Config, engine: Engine, args: Args, stop: threading.Event,
                 duration_s: int | None = None, plugins: list[PluginEntry] | None = None) -> None:
        self.config = config
        self.engine = engine
        self.args = args
        self.stop = stop
        self.duration_ns = duration_s * 1_000_000_000 if duration_s else None
        self.exit_code = 0
        self.restart = False
        self.loops: list[LoopStats] = []
        self.webserver: Any = None
        self.kind = engine_kind(config)
        self.userspace_source: Any = None
        if self.kind == "userspace":
            check_userspace(config, args.command)
        elif args.command:
            raise RunError(f"a command after -- runs under the userspace driver: add -o engine.kind=userspace "
                           f"(engine.kind is '{self.kind}')")
        self.plugins = plugins if plugins is not None else configured_plugins(config)
        self.sources = self._select_sources()
        #: async events plugins send, per event source, until that source's loop takes them
        self.async_events: dict[str, deque[Any]] = {}
        self.pipeline: OutputPipeline | None = OutputPipeline.from_config(config, unbuffered=args.flag("unbuffered"))
        engine.on_alert = self.pipeline.submit
        self.capture = install_capture(config, engine)

    # --- sources -----------------------------------------------------------------------------
    def _select_sources(self) -> list[str]:
        return select_sources(self.kind, self.plugins, self.args)

    # --- run ---------------------------------------------------------------------------------
    def _start_async(self) -> None:
        """Plugins with the async events capability send into the loop of each enabled compatible source."""
        for e in self.plugins:
            p = e.plugin
            start = getattr(p, "start_async", None)
            if start is None:
                continue
            srcs = getattr(p, "async_sources", ()) or tuple(self.sources)
            for src in self.sources:
                if src in srcs:
                    q = self.async_events.setdefault(src, deque(maxlen=65536))
                    start(q.append)
                    break

    def run(self) -> None:
        self._start_async()
        self._start_webserver()
        threads = []
        errors: list[str] = []
        for src in self.sources:
            if src == "syscall":
                target = {"replay": self._replay_loop, "userspace": self._userspace_loop}.get(self.kind,
                                                                                            self._live_loop)
            else:
                target = self._plugin_loop
            stats = LoopStats(src)
            self.loops.append(stats)

            def body(t: Any = target, s: LoopStats = stats) -> None:
                try:
                    t(s)
                except (LannerError, OSError) as e:
                    errors.append(str(e))
                    self.exit_code = e.code if isinstance(e, LannerError) else 1
                    self.stop.set()
                except Exception as e:  # noqa: BLE001 - a source that dies stops lanner with the reason
                    log.debug("%s source stopped", s.source, exc_info=True)
                    errors.append(f"{s.source} source stopped: {type(e).__name__}: {e}")
                    self.exit_code = 1
                    self.stop.set()

            th = threading.Thread(target=body, name=f"source-{src}", daemon=True)
            th.start()
            threads.append(th)
        if self.webserver is not None:
            self.webserver.sources_opened()
        try:
            while any(t.is_alive() for t in threads):
                for t in threads:
                    t.join(0.2)
        except KeyboardInterrupt:
            self.stop.set()
            for t in threads:
                t.join(2)
        if errors:
            raise RunError("\n".join(errors), code=self.exit_code or 1)

    def _start_webserver(self) -> None:
        plugins = [p.plugin for p in self.plugins if p.plugin is not None]
        known = plugin_versions()
        versions = {p.name: p.plugin.version if p.plugin else known.get(p.name, "0.0.0") for p in self.plugins}
        self.webserver = Services(
            self.config, self.engine, sources=lambda: self.sources,
            events_by_source=lambda: {s.source: s.events for s in self.loops},
            scap_counters=self.scap_counters, pipeline=self.pipeline, plugins=plugins,
            plugin_versions=versions, webserver=self.kind != "replay")

    def scap_counters(self) -> dict[str, int]:
        if getattr(self, "live_source", None) is not None:
            return dict(scap_counters(self))
        for s in self.loops:
            if s.source == "syscall":
                return {"n_evts": s.driver_events or s.events, "n_drops": s.drops}
        return {}

    def _replay_loop(self, stats: LoopStats) -> None:
        path = self.config.str("engine.replay.capture_file")
        log.info("Replaying events from the capture file: %s", path)
        progress = _Progress(path) if sys.stderr.isatty() else None
        try:
            reader = ScapReader(path, progress=progress, on_section=self.engine.state.seed_from_capture)
        except (OSError, SourceError) as e:
            raise RunError(f"Could not open trace filename {path} for reading: {e}") from None
        self.engine.hostname = self.engine.hostname or ""
        # A capture has no driver counters (Falco reports 0 events, 0 drops): only simulate_drops fires.
        drops = DropMonitor(self.config, self.pipeline, ebpf=False)
        events: Iterable[SyscallEvent] = reader if self.duration_ns is None else within(reader, self.duration_ns)
        if drops.simulate:
            events = drop_checked(events, drops)
        try:
            batches = replay_batches(events)
            run_loop(self.engine, self.capture.wrap(batches) if self.capture else batches, self.stop, stats)
        finally:
            reader.close()
            if self.capture is not None:
                self.capture.close()
            if progress is not None:
                progress.done()
            stats.extra.update({"drop_detected": drops.detected, "drop_actions": drops.actions_taken})
        if drops.exit_requested:
            raise RunError("Drop manager internal error")

    def _live_loop(self, stats: LoopStats) -> None:
        log.info("Opening 'syscall' source with modern BPF probe.")
        self._start_container_lookups()
        run_live(self, stats)

    def _userspace_loop(self, stats: LoopStats) -> None:
        log.info("Opening 'syscall' source with the userspace driver (ptrace + seccomp).")
        run_userspace(self, stats)

    def forward_signal(self, sig: int) -> None:
        """A signal lanner received, passed on to the command it traces (userspace driver)."""
        src = self.userspace_source
        if src is not None:
            src.signal(sig)

    def _start_container_lookups(self) -> None:
        """Live capture asks the configured runtime sockets for container and pod metadata."""
        mgr = self.engine.containers
        if mgr is None or mgr.engines:
            return
        settings = parse_container_settings(self.config)
        mgr.engines = build_engines(settings)
        mgr.settings = settings
        mgr.start()
        threading.Thread(target=_prefetch_containers, args=(mgr,), name="lanner-ctr-prefetch", daemon=True).start()

    def _plugin_loop(self, stats: LoopStats) -> None:
        entry = next(p for p in self.plugins if p.plugin is not None and p.plugin.source == stats.source)
        log.info("Opening '%s' source with plugin '%s'", stats.source, entry.name)
        plugin = entry.plugin
        assert plugin is not None
        try:
            batches = merge_async(plugin_batches(plugin, entry.open_params), self.async_events.get(stats.source))
            run_loop(self.engine, batches, self.stop, stats)
        finally:
            plugin.close()

    # --- control -----------------------------------------------------------------------------
    def reopen_outputs(self) -> None:
        if self.pipeline is not None:
            self.pipeline.reopen()

    def request_restart(self, dry_run: Any) -> None:
        """Hot restart (SIGHUP, changed config or rules files): validate the new files with a dry run
        first; only if it succeeds stop the loops so the whole program re-runs in-process, otherwise keep
        going and raise Falco's internal alert."""
        def check() -> None:
            error = dry_run()
            if error is None:
                self.restart = True
                self.stop.set()
                return
            log.error("hot restart failure: %s", error)
            if self.pipeline is not None:
                self.pipeline.internal("Falco internal: hot restart failure", Priority.CRITICAL,
                                       f"Falco internal: hot restart failure: {error}")

        threading.Thread(target=check, name="restart-check", daemon=True).start()

    def watch_files(self, paths: list[str], on_change: Any, interval: float = 1.0) -> None:
        """``watch_config_files``: poll the config and rules files (and directories) for changes."""
        def snapshot() -> dict[str, int]:
            out = {}
            for p in paths:
                try:
                    out[p] = os.stat(p).st_mtime_ns
                    if os.path.isdir(p):
                        for n in os.listdir(p):
                            out[os.path.join(p, n)] = os.stat(os.path.join(p, n)).st_mtime_ns
                except OSError:
                    out[p] = -1
            return out

        def loop() -> None:
            last = snapshot()
            while not self.stop.wait(interval):
                now = snapshot()
                if now != last:
                    last = now
                    log.info("config or rules file changed, restarting...")
                    on_change()

        threading.Thread(target=loop, name="file-watch", daemon=True).start()

    def teardown(self) -> None:
        if self.webserver is not None:
            self.webserver.stop()
            self.webserver = None
        verbose = self.args.flag("verbose")
        for s in self.loops:
            if verbose:
                if s.source == "syscall" and self.kind != "replay":
                    sys.stderr.write(f"Driver Events:{s.driver_events}\nDriver Drops:{s.drops}\n")
                    if "drops_rule" in s.extra:
                        x = s.extra
                        sys.stderr.write(f"Driver Drops by kind: rule events {x['drops_rule']}, state-only events "
                                         f"{x['drops_state']} (shed under overload {x['kernel_shed']}); filtered "
                                         f"in the kernel (no rule or state needs them) {x['kernel_filtered']}\n")
                prefix = "" if self.kind == "replay" else f"({s.source}) "
                eps = s.events / s.cpu_s if s.cpu_s > 0 else 0.0
                sys.stderr.write(f"{prefix}Elapsed time: {s.cpu_s:.3f}, Captured Events: {s.events}, "
                                 f"{eps:.2f} eps\n")
            if s.source == "syscall":
                sys.stderr.write("Syscall event drop monitoring:\n"
                                 f"   - event drop detected: {s.extra.get('drop_detected', 0)} occurrences\n"
                                 f"   - num times actions taken: {s.extra.get('drop_actions', 0)}\n")
        if self.engine.containers is not None and self.engine.containers.engines:
            self.engine.containers.stop()
        if self.pipeline is not None:
            self.pipeline.close()
            self.pipeline = None


def _prefetch_containers(mgr: Any) -> None:
    """Queue look-ups for the containers already running, as Falco's container plugin lists them at start:
    a shell opened later in a long-lived container must not be reported without its metadata."""
    for e in list(mgr.engines):
        lister = getattr(e, "list_ids", None)
        if lister is None:
            continue
        try:
            ids = lister()
        except Exception as ex:  # noqa: BLE001 - a broken runtime is a warning, never fatal
            log.warning("container engine %s (%s): listing running containers failed: %s", e.name, e.socket, ex)
            continue
        for cid in ids:
            mgr.lookup(cid)


def progress_text(name: str, done: int, total: int | None) -> str:
    """``Replaying <file>: 42.0% (12 of 29 MiB)``, or the MiB read when the size is unknown."""
    mib = f"{done >> 20} MiB" if total is None else f"{done >> 20} of {total >> 20} MiB"
    pct = f"{100 * done / total:5.1f}% " if total else ""
    return f"Replaying {name}: {pct}({mib})" if pct else f"Replaying {name}: {mib}"


class _Progress:
    """Replay progress on a terminal (stderr) in uncompressed bytes, from the first second, redrawn at
    most a few times a second."""

    def __init__(self, path: str) -> None:
        self.path = os.path.basename(path)
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.start < 1 or (now - self.last < 0.25 and (total is None or done < total)):
            return
        self.last = now
        sys.stderr.write("\r" + progress_text(self.path, done, total))
        sys.stderr.flush()
        self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
