"""Fixtures for the output tests (loopback only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.outputs.helpers import Pki, RecordingServer, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    require_tool("openssl")
    return make_pki(Path(tmp_path_factory.mktemp("pki")))


@pytest.fixture
def http_server() -> Iterator[RecordingServer]:
    s = RecordingServer()
    yield s
    s.stop()
