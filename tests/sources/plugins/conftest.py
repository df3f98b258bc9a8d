"""Plugin libraries for the host tests: the real ones in ../shared/plugins, and lanner's own C test plugin
compiled here with gcc (part of every Debian machine lanner's set-up prepares)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import shared_path

SRC = Path(__file__).with_name("lanner_test_plugin.c")


def build_plugin(out: Path, *defines: str) -> Path:
    gcc = shutil.which("gcc")
    assert gcc, "gcc is installed by scripts/setup.sh"
    subprocess.run([gcc, "-shared", "-fPIC", "-O1", "-Wall", "-Werror", *defines, "-o", str(out), str(SRC)],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="session")
def test_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_plugin(tmp_path_factory.mktemp("plugin") / "liblanner_test.so")


@pytest.fixture(scope="session")
def incompat_plugin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_plugin(tmp_path_factory.mktemp("plugin") / "liblanner_incompat.so", '-DREQ_API="10000000.0.0"')


def real_plugin(name: str) -> str:
    return str(shared_path("plugins", name))
