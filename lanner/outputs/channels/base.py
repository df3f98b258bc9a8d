"""What the pipeline worker expects of a channel."""

from __future__ import annotations

from lanner.core.alert import Alert
from lanner.core.errors import LannerError


class ChannelError(LannerError):
    """A channel could not deliver (or could not be set up); the message names the channel's target.
    ``final`` set: the channel already retried, the worker must not retry again."""

    final = False


class Channel:
    """One output channel. ``deliver`` runs on the channel's own worker thread only."""

    name = "channel"
    retries = 0             # extra delivery attempts after a failure (bounded, with backoff)
    queue_capacity = 0      # messages the channel's own queue holds; 0 = unbounded (Falco's default)

    def deliver(self, alert: Alert, msg: str) -> None:
        """Write one message; raise on failure (the worker logs and counts it, then goes on)."""
        raise NotImplementedError

    def reopen(self) -> None:
        """SIGUSR1: close and reopen what the channel keeps open (files, programs)."""

    def close(self) -> None:
        """Flush and release everything (shutdown)."""
