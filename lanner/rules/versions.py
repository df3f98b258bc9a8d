"""Semantic versions as rules files state them (``required_engine_version``, ``required_plugin_versions``):
same major, at least the required minor.patch."""

from __future__ import annotations

import re

_SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)")


def parse_semver(text: str) -> tuple[int, int, int] | None:
    m = _SEMVER.match(text.strip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


def version_compatible(have: tuple[int, int, int], need: tuple[int, int, int]) -> bool:
    return have[0] == need[0] and have >= need
