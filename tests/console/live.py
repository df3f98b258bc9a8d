"""A live lanner agent feeding two consoles at once — its own (``webui.enabled``, on the webserver) and a
standalone ``lanner console`` (via ``http_output``) — plus the scenario that makes it raise alerts."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT
from tests.e2e.harness import LannerProcess, free_port, user_config

SHADOW_RULE = "Console test shadow read"
HOSTNAME_RULE = "Console test hostname read"
RULES = f"""
- rule: {SHADOW_RULE}
  desc: A process read /etc/shadow (console test rule).
  condition: evt.type in (open, openat, openat2) and evt.is_open_read = true and fd.name = /etc/shadow
  output: shadow read (proc.name=%proc.name fd.name=%fd.name container.id=%container.id user=%user.name)
  priority: WARNING
  tags: [filesystem, console_test]
- rule: {HOSTNAME_RULE}
  desc: cat read /etc/hostname (console test rule).
  condition: evt.type in (open, openat, openat2) and fd.name = /etc/hostname and proc.name = cat
  output: hostname read (proc.name=%proc.name fd.name=%fd.name container.id=%container.id)
  priority: NOTICE
  tags: [console_test]
"""


def http(url: str, token: str | None = None, data: bytes | None = None, timeout: float = 10) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_http(url: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            http(url, timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout}s")


class Console:
    """``lanner console`` as a child process."""

    def __init__(self, tmp: Path, store: str, token: str, rules: Path | None = None, port: int = 0,
                 extra: tuple[str, ...] = ()) -> None:
        self.port = port or free_port()
        self.token = token
        self.log = tmp / f"console-{self.port}.log"
        args = [sys.executable, "-m", "lanner", "console", "--port", str(self.port), "--store", store,
                "--token", token, *extra]
        if rules is not None:
            args += ["-r", str(rules)]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, cwd=ROOT, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        try:
            wait_http(self.url + "/healthz")
        except AssertionError:
            self.stop()
            raise AssertionError("console did not start:\n" + self.log.read_text()) from None

    def api(self, path: str) -> dict:
        st, body = http(f"{self.url}/ui/api/{path}", self.token)
        assert st == 200, (st, body)
        return json.loads(body)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(20)


@dataclass
class LiveSetup:
    agent: LannerProcess
    console: Console
    agent_ui: str          # http://127.0.0.1:<webserver port>/ui
    token: str
    rules: Path


def start(tmp: Path) -> LiveSetup:
    token = secrets.token_hex(16)
    rules = tmp / "console_rules.yaml"
    rules.write_text(RULES)
    console = Console(tmp, str(tmp / "standalone.db"), token, rules)
    wport = free_port()
    cfg = user_config(tmp, webserver={"enabled": True, "listen_address": "127.0.0.1", "listen_port": wport,
                                      "threadiness": 4},
                      webui={"enabled": True, "token": token, "store": str(tmp / "agent.db")},
                      http_output={"enabled": True, "url": f"{console.url}/?token={token}"},
                      stdout_output={"enabled": True})
    agent = LannerProcess(["-c", str(cfg), "-r", str(rules), "-v"], tmp / "agent.log")
    try:
        agent.wait_live()
    except AssertionError:
        console.stop()
        agent.kill()
        raise
    return LiveSetup(agent, console, f"http://127.0.0.1:{wport}/ui", token, rules)


def in_fake_container(script: str) -> tuple[str, subprocess.CompletedProcess]:
    """Run ``script`` in a process placed in a Docker-style cgroup (``/docker/<id>``): what lanner sees of a
    container without starting a container engine. Returns the 12-character container id."""
    cid = secrets.token_hex(32)
    made = []
    roots = [f"/sys/fs/cgroup/{ctl}" for ctl in ("pids", "memory", "cpu")]
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():           # cgroup v2 only
        roots = ["/sys/fs/cgroup"]
    for root in roots:
        d = Path(f"{root}/docker/{cid}")
        try:
            d.mkdir(parents=True)
            made.append(d)
        except OSError:
            continue
    if not made:
        return "", subprocess.CompletedProcess([], 1)
    moves = " ".join(f"echo $$ > {d}/cgroup.procs;" for d in made)
    p = subprocess.run(["sh", "-c", f"{moves} {script}"], capture_output=True, timeout=30)
    for d in made:
        for _ in range(50):
            try:
                d.rmdir()
                break
            except OSError:
                time.sleep(0.05)
    return cid[:12], p


def cleanup_cgroups() -> None:
    for root in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup"):
        d = Path(f"{root}/docker")
        if d.is_dir():
            try:
                os.rmdir(d)
            except OSError:
                pass
