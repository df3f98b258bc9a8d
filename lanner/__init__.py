"""lanner: a Falco-compatible runtime security engine written in Python."""

from lanner.version import LANNER_VERSION as __version__

__all__ = ["__version__"]
