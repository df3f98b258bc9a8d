import collections
import gzip
import io
import struct

import pytest

from lanner.events.syscall import SyscallEvent
from lanner.sources.scap import ScapError, ScapReader, ScapWriter, normalize_fds, read_capture
from lanner.sources.scap.records import FD_IPV4_SOCK, MachineInfo, ThreadRecord
from tests.conftest import shared_path

# scap-format.md section 9: threads, fds, users, groups, ifaces, records, delivered, dropped,
# and the per-type counts after upgrade.
EXPECTED = {
    "curl_google.scap": (54, 316, 31, 55, 5, 1536, 991, 545,
                         "1x183 2x48 3x48 5x54 7x50 9x5 19x5 22x4 23x4 31x2 35x4 39x1 41x1 45x3 47x1 61x1 "
                         "65x2 67x1 71x49 81x15 141x1 151x4 152x25 159x4 161x110 165x5 171x2 186x2 223x2 "
                         "234x315 265x39 293x1"),
    "curl_google_comments.scap": (54, 316, 31, 55, 5, 1536, 991, 545, None),
    "single_ipv6_conn.scap": (154, 564, 42, 72, 13, 1728, 1717, 11,
                              "7x2 9x1 19x4 21x2 22x3 23x3 25x1 234x1700 247x1"),
    "test_ipv6_client.scap": (58, 333, 31, 55, 5, 326, 297, 29,
                              "1x5 2x2 3x2 5x2 7x1 9x1 19x1 22x2 23x2 31x4 71x2 152x1 159x1 161x7 165x1 "
                              "186x1 234x258 265x3 293x1"),
    "cat_write.scap": (73, 384, 32, 61, 5, 345, 307, 38,
                       "1x6 2x4 3x4 5x6 7x2 71x5 159x3 161x10 165x2 186x1 234x260 265x3 293x1"),
    "connect_localhost.scap": (184, 690, 41, 71, 7, 374, 371, 3, "19x3 22x1 23x1 234x366"),
    "empty.scap": (218, 883, 45, 77, 11, 143, 143, 0, "234x143"),
    "open-multiple-files.scap": (128, 685, 40, 70, 8, 1272, 1243, 29,
                                 "1x1 2x13 3x13 5x13 71x13 83x1 152x1 159x1 186x1 234x1183 324x3"),
    "ping_sendto.scap": (136, 674, 42, 72, 10, 1526, 1516, 10, "49x10 234x1506"),
    "syscall.scap": (229, 773, 41, 71, 7, 368, 366, 2, "1x2 2x4 3x4 234x356"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reference_captures(name):
    path = shared_path("captures", name)
    r, evs = read_capture(path)
    threads, fds, users, groups, ifaces, records, delivered, dropped, types = EXPECTED[name]
    assert len(r.threads) == threads
    assert sum(len(v) for v in r.fds.values()) == fds
    assert (len(r.users), len(r.groups), len(r.interfaces)) == (users, groups, ifaces)
    assert (r.records_read, len(evs), r.records_dropped) == (records, delivered, dropped)
    assert [e.num for e in evs] == list(range(1, delivered + 1))
    if types:
        got = collections.Counter(e.type for e in evs)
        assert " ".join(f"{k}x{v}" for k, v in sorted(got.items())) == types
    for e in evs:  # every parameter decodes and renders
        e.args_str()
        assert len(e.raw) <= e.info.nparams


def test_single_ipv6_conn_details():
    r, evs = read_capture(shared_path("captures", "single_ipv6_conn.scap"))
    assert r.version == (1, 2) and r.machine.hostname == "ubuntu" and r.machine.num_cpus == 2
    assert r.interfaces[0].name == "lo" and str(r.interfaces[0].addr) == "127.0.0.1"
    assert (r.users[0].name, r.users[0].homedir, r.users[0].shell) == ("root", "/root", "/bin/bash")
    t1 = r.threads[1]
    assert (t1.comm, t1.exe, t1.exepath, t1.cwd, t1.fdlimit) == ("systemd", "/sbin/init",
                                                                  "/lib/systemd/systemd", "/", 1048576)
    f0 = r.fds[1][0]
    assert (f0.fd, f0.ino, f0.type, f0.open_flags, f0.name, f0.dev) == (0, 6, 16, 3, "/dev/null", None)
    conn = [e for e in evs if e.type == 23 and e.params[0] == -115][0]
    assert conn.args_str() == "res=-115(EINPROGRESS) tuple=2001:db8::4:54405->2001:db8::3:1234 fd=3 addr=<NA>"
    assert conn.enter is not None and conn.enter.type == 22 and conn.enter.hidden
    sock = [e for e in evs if e.type == 19][0]
    assert sock.args_str() == "fd=3 domain=10(AF_INET6) type=1 proto=6 flags=0(O_NONE)"


def test_old_captures_upgrades():
    _, evs = read_capture(shared_path("captures", "curl_google.scap"))
    ex = [e for e in evs if e.type == 293]
    assert len(ex) == 1 and len(ex[0].raw) == 31 and ex[0].params[30] is None  # filename fallback empty
    opens = [e for e in evs if e.type == 2]
    assert all(e.hidden and e.raw == [b"", b"", b""] for e in opens)
    reads = [e for e in evs if e.type == 7]
    assert all(len(e.raw) == 4 for e in reads)
    _, evs = read_capture(shared_path("captures", "open-multiple-files.scap"))
    c = [e for e in evs if e.type == 324]
    assert len(c) == 3 and c[0].params[0].startswith("{")


def test_normalize_fds():
    r, _ = read_capture(shared_path("captures", "connect_localhost.scap"))
    normalize_fds(r.fds)
    socks = [f for recs in r.fds.values() for f in recs if f.type == FD_IPV4_SOCK]
    assert socks and all(f.role in ("client", "server") for f in socks)
    assert all("->" in f.name for f in socks)


def _capture(events, compress=False, **meta) -> bytes:
    bio = io.BytesIO()
    w = ScapWriter(bio, compress=compress)
    w.write_metadata(**meta)
    for e in events:
        w.write(e)
    w.close()
    return bio.getvalue()


def _sample_events():
    return [SyscallEvent.from_values(0, 1000 + i, 42, 307, [3 + i, -100, f"/tmp/f{i}", 1, 0o644, 0, i])
            for i in range(5)] + [
        SyscallEvent.from_values(0, 2000, 42, 402, [1, "container", b'{"x":1}'], cpu=1),
        SyscallEvent.from_values(0, 3000, 43, 9, [2, b"hi", 1, 2], flags=1)]


def test_writer_roundtrip_plain_and_gzip():
    evs = _sample_events()
    for compress in (False, True):
        data = _capture(evs, compress, machine=MachineInfo(4, 1 << 30, 0, "host1"),
                        threads=[ThreadRecord(42, 42, 1, comm="cat", args=["a", "b"], cwd="/")])
        r = ScapReader(io.BytesIO(data))
        got = list(r)
        assert r.machine.hostname == "host1" and r.threads[42].args == ["a", "b"]
        assert [(e.ts, e.tid, e.type, e.cpu, e.flags, e.raw) for e in got] == \
               [(e.ts, e.tid, e.type, e.cpu, e.flags, e.raw) for e in evs]
        assert got[-1].hidden and got[5].type_name == "container"
    assert data[:2] == b"\x1f\x8b"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reference_roundtrip(tmp_path, name):
    r, evs = read_capture(shared_path("captures", name))
    out = tmp_path / "rt.scap"
    with ScapWriter(out) as w:
        w.write_from_reader(r)
        for e in evs:
            w.write(e)
    r2, evs2 = read_capture(out)
    assert r2.threads == r.threads and r2.fds == r.fds and r2.users == r.users
    assert [(e.num, e.ts, e.tid, e.type, e.cpu, e.raw, e.hidden) for e in evs2] == \
           [(e.num, e.ts, e.tid, e.type, e.cpu, e.raw, e.hidden) for e in evs]


def test_concatenated_sections_and_progress():
    one = _capture(_sample_events()[:2], threads=[ThreadRecord(42, 42, 1, comm="a")])
    two = _capture(_sample_events()[:3], threads=[ThreadRecord(7, 7, 1, comm="b")])
    seen = []
    progress = []
    r = ScapReader(io.BytesIO(gzip.compress(one + two)), progress=lambda d, t: progress.append(d),
                   on_section=lambda rd: seen.append(sorted(rd.threads)))
    evs = list(r)
    assert [e.num for e in evs] == [1, 2, 3, 4, 5] and seen == [[42], [7]] and r.sections == 2
    assert progress


def _err(data: bytes) -> str:
    with pytest.raises(ScapError) as ei:
        list(ScapReader(io.BytesIO(data)))
    return str(ei.value)


def test_truncated_and_corrupt_inputs(tmp_path):
    good = _capture(_sample_events())
    # truncation anywhere gives an error naming an offset, never a crash
    for cut in (0, 5, 28, 40, len(good) - 3, len(good) - 30):
        msg = _err(good[:cut])
        assert "offset" in msg, msg
    assert "invalid magic number" in _err(good[:8] + b"\0\0\0\0" + good[12:])
    assert "no events in file" in _err(_capture([]))
    assert "Upgrade your version" in _err(good[:12] + struct.pack("<H", 2) + good[14:])
    # corrupt record length inside the first event block (after SHB at 0)
    bad = bytearray(good)
    bad[28 + 10 + 16:28 + 10 + 20] = struct.pack("<I", 60000)
    assert "offset 28" in _err(bytes(bad))
    # a metadata block whose trailer disagrees with its header
    meta = bytearray(_capture(_sample_events()[:1], machine=MachineInfo(1, 1, 0, "h")))
    meta[28 + 188:28 + 192] = struct.pack("<I", 4)
    assert "wrong block total length, header=192, trailer=4" in _err(bytes(meta))
    # a broken gzip stream
    gz = gzip.compress(good)
    p = tmp_path / "bad.scap"
    p.write_bytes(gz[: len(gz) // 2])
    with pytest.raises(ScapError, match="offset"):
        list(ScapReader(p))


def test_unknown_block_and_event_type_skipped():
    good = _capture(_sample_events()[:1])
    unknown = struct.pack("<II", 0x9999, 16) + b"abcd" + struct.pack("<I", 16)
    r = ScapReader(io.BytesIO(good[:28] + unknown + good[28:]))
    assert len(list(r)) == 1 and r.records_skipped == 1
    big = bytearray(good[28:])
    big[10 + 20:10 + 22] = struct.pack("<H", 500)  # event type >= 454
    r = ScapReader(io.BytesIO(good[:28] + bytes(big) + good[28:]))
    assert len(list(r)) == 1
