"""``file_output``: append each alert to a file, opened per alert or kept open (``keep_alive``).

Without ``keep_alive`` the file is closed after every alert so external log rotation needs nothing;
with it, SIGUSR1 (``reopen``) closes the file so the next alert opens the rotated path afresh. A file the
channel creates gets ``security.file_mode`` (default 0600), whatever the umask.
"""

from __future__ import annotations

from typing import IO

from lanner.core.alert import Alert
from lanner.filemodes import DEFAULT_FILE_MODE, open_append
from lanner.outputs.channels.base import Channel, ChannelError


class FileChannel(Channel):
    name = "file"

    def __init__(self, filename: str, *, keep_alive: bool = False, buffered: bool = False,
                 mode: int = DEFAULT_FILE_MODE) -> None:
        if not filename:
            raise ChannelError("file output enabled but no filename in configuration block")
        self.filename = filename
        self.keep_alive = keep_alive
        self.buffered = buffered
        self.mode = mode
        self._f: IO[str] | None = None

    def _open(self) -> IO[str]:
        try:
            # line buffering when unbuffered: one write per alert reaches the file at once
            return open_append(self.filename, self.mode, buffering=-1 if self.buffered else 1)
        except OSError as e:
            raise ChannelError(f"failed to open output file {self.filename}: {e.strerror}") from None

    def deliver(self, alert: Alert, msg: str) -> None:
        if self._f is None:
            self._f = self._open()
        try:
            self._f.write(msg + "\n")
        except OSError as e:
            self._close_file()
            raise ChannelError(f"failed to write output file {self.filename}: {e.strerror}") from None
        if not self.keep_alive:
            self._close_file()

    def _close_file(self) -> None:
        f, self._f = self._f, None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass

    def reopen(self) -> None:
        self._close_file()

    def close(self) -> None:
        self._close_file()
