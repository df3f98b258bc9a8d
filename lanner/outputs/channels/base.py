"""What the pipeline worker expects of a channel."""

from __future__ import annotations

from lanner.core.alert import Alert
from lanner.core.errors import LannerError


class ChannelError(LannerError):
    """A channel could not deliver (or could not be set up); the message names the channel's target."""


class Channel:
    """One output channel. ``deliver`` runs on the pipeline's worker thread only."""

    name = "channel"

    def deliver(self, alert: Alert, msg: str) -> None:
        """Write one message; raise on failure (the worker logs and counts it, then goes on)."""
        raise NotImplementedError

    def reopen(self) -> None:
        """SIGUSR1: close and reopen what the channel keeps open (files, programs)."""

    def close(self) -> None:
        """Flush and release everything (shutdown)."""
