"""Shared test fixtures: where the read-only reference material lives, and root/tool checks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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
