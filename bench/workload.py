"""A synthetic syscall stream of a realistic mix, shared by the rules and replay benchmarks.

50 long-lived processes (a shell, web servers, a database, build tools) do mostly reads and writes, then
opens (configuration, libraries, logs, now and then a sensitive file), closes, mmaps, network calls, and
now and then spawn children (clone + execve) that exit. Events are built with lanner's own event
encoder, so they decode and update state exactly as captured events do.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterator

from lanner.events import params as P
from lanner.events.syscall import SyscallEvent
from lanner.sources.scap import MachineInfo, ScapWriter, ThreadRecord

ip = ipaddress.ip_address
BASE_TS = 1_700_000_000_000_000_000
PROCS = [("bash", "/usr/bin/bash"), ("nginx", "/usr/sbin/nginx"), ("postgres", "/usr/lib/postgresql/bin/postgres"),
         ("make", "/usr/bin/make"), ("cc1", "/usr/lib/gcc/cc1"), ("python3", "/usr/bin/python3"),
         ("sshd", "/usr/sbin/sshd"), ("containerd", "/usr/bin/containerd"), ("node", "/usr/bin/node"),
         ("java", "/usr/bin/java")]
OPEN_PATHS = ["/etc/ld.so.cache", "/usr/lib/x86_64-linux-gnu/libc.so.6", "/var/log/nginx/access.log",
              "/tmp/build/obj.o", "/home/u/project/main.c", "/proc/self/status", "/etc/passwd",
              "/var/lib/postgresql/base/1/123", "/etc/shadow", "/usr/bin/newtool", "/root/.ssh/id_rsa",
              "/etc/nginx/nginx.conf"]
CHILDREN = [("ls", "/usr/bin/ls", ["-l"]), ("cat", "/usr/bin/cat", ["/etc/hosts"]), ("gcc", "/usr/bin/gcc",
            ["-c", "x.c"]), ("sh", "/usr/bin/sh", ["-c", "true"]), ("curl", "/usr/bin/curl", ["-s", "http://127.0.0.1/"]),
            ("git", "/usr/bin/git", ["status"])]


def threads(n: int = 50) -> list[ThreadRecord]:
    out = [ThreadRecord(1, 1, 0, comm="systemd", exe="/sbin/init", exepath="/usr/lib/systemd/systemd", cwd="/")]
    for i in range(n):
        comm, exe = PROCS[i % len(PROCS)]
        out.append(ThreadRecord(1000 + i, 1000 + i, 1, comm=comm, exe=exe, exepath=exe, cwd="/srv/",
                                uid=0 if i % 3 == 0 else 1000, gid=0))
    return out


def _execve(pid: int, ppid: int, comm: str, exe: str, args: list[str]) -> list:
    a = "\0".join(args).encode() + b"\0" if args else b""
    return [0, exe, a, pid, pid, ppid, "/srv/", 1024, 0, 0, 1000, 500, 0, comm, b"cpu=/\0", b"PATH=/usr/bin\0",
            0, pid, 1000, 0, 0, 0, 0, 12345, 0, 0, 0, exe, pid, 0, exe]


def events(n: int, seed: int = 7) -> Iterator[SyscallEvent]:
    """``n`` events of the mix (child processes get tids from 5000 up)."""
    rnd = random.Random(seed)
    tup = P.InetTuple(2, ip("10.0.0.5"), 41566, ip("93.184.216.34"), 443)
    next_child = 5000
    ts = BASE_TS
    i = 0
    pending_children: list[int] = []
    while i < n:
        ts += 1000
        tid = 1000 + rnd.randrange(50)
        r = rnd.random()
        if r < 0.30:
            ev = SyscallEvent.from_values(0, ts, tid, 7, [512, b"x" * 80, 3, 4096])
        elif r < 0.55:
            ev = SyscallEvent.from_values(0, ts, tid, 9, [64, b"GET / HTTP/1.1\r\n", 4, 64])
        elif r < 0.67:
            path = OPEN_PATHS[rnd.randrange(len(OPEN_PATHS))] if rnd.random() < 0.3 else OPEN_PATHS[rnd.randrange(2)]
            flags = 0x1001 if rnd.random() < 0.8 else 0x106
            ev = SyscallEvent.from_values(0, ts, tid, 307, [5, -100, path, flags, 0o644, 0x803, 1234])
        elif r < 0.77:
            ev = SyscallEvent.from_values(0, ts, tid, 5, [0, 5])
        elif r < 0.83:
            ev = SyscallEvent.from_values(0, ts, tid, 161, [0x7F0000000000, 1000, 500, 0, 0, 8192, 3, 2, -1, 0])
        elif r < 0.88:
            ev = SyscallEvent.from_values(0, ts, tid, 1, [176, 228])
        elif r < 0.92:
            ev = SyscallEvent.from_values(0, ts, tid, 23, [0, tup, 6, P.InetAddr(2, ip("93.184.216.34"), 443)])
        elif r < 0.96:
            ev = SyscallEvent.from_values(0, ts, tid, 31, [100, b"payload", 6, 100, tup])
        elif r < 0.98:
            ev = SyscallEvent.from_values(0, ts, tid, 19, [6, 2, 1, 6, 0])
        elif pending_children and r < 0.99:
            child = pending_children.pop(0)
            ev = SyscallEvent.from_values(0, ts, child, 186, [0, 0, 0, 0, 1])
        else:
            child = next_child
            next_child += 1
            clone = [child, "/usr/bin/bash", b"", tid, tid, 1, "/srv/", 1024, 0, 0, 100, 50, 0, "bash", b"cpu=/\0",
                     0x11, 1000, 1000, child, child, 0]
            yield SyscallEvent.from_values(i + 1, ts, tid, 223, clone)
            i += 1
            comm, exe, args = CHILDREN[rnd.randrange(len(CHILDREN))]
            ts += 1000
            ev = SyscallEvent.from_values(i + 1, ts, child, 293, _execve(child, tid, comm, exe, args))
            pending_children.append(child)
        ev.num = i + 1
        yield ev
        i += 1


def write_capture(path: str, n: int) -> None:
    with ScapWriter(path) as w:
        w.write_metadata(MachineInfo(2, 1 << 33, 0, "bench"), threads=threads())
        for ev in events(n):
            w.write(ev)
