"""The live source's record splitting and batching (no probe: records are built here)."""

import struct

import pytest

from lanner.sources.api import SourceError
from lanner.sources.ebpf.source import LiveSyscallSource, split_batch, split_records


def record(ts: int, tid: int, typ: int, params: list[bytes]) -> bytes:
    lens = struct.pack(f"<{len(params)}H", *(len(p) for p in params))
    body = lens + b"".join(params)
    return struct.pack("<QQIHI", ts, tid, 26 + len(body), typ, len(params)) + body


def close_record(i: int) -> bytes:
    return record(1000 + i, 42, 5, [(0).to_bytes(8, "little"), (i % 100).to_bytes(8, "little", signed=True)])


def test_split_batch_resumes_where_it_stopped() -> None:
    buf = b"".join(close_record(i) for i in range(10)) + record(5, 7, 19, [b"", b"\x02\x00\x00\x00"])
    whole = split_records(buf, 1)
    assert [e.num for e in whole] == list(range(1, 12)) and whole[-1].raw == [b"", b"\x02\x00\x00\x00"]
    got, off, num = [], 0, 1
    while off < len(buf):
        evs, off = split_batch(buf, off, num, 3)
        assert 0 < len(evs) <= 3
        got += evs
        num += len(evs)
    assert [(e.num, e.ts, e.tid, e.type, e.raw) for e in got] == [(e.num, e.ts, e.tid, e.type, e.raw) for e in whole]


def test_corrupt_record_is_an_error_naming_the_offset() -> None:
    bad = close_record(0) + struct.pack("<QQIHI", 1, 1, 10, 5, 0)
    with pytest.raises(SourceError, match="corrupt live record at batch offset 46: len 10"):
        split_records(bad)


def test_next_batch_hands_a_large_drain_out_in_small_batches() -> None:
    """A drain of many records (the agent running behind) is decoded batch by batch: events stay few and
    short-lived, nothing is lost or reordered, and the ring is drained again only once all are handed out."""
    src = LiveSyscallSource(scan_proc=False)
    src.batch_events = 64
    drains = [b"".join(close_record(i) for i in range(1000)), b"", b"".join(close_record(i) for i in range(5))]
    calls = []

    def drain() -> bytes:
        calls.append(len(calls))
        return drains[len(calls) - 1] if len(calls) <= len(drains) else b""

    src._drain = drain  # type: ignore[method-assign]
    sizes, nums = [], []
    for _ in range(16):
        evs = src.next_batch()
        assert len(calls) == 1
        sizes.append(len(evs))
        nums += [e.num for e in evs]
    assert max(sizes) == 64 and sum(sizes) == 1000 and nums == list(range(1, 1001))
    assert src.next_batch() == [] and len(calls) == 2  # used up: the next call drains (nothing there)
    assert [e.num for e in src.next_batch()] == [1001, 1002, 1003, 1004, 1005] and src.n_events == 1005


def test_poll_takes_the_rest_of_the_drain_at_once() -> None:
    src = LiveSyscallSource(scan_proc=False)
    src.batch_events = 100
    drains = iter([b"".join(close_record(i) for i in range(1000)), b"".join(close_record(i) for i in range(3))])
    src._drain = lambda: next(drains, b"")  # type: ignore[method-assign]
    assert len(src.next_batch()) == 100
    assert [e.num for e in src.poll()] == list(range(101, 1001))   # the rest of the first drain
    assert [e.num for e in src.poll()] == [1001, 1002, 1003] and src.poll() == []
