"""``program_output``: feed alerts to a shell command's stdin.

Without ``keep_alive`` one process per alert (spawned, fed, waited for); with it one long-lived
process, respawned when it has died (before the next write, or on a broken pipe) and on SIGUSR1.
"""

from __future__ import annotations

import logging
import subprocess

from lanner.core.alert import Alert
from lanner.outputs.channels.base import Channel, ChannelError

log = logging.getLogger("lanner.outputs")


class ProgramChannel(Channel):
    name = "program"
    queue_capacity = 10000      # a program that stops reading must not grow memory without bound

    def __init__(self, program: str, *, keep_alive: bool = False, buffered: bool = False) -> None:
        if not program:
            raise ChannelError("program output enabled but no program in configuration block")
        self.program = program
        self.keep_alive = keep_alive
        self.buffered = buffered
        self._proc: subprocess.Popen[bytes] | None = None
        self.spawned = 0

    def _spawn(self) -> subprocess.Popen[bytes]:
        try:
            p = subprocess.Popen(["/bin/sh", "-c", self.program], stdin=subprocess.PIPE,
                                 bufsize=-1 if self.buffered else 0)
        except OSError as e:
            log.error("Failed to open program output: %s (error: %s)", self.program, e.strerror)
            raise ChannelError(f"Failed to open program output: {self.program} (error: {e.strerror})") from None
        self.spawned += 1
        return p

    def deliver(self, alert: Alert, msg: str) -> None:
        data = (msg + "\n").encode("utf-8", "replace")
        if not self.keep_alive:
            p = self._spawn()
            assert p.stdin is not None
            try:
                p.stdin.write(data)
                p.stdin.close()
            except BrokenPipeError:
                pass
            p.wait()
            return
        for attempt in (0, 1):
            if self._proc is not None and self._proc.poll() is not None:
                self._proc = None
            if self._proc is None:
                self._proc = self._spawn()
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(data)
                if not self.buffered:
                    self._proc.stdin.flush()
                return
            except (BrokenPipeError, ValueError, OSError):
                self._stop()
                if attempt:
                    raise ChannelError(f"program output {self.program!r} exited and could not be restarted") from None

    def _stop(self) -> None:
        p, self._proc = self._proc, None
        if p is None:
            return
        try:
            if p.stdin is not None:
                p.stdin.close()
        except OSError:
            pass
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def reopen(self) -> None:
        self._stop()

    def close(self) -> None:
        self._stop()
