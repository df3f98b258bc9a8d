"""Shared test fixtures: where the read-only reference material lives, and root/tool checks."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
SHARED = Path(os.environ.get("LANNER_SHARED", ROOT.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared, skipping the calling test when it is absent (a user's clone has none)."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"reference material not available: {p} (tests that read ../shared need it)")
    return p


@pytest.fixture
def shared() -> Path:
    return shared_path()


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        pytest.skip(f"needs {name} on PATH")
    return path


def finishes(fn: Callable[[], T], within: float = 60.0) -> T:
    """``fn()``'s result, failing the test when it has not returned after ``within`` seconds.

    For properties such as "linear, not exponential" or "refused, not expanded": the bad outcome takes
    minutes or forever, so a generous bound proves them on a loaded machine without timing anything.
    """
    box: list[Any] = []

    def run() -> None:
        try:
            box.append((True, fn()))
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            box.append((False, e))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(within)
    if not box:
        pytest.fail(f"did not finish within {within:g}s")
    ok, value = box[0]
    if not ok:
        raise value
    return value
