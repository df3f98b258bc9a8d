"""A real PostgreSQL server for tests: Debian's binaries, a fresh cluster in a temp dir, run as the
``postgres`` user (the server refuses root), listening on a free loopback port, trust authentication."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.harness import free_port


def pg_bin() -> Path:
    base = Path("/usr/lib/postgresql")
    versions = sorted((p for p in base.glob("*/bin/initdb")), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if not versions:
        pytest.skip("needs Debian's postgresql package (initdb under /usr/lib/postgresql)")
    return versions[-1].parent


@contextmanager
def postgres_server() -> Iterator[tuple[str, Callable[[], None]]]:
    """Yields the ``postgresql://`` URL of a running throwaway server and a function restarting it;
    stops and deletes it afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root (to run the server as the postgres user)")
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("needs the postgres system user (Debian's postgresql package)")
    if shutil.which("runuser") is None:
        pytest.skip("needs runuser (util-linux)")
    b = pg_bin()
    root = Path(tempfile.mkdtemp(prefix="lanner-pg-"))
    data = root / "data"
    os.chown(root, pw.pw_uid, pw.pw_gid)
    port = free_port()

    def as_pg(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True,
                              timeout=timeout, cwd=root)
    try:
        p = as_pg(str(b / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
        assert p.returncode == 0, p.stdout + p.stderr
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off"

        def ctl(action: str) -> None:
            p = as_pg(str(b / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "server.log"), "-m", "fast",
                      "-w", action)
            assert p.returncode == 0, p.stdout + p.stderr + (root / "server.log").read_text(errors="replace")
        ctl("start")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", lambda: ctl("restart")
    finally:
        as_pg(str(b / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)
