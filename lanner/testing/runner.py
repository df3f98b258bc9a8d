"""Run test cases: feed each case's input through an engine loaded with its rules and judge the alerts.

Cases are grouped by rules set. Capture and audit cases get a fresh engine (and state) each; live
cases of a group share one live capture, started once. A case whose input cannot run here (no root
for the probe, no Docker engine, a missing capture) is *skipped* with the reason, never passed.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lanner.config import Config, engine_defaults
from lanner.core.alert import Alert
from lanner.events.base import PluginEvent
from lanner.events.syscall import SyscallEvent
from lanner.run.loop import LoopStats, plugin_batches, replay_batches, run_loop
from lanner.sources.k8saudit.plugin import K8sAuditPlugin
from lanner.sources.scap.reader import ScapReader
from lanner.testing.cases import Case
from lanner.testing.pipeline import Pipeline, build_pipeline

log = logging.getLogger("lanner")

PASS, FAIL, SKIP, ERROR, PENDING = "pass", "fail", "skip", "error", "pending"


@dataclass
class Fired:
    """One alert a case's input raised: rule, message and the field values the case asks about."""

    rule: str
    message: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class CaseResult:
    case: Case
    status: str
    problems: list[str] = field(default_factory=list)
    fired: list[Fired] = field(default_factory=list)
    note: str = ""
    seconds: float = 0.0
    exit_status: int | None = None    # live scenarios: the script's exit status (-1: timed out)


@dataclass
class RulesInfo:
    """The rules a rules set defines (for coverage), or why it failed to load."""

    paths: tuple[str, ...]
    rules: list[str] = field(default_factory=list)
    error: str = ""


def default_rules_paths() -> tuple[str, ...]:
    from importlib import resources

    from lanner.rules.paths import expand_rules_paths
    d = str(resources.files("lanner").joinpath("rules", "default"))
    return tuple(expand_rules_paths([d], strict=False))


def text(v: Any) -> str:
    """A field value as the text a case compares with."""
    if v is None:
        return "<NA>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple, set, frozenset)):
        return ",".join(text(x) for x in v)
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return str(v)


def value_matches(actual: Any, want: str) -> bool:
    t = text(actual)
    if t == want or fnmatch.fnmatchcase(t, want):
        return True
    try:
        return ipaddress.ip_address(t) == ipaddress.ip_address(want)
    except ValueError:
        return False


def scenario_problem(case: Case, status: int) -> str:
    """Why a live scenario did not run as the case says ('' when it did): its case is then an error,
    since alerts that stayed away from a script that failed prove nothing."""
    if status == -1:
        return f"scenario did not run to the end: timed out after {case.timeout:g}s"
    if case.exit_expected(status):
        return ""
    want = " or ".join(str(c) for c in case.exit_codes or ())
    return (f"scenario did not run as written: exit status {status}, expected {want} "
            "(set input.expect_exit when a failing script is the point)")


def judge(case: Case, fired: list[Fired], known_rules: set[str]) -> list[str]:
    """Problems with the alerts of one case (empty = pass)."""
    problems = []
    for name in [e.rule for e in case.expect] + list(case.forbid):
        if name not in known_rules and name != "*":
            problems.append(f"rule {name!r} is not defined in the loaded rules")
    for e in case.expect:
        of_rule = [f for f in fired if f.rule == e.rule]
        good = [f for f in of_rule if all(value_matches(f.values.get(k), v) for k, v in e.fields.items())]
        if len(good) < e.count:
            want = f"{e.rule!r}" + (f" with {e.fields}" if e.fields else "")
            if of_rule:
                seen = "; ".join(str({k: text(f.values.get(k)) for k in e.fields}) for f in of_rule[:3])
                problems.append(f"expected {want} x{e.count}: it fired {len(of_rule)} time(s) but with {seen}")
            else:
                others = sorted({f.rule for f in fired})
                problems.append(f"expected {want}: not raised" + (f" (raised: {', '.join(others)})" if others else ""))
    if "*" in case.forbid and fired:
        problems.append(f"no alert may fire, but {len(fired)} did: "
                        + "; ".join(f"{f.rule}: {f.message}" for f in fired[:3]))
    for name in case.forbid:
        bad = [f for f in fired if f.rule == name]
        if bad:
            problems.append(f"forbidden rule {name!r} fired {len(bad)} time(s): {bad[0].message}")
    return problems


