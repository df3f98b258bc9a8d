"""Run lanner the way a user does — ``python -m lanner`` as a separate process — and watch what it prints.

:class:`LannerProcess` starts the CLI with JSON alerts on stdout and logs on stderr, collects alerts on a
reader thread, waits for live capture to be attached (the probe's BPF programs show up among the
process's file descriptors) and, on :meth:`stop`, sends SIGTERM and checks that every BPF program and
map the process held is gone afterwards. Nothing here imports lanner's internals: the tests observe the
program from outside.
"""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, require_root, require_tool

PYTHON = sys.executable
PACKAGED_CONFIG = ROOT / "lanner" / "data" / "lanner.yaml"
PROBE = ROOT / "lanner" / "sources" / "ebpf" / "probe.bpf.o"


def require_live() -> None:
    """Skip unless live capture can run here: root, kernel BTF, bpftool, and a built probe."""
    require_root()
    require_tool("bpftool")
    if not Path("/sys/kernel/btf/vmlinux").exists():
        pytest.skip("live capture needs kernel BTF (/sys/kernel/btf/vmlinux)")
    if not PROBE.exists():
        p = subprocess.run([PYTHON, "-m", "lanner.sources.ebpf.build"], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
        if p.returncode != 0 or not PROBE.exists():
            # root, BTF and bpftool are here: a probe that does not build is a failure, not a skip
            pytest.fail(f"eBPF probe not built and building it failed: {p.stderr.strip()[-400:]}")


def user_config(tmp: Path, **overrides: Any) -> Path:
    """The packaged default configuration, as a user would copy it, with JSON output, no webserver
    (other lanner instances on the machine may hold port 8765), no config.d and ``overrides`` merged in."""
    data = yaml.safe_load(PACKAGED_CONFIG.read_text())
    data.pop("config_files", None)
    data["json_output"] = True
    data["webserver"] = dict(data.get("webserver") or {}, enabled=False)
    data.update(overrides)
    path = tmp / "lanner.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bpf_ids(pid: int) -> tuple[set[int], set[int]]:
    """BPF program and map ids held by ``pid``'s file descriptors (from /proc/<pid>/fdinfo)."""
    progs: set[int] = set()
    maps: set[int] = set()
    d = f"/proc/{pid}/fdinfo"
    try:
        names = os.listdir(d)
    except OSError:
        return progs, maps
    for n in names:
        try:
            with open(f"{d}/{n}") as f:
                text = f.read()
        except OSError:
            continue
        for line in text.splitlines():
            k, _, v = line.partition(":")
            if k == "prog_id":
                progs.add(int(v))
            elif k == "map_id":
                maps.add(int(v))
    return progs, maps


def bpf_object_exists(kind: str, obj_id: int) -> bool:
    p = subprocess.run(["bpftool", kind, "show", "id", str(obj_id)], capture_output=True, timeout=10)
    return p.returncode == 0


class LannerProcess:
    """``python -m lanner <args>`` as a child process, alerts (JSON lines on stdout) collected."""

    def __init__(self, args: Iterable[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.args = [PYTHON, "-m", "lanner", *args]
        self.log_path = log_path
        with open(log_path, "wb") as log:     # the child keeps its own descriptor
            self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=subprocess.PIPE, stderr=log,
                                         stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        self.alerts: list[dict] = []
        self.other_lines: list[str] = []
        self._new = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.bpf_progs: set[int] = set()
        self.bpf_maps: set[int] = set()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            if not line:
                continue
            with self._new:
                try:
                    doc = json.loads(line)
                except ValueError:
                    self.other_lines.append(line)
                else:
                    if isinstance(doc, dict) and "rule" in doc:
                        self.alerts.append(doc)
                    else:
                        self.other_lines.append(line)
                self._new.notify_all()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def describe(self) -> str:
        return (f"command: {' '.join(self.args)}\nexit: {self.proc.poll()}\nstderr tail:\n{self.log()[-3000:]}"
                f"\nalerts so far ({len(self.alerts)}): {[a.get('rule') for a in self.alerts][:20]}")

    def wait_log(self, text: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in self.log():
                return True
            if self.proc.poll() is not None:
                return text in self.log()
            time.sleep(0.1)
        return False

    def wait_live(self, timeout: float = 60.0) -> None:
        """Block until the probe is attached (its BPF programs appear among our fds) and /proc is seeded."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError("lanner exited before live capture started\n" + self.describe())
            progs, maps = bpf_ids(self.proc.pid)
            if progs:
                self.bpf_progs |= progs
                self.bpf_maps |= maps
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"no BPF program attached within {timeout}s\n" + self.describe())
        # /proc seeding follows the attach; with -v it is logged. Events meanwhile wait in the ring.
        self.wait_log("live: seeded", max(1.0, end - time.monotonic()))
        progs, maps = bpf_ids(self.proc.pid)
        self.bpf_progs |= progs
        self.bpf_maps |= maps

    def wait_alert(self, pred: Callable[[dict], bool], timeout: float) -> dict | None:
        end = time.monotonic() + timeout
        with self._new:
            while True:
                for a in self.alerts:
                    if pred(a):
                        return a
                left = end - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return None
                self._new.wait(min(left, 0.2))

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait for exit; returns the exit code (SIGKILL and an AssertionError on a hang)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(f"lanner did not exit within {timeout}s of SIGTERM\n" + self.describe()) from None
        self._reader.join(5)
        return rc

    def leftover_bpf(self, timeout: float = 5.0) -> list[str]:
        """BPF programs/maps this process held that still exist after it exited (maps are freed lazily)."""
        end = time.monotonic() + timeout
        while True:
            left = [f"prog {i}" for i in sorted(self.bpf_progs) if bpf_object_exists("prog", i)]
            left += [f"map {i}" for i in sorted(self.bpf_maps) if bpf_object_exists("map", i)]
            if not left or time.monotonic() > end:
                return left
            time.sleep(0.25)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def run_in_pty(argv: list[str], env: dict[str, str] | None = None, timeout: float = 30.0) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as stdin/stdout/stderr (what ``docker exec -it`` needs);
    returns (exit code, what it printed)."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    finally:
        os.close(slave)
    out = bytearray()
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError:      # EIO: the other side closed
                    chunk = b""
                if chunk:
                    out += chunk
                    continue
                if p.poll() is not None:
                    break
            elif p.poll() is not None:
                break
        else:
            p.kill()
        rc = p.wait(5)
    finally:
        os.close(master)
    return rc, out.decode(errors="replace")
