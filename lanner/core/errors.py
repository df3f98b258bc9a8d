"""The root of lanner's user-facing errors.

Every error lanner reports to a user (bad configuration, unreadable capture, broken rules file,
unreachable output ...) derives from :class:`LannerError`, so the command line catches one type, prints
``Error: <message>`` and exits with ``code``; errors pass up unchanged instead of being re-wrapped at
each floor. Each module keeps its own subclass next to the code that raises it.
"""

from __future__ import annotations


class LannerError(Exception):
    """A failure to report as ``Error: <message>`` (no traceback); ``code`` is the exit status."""

    code: int = 1

    def __init__(self, *args: object, code: int | None = None) -> None:
        super().__init__(*args)
        if code is not None:
            self.code = code


class HttpError(LannerError):
    """An HTTP exchange failed: transport (connect, TLS, reset; ``timeout`` tells a timeout apart) or a
    non-2xx answer (``status``, 0 when no answer came)."""

    def __init__(self, message: str, *, status: int = 0, timeout: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.timeout = timeout


class ConfigError(LannerError):
    """Invalid configuration; the message names the file and key. Defined on the ground floor so that
    the modules below ``lanner.config`` (file modes, drop settings) raise configuration errors directly."""


class RunError(LannerError):
    """The run cannot start or go on (bad engine kind, no source enabled, a source failed)."""
