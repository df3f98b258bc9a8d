"""Which files a list of rules paths (``-r``, ``rules_files``) stands for, in load order."""

from __future__ import annotations

import os
from collections.abc import Iterable

from lanner.core.errors import LannerError


class RulesFileError(LannerError):
    """A rules path that cannot be used (missing file given with -r)."""


def expand_rules_paths(paths: Iterable[str], *, strict: bool) -> list[str]:
    """Files to load, in order: directories give their *.yaml/*.yml files sorted by path (not recursive);
    plain files not ending in .yaml/.yml are ignored. ``strict`` (the -r flag) makes a missing path an
    error; configuration entries that do not exist are dropped silently."""
    out: list[str] = []
    for p in paths:
        if os.path.isdir(p):
            names = sorted(os.path.join(p, n) for n in os.listdir(p))
            out.extend(n for n in names if os.path.isfile(n) and n.endswith((".yaml", ".yml")))
        elif os.path.exists(p):
            if p.endswith((".yaml", ".yml")):
                out.append(p)
        elif strict:
            raise RulesFileError(f"Could not open file {p} for reading")
    return out
