"""``stdout_output``: one line per alert."""

from __future__ import annotations

import sys
from typing import TextIO

from lanner.core.alert import Alert
from lanner.outputs.channels.base import Channel


class StdoutChannel(Channel):
    name = "stdout"

    def __init__(self, *, buffered: bool = False, stream: TextIO | None = None) -> None:
        self.buffered = buffered
        self._stream = stream

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def deliver(self, alert: Alert, msg: str) -> None:
        s = self.stream
        s.write(msg + "\n")
        if not self.buffered:
            s.flush()

    def close(self) -> None:
        try:
            self.stream.flush()
        except (OSError, ValueError):
            pass
