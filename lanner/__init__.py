"""lanner: a Falco-compatible runtime security engine written in Python."""

from lanner.compiled import hook as _compiled_hook
from lanner.version import LANNER_VERSION as __version__

_compiled_hook.install()   # before any hot module is imported: compiled copies when built from this source

__all__ = ["__version__"]
