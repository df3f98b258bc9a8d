"""stdout, file, syslog and program channels against real files, sockets and processes."""

from __future__ import annotations

import io
import os
import socket
import time
from pathlib import Path

import pytest

from lanner.config import Config
from lanner.core.priority import Priority
from lanner.outputs.channels.base import ChannelError
from lanner.outputs.channels.file import FileChannel
from lanner.outputs.channels.program import ProgramChannel
from lanner.outputs.channels.stdout import StdoutChannel
from lanner.outputs.channels.syslog import SyslogChannel, facility_code
from lanner.outputs.pipeline import OutputPipeline
from tests.outputs.helpers import make_alert


class CountingStream(io.StringIO):
    flushes = 0

    def flush(self) -> None:
        self.flushes += 1


def test_stdout_unbuffered_flushes_each_alert_buffered_only_at_close() -> None:
    s = CountingStream()
    ch = StdoutChannel(buffered=False, stream=s)
    ch.deliver(make_alert(), "a")
    ch.deliver(make_alert(), "b")
    assert s.getvalue() == "a\nb\n" and s.flushes == 2
    s2 = CountingStream()
    ch2 = StdoutChannel(buffered=True, stream=s2)
    ch2.deliver(make_alert(), "a")
    assert s2.flushes == 0
    ch2.close()
    assert s2.flushes == 1


def test_file_appends_and_survives_rotation_without_keep_alive(tmp_path: Path) -> None:
    f = tmp_path / "events.txt"
    f.write_text("old\n")
    ch = FileChannel(str(f))
    ch.deliver(make_alert(), "one")
    os.rename(f, tmp_path / "events.txt.1")
    ch.deliver(make_alert(), "two")
    assert (tmp_path / "events.txt.1").read_text() == "old\none\n"
    assert f.read_text() == "two\n"


def test_file_keep_alive_reopens_on_sigusr1(tmp_path: Path) -> None:
    f = tmp_path / "events.txt"
    p = OutputPipeline([FileChannel(str(f), keep_alive=True)])
    p.submit(make_alert(1))
    assert p.wait_idle()
    os.rename(f, tmp_path / "rotated")
    p.submit(make_alert(2))                  # still written to the open (rotated) file
    assert p.wait_idle()
    p.reopen()
    p.submit(make_alert(3))
    p.close()
    rotated = (tmp_path / "rotated").read_text().splitlines()
    assert len(rotated) == 2 and "alert number 2" in rotated[1]
    assert "alert number 3" in f.read_text() and f.read_text().count("\n") == 1


def test_file_open_failure_is_reported(tmp_path: Path) -> None:
    ch = FileChannel(str(tmp_path / "no" / "such" / "dir.txt"))
    with pytest.raises(ChannelError, match="failed to open output file .*dir.txt"):
        ch.deliver(make_alert(), "x")


def test_syslog_datagrams_have_glibc_format(tmp_path: Path) -> None:
    path = str(tmp_path / "log.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    rx.settimeout(5)
    try:
        p = OutputPipeline.from_config(Config(data={"syslog_output": {"enabled": True, "socket": path}}))
        p.submit(make_alert(1, Priority.CRITICAL))
        p.submit(make_alert(2, Priority.DEBUG))
        p.close()
        a, b = rx.recv(65536).decode(), rx.recv(65536).decode()
    finally:
        rx.close()
    assert a.startswith("<10>")          # LOG_USER (1*8) | LOG_CRIT (2)
    assert b.startswith("<15>")          # LOG_USER | LOG_DEBUG (7)
    stamp = a[4:19]
    time.strptime(stamp.replace("  ", " 0"), "%b %d %H:%M:%S")
    assert a[19:] .startswith(" falco: ") and a.endswith("Critical alert number 1 proc=bash")
    assert not a.endswith("\n")


def test_syslog_facility_mapping_and_missing_socket(tmp_path: Path) -> None:
    assert facility_code("local3") == 19 and facility_code("LOG_DAEMON") == 3
    with pytest.raises(ChannelError, match="unknown facility 'bogus'"):
        facility_code("bogus")
    path = str(tmp_path / "s")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    ch = SyslogChannel(socket_path=path, facility="local0", ident="lanner")
    ch.deliver(make_alert(priority=Priority.ERROR), "m")
    assert rx.recv(1024).decode().startswith("<131>")       # 16*8 + 3
    rx.close()
    os.unlink(path)
    with pytest.raises(ChannelError, match="syslog socket"):
        SyslogChannel(socket_path=path).deliver(make_alert(), "m")


def test_program_per_alert_and_keep_alive_restart(tmp_path: Path) -> None:
    out = tmp_path / "rec.txt"
    ch = ProgramChannel(f"cat >> {out}")
    ch.deliver(make_alert(), "a")
    ch.deliver(make_alert(), "b")
    assert out.read_text() == "a\nb\n" and ch.spawned == 2

    # keep_alive: one process reading lines; 'head -n 2' exits after two, the channel respawns it
    out2 = tmp_path / "rec2.txt"
    ka = ProgramChannel(f"head -n 2 >> {out2}", keep_alive=True)
    for i in range(5):
        ka.deliver(make_alert(), f"line{i}")
        time.sleep(0.2)
    ka.close()
    assert out2.read_text().splitlines() == [f"line{i}" for i in range(5)]
    assert ka.spawned == 3


def test_program_keep_alive_respawns_on_reopen(tmp_path: Path) -> None:
    out = tmp_path / "pids.txt"
    ka = ProgramChannel(f'while read l; do echo "$$ $l" >> {out}; done', keep_alive=True)
    ka.deliver(make_alert(), "x")
    ka.reopen()
    ka.deliver(make_alert(), "y")
    ka.close()
    lines = out.read_text().splitlines()
    assert [ln.split()[1] for ln in lines] == ["x", "y"] and lines[0].split()[0] != lines[1].split()[0]
