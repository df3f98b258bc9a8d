"""Explicit modes for the files and sockets lanner creates, whatever the umask.

Alerts, metrics snapshots and the pidfile are created ``0600`` and the gRPC unix socket ``0660`` by
default (``security.file_mode`` / ``security.socket_mode``, octal strings, change them); a file that already
exists keeps its mode, so an operator's choice (or a rotated log's) is respected. Falco leaves these to the
umask, which makes alert files world-readable (0644) under the usual umask 022.
"""

from __future__ import annotations

import os
from typing import IO, Any

from lanner.core.errors import ConfigError

DEFAULT_FILE_MODE = 0o600
DEFAULT_SOCKET_MODE = 0o660


class ModeError(ConfigError, ValueError):
    """A configured mode is not an octal permission value."""


def parse_mode(value: Any, key: str, default: int) -> int:
    """``"0640"``/``"640"``/``0o640`` -> 0o640; ModeError naming the key otherwise."""
    if value is None or value == "":
        return default
    text = str(value).strip()
    try:
        mode = int(text, 8) if isinstance(value, str) else int(value)
        if not isinstance(value, str) and mode > 0o777 and set(text) <= set("01234567"):
            mode = int(text, 8)         # ``file_mode: 640`` (YAML decimal) meant as octal
    except ValueError:
        raise ModeError(f"key '{key}': {value!r} is not an octal file mode such as 0600") from None
    if not 0 <= mode <= 0o777:
        raise ModeError(f"key '{key}': {value!r} is not a file mode between 0000 and 0777")
    return mode


def open_created(path: str, flags: int, mode: int) -> int:
    """os.open with O_CREAT; a file this call creates gets exactly ``mode`` (umask ignored)."""
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except FileExistsError:
        return os.open(path, flags | os.O_CLOEXEC)
    try:
        os.fchmod(fd, mode)
    except OSError:
        os.close(fd)
        raise
    return fd


def open_append(path: str, mode: int = DEFAULT_FILE_MODE, *, binary: bool = False,
                buffering: int = -1) -> IO[Any]:
    """Open ``path`` for appending (text UTF-8, or binary), creating it with ``mode``."""
    fd = open_created(path, os.O_WRONLY | os.O_APPEND, mode)
    if binary:
        return os.fdopen(fd, "ab", buffering=buffering)
    return os.fdopen(fd, "a", encoding="utf-8", errors="replace", buffering=buffering)


def write_private(path: str, data: str, mode: int = DEFAULT_FILE_MODE) -> None:
    """Replace the contents of ``path`` (pidfile), creating it with ``mode``."""
    fd = open_created(path, os.O_WRONLY | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(data)
