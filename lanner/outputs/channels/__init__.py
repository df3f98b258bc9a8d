"""Falco's output channels, each delivering the rendered message string of an alert."""

from lanner.outputs.channels.base import Channel, ChannelError

__all__ = ["Channel", "ChannelError"]
