"""Benchmark: capture read + decode rate and peak RSS.

Writes a capture of N events (default 1,000,000; ``python bench/scap_decode.py [N]``) with a realistic
syscall mix (reads/writes dominate, then opens/closes, mmap, network, generic, a few execve/clone)
using lanner's ScapWriter into a temp dir (gzip), then measures in separate passes:
1. read: block framing + header parsing + converter check + SyscallEvent creation;
2. read + decode: the same plus decoding every parameter (``ev.params``);
3. read + render: plus ``evt.args`` rendering for every 10th event.
Rates are events per second of wall time on one core; peak RSS from getrusage (whole process).
"""

from __future__ import annotations

import ipaddress
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lanner.events import params as P  # noqa: E402
from lanner.events.syscall import SyscallEvent  # noqa: E402
from lanner.sources.scap import MachineInfo, ScapReader, ScapWriter, ThreadRecord  # noqa: E402

ip = ipaddress.ip_address


def templates() -> list[tuple[int, int, list]]:
    tup = P.InetTuple(2, ip("10.0.0.5"), 41566, ip("93.184.216.34"), 443)
    execve = [0, "/usr/bin/curl", b"-s\0https://example.com\0", 100, 100, 99, "/home/u", 1024, 0, 0,
              1000, 500, 0, "curl", b"cpu=/\0", b"PATH=/usr/bin\0", 0, 100, 1000, 0, 0, 0, 0, 12345,
              0, 0, 1000, "/usr/bin/curl", 100, 1000, "/usr/bin/curl"]
    clone = [101, "/bin/bash", b"", 100, 100, 99, "/", 1024, 0, 0, 100, 50, 0, "bash", b"cpu=/\0", 0x11,
             1000, 1000, 101, 101, 0]
    return [
        (30, 7, [512, b"x" * 80, 3, 4096]),                      # read
        (25, 9, [64, b"GET / HTTP/1.1\r\nHost: example.com\r\n", 4, 64]),  # write
        (10, 307, [5, -100, "/etc/ld.so.cache", 0x1001, 0, 0x803, 1234]),  # openat
        (10, 5, [0, 5]),                                          # close
        (6, 161, [0x7F0000000000, 1000, 500, 0, 0, 8192, 3, 2, -1, 0]),  # mmap
        (5, 1, [176, 228]),                                        # generic clock_gettime
        (4, 23, [0, tup, 6, P.InetAddr(2, ip("93.184.216.34"), 443)]),  # connect
        (4, 31, [100, b"payload", 6, 100, tup]),                   # sendto
        (3, 19, [6, 2, 1, 6, 0]),                                  # socket
        (1, 293, execve),                                          # execve
        (1, 223, clone),                                           # clone
        (1, 186, [0, 0, 0, 0, 1]),                                 # procexit
    ]


def write_capture(path: str, n: int) -> None:
    tpl = templates()
    blocks = []
    for weight, etype, vals in tpl:
        blocks += [(etype, SyscallEvent.from_values(0, 0, 0, etype, vals).raw)] * weight
    with ScapWriter(path) as w:
        w.write_metadata(MachineInfo(2, 1 << 33, 0, "bench"),
                         threads=[ThreadRecord(100 + i, 100 + i, 1, comm="bench") for i in range(50)])
        ts = 1_700_000_000_000_000_000
        for i in range(n):
            etype, raw = blocks[i % len(blocks)]
            w.write(SyscallEvent(0, ts + i * 1000, 100 + (i % 50), etype, raw, cpu=i & 1))


def run(path: str, mode: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    count = 0
    with ScapReader(path) as r:
        for ev in r:
            count += 1
            if mode != "read":
                ev.params  # noqa: B018 - forces decoding
                if mode == "render" and count % 10 == 0:
                    ev.args_str()
    return count, time.perf_counter() - t0


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench.scap")
        t0 = time.perf_counter()
        write_capture(path, n)
        wt = time.perf_counter() - t0
        print(f"wrote {n} events in {wt:.1f}s ({n / wt:,.0f} ev/s), file {os.path.getsize(path) / 1e6:.1f} MB gzip")
        for mode in ("read", "decode", "render"):
            count, dt = run(path, mode)
            print(f"{mode:7s}: {count} events in {dt:.2f}s = {count / dt:,.0f} ev/s")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS {rss / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
