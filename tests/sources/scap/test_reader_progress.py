"""Replay progress counts uncompressed bytes: a gzip capture reports small percentages early on
(it used to count compressed bytes in 4 MiB steps, so a small gzip capture first showed 98 %)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lanner.events.syscall import SyscallEvent
from lanner.run.runner import progress_text
from lanner.sources.scap import MachineInfo, ScapReader, ScapWriter, ThreadRecord


def _write(path: Path, compress: bool, events: int = 40_000) -> None:
    ts = 1_700_000_000_000_000_000
    with ScapWriter(str(path), compress=compress) as w:
        w.write_metadata(MachineInfo(2, 1 << 30, 0, "testhost"),
                         threads=[ThreadRecord(42, 42, 1, comm="cat", exe="cat", exepath="/usr/bin/cat")])
        for i in range(events):
            w.write(SyscallEvent.from_values(0, ts + i, 42, 307, [3, -100, f"/etc/file-{i:08d}", 1, 0, 0x803, i]))


@pytest.mark.parametrize("compress", [True, False])
def test_progress_in_uncompressed_bytes(tmp_path: Path, compress: bool) -> None:
    gz, plain = tmp_path / "c.scap.gz", tmp_path / "c.scap"
    _write(plain, compress=False)
    path = gz if compress else plain
    if compress:
        _write(gz, compress=True)
        assert os.path.getsize(gz) < os.path.getsize(plain) / 4
    seen: list[tuple[int, int | None]] = []
    reader = ScapReader(str(path), progress=lambda d, t: seen.append((d, t)))
    n = sum(1 for _ in reader)
    reader.close()
    size = os.path.getsize(plain)
    assert n == 40_000
    assert len(seen) >= 3
    first_done, first_total = seen[0]
    assert first_total == size and first_done / size < 0.5
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (size, size)


def test_progress_text() -> None:
    assert progress_text("c.scap", 3 << 20, 12 << 20) == "Replaying c.scap:  25.0% (3 of 12 MiB)"
    assert progress_text("c.scap", 5 << 20, None) == "Replaying c.scap: 5 MiB"