class CaseRunner:
    """Runs cases; ``on_result`` sees each result as it is produced."""

    def __init__(self, config: Config | None = None, docker_host: str | None = None,
                 on_result: Callable[[CaseResult], None] | None = None, settle: float = 0.5) -> None:
        self.config = config or engine_defaults()
        self.docker_host = docker_host
        self.on_result = on_result
        self.settle = settle
        self.rules_info: dict[tuple[str, ...], RulesInfo] = {}
        self._docker: Any = None
        self._docker_error = ""
        self._containers: Any = None
        self._image = ""

    # ------------------------------------------------------------------ entry
    def run(self, cases: Iterable[Case]) -> list[CaseResult]:
        groups: dict[tuple[str, ...], list[Case]] = {}
        for c in cases:
            groups.setdefault(c.rules or default_rules_paths(), []).append(c)
        results: list[CaseResult] = []
        for paths, group in groups.items():
            results.extend(self._run_group(paths, group))
        return results

    def _emit(self, r: CaseResult) -> CaseResult:
        scenario_broken = r.exit_status is not None and bool(scenario_problem(r.case, r.exit_status))
        if r.case.pending and r.status in (FAIL, ERROR) and not scenario_broken:
            r.note = (f"pending: {r.case.pending}" + (f"; {r.note}" if r.note else ""))
            r.status = PENDING
        elif r.case.pending and r.status == PASS:
            r.note = f"passes now although marked pending ({r.case.pending}): remove 'pending'"
        if self.on_result is not None:
            self.on_result(r)
        return r

    def _pipeline(self, paths: tuple[str, ...], containers: Any = None) -> tuple[Pipeline | None, RulesInfo]:
        p = build_pipeline(self.config, containers)
        from lanner.rules.paths import RulesFileError, expand_rules_paths
        try:
            files = expand_rules_paths(list(paths), strict=True)
        except RulesFileError as e:
            return None, RulesInfo(paths, error=str(e))
        errors = p.load(files)
        info = RulesInfo(paths, [r.name for r in p.engine.loader.rules])
        if errors:
            info.error = "\n".join(errors)
            return None, info
        return p, info

    def _run_group(self, paths: tuple[str, ...], cases: list[Case]) -> list[CaseResult]:
        probe, info = self._pipeline(paths)
        self.rules_info[paths] = info
        if probe is None:
            return [self._emit(CaseResult(c, ERROR, [f"rules failed to load: {info.error}"])) for c in cases]
        known = set(info.rules)
        out = []
        for c in cases:
            if not c.live:
                out.append(self._emit(self._offline(c, paths, known)))
        live_cases = [c for c in cases if c.live]
        if live_cases:
            out.extend(self._live_group(paths, live_cases, known))
        return out

    # ------------------------------------------------------------------ capture / audit
    def _fields_of(self, cases: Iterable[Case]) -> tuple[str, ...]:
        names: dict[str, None] = {}
        for c in cases:
            for e in c.expect:
                for k in e.fields:
                    names.setdefault(k, None)
        return tuple(names)

    def _offline(self, case: Case, paths: tuple[str, ...], known: set[str]) -> CaseResult:
        t0 = time.monotonic()
        p, _ = self._pipeline(paths)
        assert p is not None
        names = self._fields_of([case])
        fired: list[Fired] = []
        stats = LoopStats(case.kind)

        def matched(a: Alert, ev: SyscallEvent | PluginEvent) -> None:
            fired.append(Fired(a.rule, a.message, p.values(a.source, names, ev)))
        p.engine.on_match = matched
        try:
            if case.kind == "capture":
                if not os.path.isfile(case.path):
                    return CaseResult(case, SKIP, note=f"capture file {case.path} not found")
                self._replay(p, case.path, stats)
            else:
                self._audit(p, case, stats)
        except Exception as e:  # noqa: BLE001 - a broken input is this case's error, not the run's
            return CaseResult(case, ERROR, [f"{case.kind} input failed: {e}"], fired,
                              seconds=time.monotonic() - t0)
        problems = judge(case, fired, known)
        return CaseResult(case, FAIL if problems else PASS, problems, fired, f"{stats.events} events",
                          time.monotonic() - t0)

    @staticmethod
    def _replay(p: Pipeline, path: str, stats: LoopStats) -> None:
        reader = ScapReader(path, on_section=p.state.seed_from_capture)
        try:
            run_loop(p.engine, replay_batches(reader), threading.Event(), stats)
        finally:
            reader.close()

    @staticmethod
    def _audit(p: Pipeline, case: Case, stats: LoopStats) -> None:
        errors: list[str] = []
        plugin = K8sAuditPlugin()
        plugin.init(None)
        plugin.on_error = errors.append  # type: ignore[method-assign,assignment]
        tmp = None
        path = case.path
        if case.audit_events is not None:
            fd, tmp = tempfile.mkstemp(prefix="lanner-test-audit-", suffix=".json")
            with os.fdopen(fd, "w") as f:
                for ev in case.audit_events:
                    f.write(json.dumps(ev) + "\n")
            path = tmp
        try:
            run_loop(p.engine, plugin_batches(plugin, path), threading.Event(), stats)
        finally:
            plugin.close()
            if tmp:
                os.unlink(tmp)
        if errors:
            raise ValueError("; ".join(errors))

    # ------------------------------------------------------------------ live
    def _live_group(self, paths: tuple[str, ...], cases: list[Case], known: set[str]) -> list[CaseResult]:
        from lanner.testing.live import LiveCapture, LiveUnavailable
        containers = self._container_manager() if any(c.kind == "container" for c in cases) else None
        p, _ = self._pipeline(paths, containers)
        assert p is not None
        try:
            cap = LiveCapture(p, self._fields_of(cases)).start()
        except LiveUnavailable as e:
            if containers is not None:
                containers.stop()
            return [self._emit(CaseResult(c, SKIP, note=f"skipped: live capture unavailable: {e}")) for c in cases]
        self._containers = containers
        out = []
        try:
            for c in cases:
                out.append(self._emit(self._live_case(cap, c, known)))
        finally:
            cap.stop()
            if containers is not None:
                containers.stop()
            self._containers = None
        return out

    def _container_manager(self) -> Any:
        """Container metadata from the Docker engine the scenarios use (None when unavailable)."""
        if self._docker_ready():
            return None
        host = self._docker.host
        if not host.startswith("unix://"):
            return None
        try:
            from lanner.state.containers import ContainerManager
            return ContainerManager.from_config({"container_engines": {
                "docker": {"enabled": True, "sockets": [host[len("unix://"):]]},
                "podman": {"enabled": False}, "containerd": {"enabled": False}, "cri": {"enabled": False}}}).start()
        except Exception as e:  # noqa: BLE001 - metadata is a bonus; scenarios run without it
            log.warning("container metadata unavailable: %s", e)
            return None

    def _docker_ready(self) -> str:
        """'' when container scenarios can run, else the reason they cannot."""
        if self._docker is None and not self._docker_error:
            from lanner.testing.container import DockerUnavailable, ensure_image, find_docker
            try:
                self._docker = find_docker(self.docker_host)
                self._image = ensure_image(self._docker)
            except DockerUnavailable as e:
                self._docker = None
                self._docker_error = str(e)
        return self._docker_error

    def _live_case(self, cap: Any, case: Case, known: set[str]) -> CaseResult:
        """Run a live scenario; one re-run when it failed while the probe was dropping events (a busy
        host), and the result says so."""
        r = self._live_once(cap, case, known)
        if r.status == FAIL and "events dropped" in r.note:
            first = r.note
            r = self._live_once(cap, case, known)
            r.note = f"re-run after a failure with dropped events ({first})" + (f"; {r.note}" if r.note else "")
        return r

    def _live_once(self, cap: Any, case: Case, known: set[str]) -> CaseResult:
        t0 = time.monotonic()
        if cap.errors:
            return CaseResult(case, ERROR, list(cap.errors))
        drops0 = cap.drops()
        if case.kind == "container":
            why = self._docker_ready()
            if why:
                return CaseResult(case, SKIP, note=f"skipped: container scenarios unavailable: {why}")
            status, output, scoped = self._run_container(cap, case)
        else:
            status, output, scoped = self._run_host(cap, case)
        fired = [Fired(s.alert.rule, s.alert.message, s.values) for s in scoped]
        broken = scenario_problem(case, status)
        problems = [broken] if broken else judge(case, fired, known)
        if cap.errors:
            broken = broken or cap.errors[0]
            problems += cap.errors
        note = f"scenario exit status {status}" if status else ""
        dropped = cap.drops() - drops0
        if dropped:
            note = (note + "; " if note else "") + f"{dropped} events dropped during the scenario"
        if problems and output.strip():
            note = (note + "; " if note else "") + "output: " + output.strip()[-400:]
        verdict = ERROR if broken else FAIL if problems else PASS
        return CaseResult(case, verdict, problems, fired, note, time.monotonic() - t0, status)

    def _run_host(self, cap: Any, case: Case) -> tuple[int, str, list[Any]]:
        tmp = tempfile.mkdtemp(prefix="lanner-test-")
        env = dict(os.environ, LANNER_TEST_DIR=tmp, HOME=os.environ.get("HOME", "/root"))
        mark = cap.mark()
        try:
            proc = subprocess.Popen(["/bin/sh", "-ec", case.script], cwd=tmp, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                out, _ = proc.communicate(timeout=case.timeout)
                status = proc.returncode
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                out, _ = proc.communicate()
                status = -1
            cap.drain(self.settle)
            return status, out.decode(errors="replace"), cap.since(mark, proc.pid, None)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _run_container(self, cap: Any, case: Case) -> tuple[int, str, list[Any]]:
        from lanner.testing.container import Throwaway
        with Throwaway(self._docker, case.image or self._image, case.container_options) as ctr:
            if case.as_command:
                mark = cap.mark()
                status, out = ctr.run_as_command(case.script, case.timeout)
            else:
                ctr.start()
                self._prefetch_metadata(ctr.id)
                mark = cap.mark()
                status, out = ctr.exec(case.script, case.tty, case.timeout)
            cap.drain(self.settle)
            return status, out, cap.since(mark, None, ctr.id)

    def _prefetch_metadata(self, container_id: str) -> None:
        mgr = self._containers
        if mgr is None or not container_id:
            return
        try:
            info = mgr.resolve_now(container_id[:12])
            if info is not None:
                mgr.add(info)
        except Exception as e:  # noqa: BLE001
            log.warning("container metadata look-up failed: %s", e)
