"""A capture written with lanner's writer that walks the state paths the reference captures leave out.

Processes known from the process list and unknown ones, threads, cwd changes, dirfd-relative paths,
descriptor duplication, pipes, sockets of every family and role (client, server, UDP without socket(),
seeded from the fd list), the filesystem calls of fs.path, failed calls. Deterministic: the same bytes
on every run, so real Falco's alerts on it can be recorded once (``falco_oracle --write-golden``).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from lanner.events import table as T
from lanner.events.params import InetAddr, InetTuple, UnixAddr, UnixTuple
from lanner.events.syscall import SyscallEvent
from lanner.sources.scap.records import (
    FdRecord,
    GroupRecord,
    InterfaceRecord,
    MachineInfo,
    ThreadRecord,
    UserRecord,
)
from lanner.sources.scap.writer import ScapWriter

NAME = "lanner_state_walk.scap"
BOOT = 1_700_000_000_000_000_000
AT_FDCWD = -100
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
CLONE_THREAD_FLAGS = 0x2000 | 0x1 | 0x8000  # THREAD | FILES | VM (PPM_CL_*)
O_RDONLY, O_WRONLY, O_CREAT, O_CLOEXEC, O_DIRECTORY = 1, 2, 4, 0x1000, 0x400

_CODES: dict[tuple[str, str], int] = {}
for _e in T.EVENTS:
    if not _e.flags & T.EF_OLD_VERSION:
        _CODES.setdefault((_e.name, _e.direction), _e.code)


def ip(s: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(s)


class _Events:
    def __init__(self) -> None:
        self.ts = BOOT + 5_000_000_000
        self.out: list[SyscallEvent] = []

    def __call__(self, name: str, tid: int, *values, enter: bool = False) -> None:
        self.ts += 1000
        code = _CODES[(name, ">" if enter else "<")]
        self.out.append(SyscallEvent.from_values(len(self.out) + 1, self.ts, tid, code, list(values)))


def _clone_vals(res, exe, args, tid, pid, ptid, comm, flags=0, uid=1000, gid=1000, cwd=""):
    return [res, exe, args, tid, pid, ptid, cwd, 1024, 0, 0, 100, 10, 0, comm, b"cpu=/\0", flags, uid, gid,
            tid, pid, 0]


def _execve_vals(exe, args, tid, pid, ptid, comm, cwd, exepath="", uid=1000):
    return [0, exe, args, tid, pid, ptid, cwd, 1024, 0, 0, 100, 10, 0, comm, b"cpu=/\0", b"HOME=/home/alice\0",
            34816, pid, 1000, 0, 0, 0, 0, 0, 0, 0, uid, exepath or None, pid, 1000, None]


def build(path: Path) -> Path:
    """Write the capture to ``path`` (uncompressed) and return it."""
    threads = [
        ThreadRecord(tid=1, pid=1, ptid=0, sid=1, vpgid=1, comm="systemd", exe="/sbin/init", exepath="/sbin/init",
                     cwd="/", fdlimit=1024, uid=0, gid=0, vtid=1, vpid=1, pgid=1),
        ThreadRecord(tid=100, pid=100, ptid=1, sid=100, vpgid=100, comm="bash", exe="-bash", exepath="/bin/bash",
                     args=[], cwd="/home/alice", fdlimit=1024, uid=1000, gid=1000, vtid=100, vpid=100, pgid=100,
                     env=["HOME=/home/alice", "USER=alice"], tty=34816, loginuid=1000),
        ThreadRecord(tid=300, pid=300, ptid=1, sid=300, vpgid=300, comm="nginx", exe="nginx",
                     exepath="/usr/sbin/nginx", args=["-g", "daemon off;"], cwd="/", fdlimit=4096, uid=0, gid=0,
                     vtid=300, vpid=300, pgid=300),
        ThreadRecord(tid=301, pid=300, ptid=1, sid=300, vpgid=300, comm="nginx", exe="nginx", flags=0x2001,
                     exepath="/usr/sbin/nginx", cwd="/", fdlimit=4096, uid=0, gid=0, vtid=301, vpid=300,
                     pgid=300),
    ]
    fds = {
        100: [FdRecord(fd=0, ino=5, type=16, name="/dev/pts/0", open_flags=3),
              FdRecord(fd=1, ino=5, type=16, name="/dev/pts/0", open_flags=3),
              FdRecord(fd=2, ino=5, type=16, name="/dev/pts/0", open_flags=3)],
        300: [FdRecord(fd=6, ino=900, type=5, sip=ip("0.0.0.0"), sport=8080, l4proto=2),
              FdRecord(fd=7, ino=901, type=3, sip=ip("10.0.0.5"), sport=8080, dip=ip("10.0.0.9"), dport=51000,
                       l4proto=2),
              FdRecord(fd=8, ino=902, type=3, sip=ip("10.0.0.5"), sport=40000, dip=ip("93.184.216.34"),
                       dport=443, l4proto=2),
              FdRecord(fd=9, ino=903, type=4, sip=ip("2001:db8::5"), sport=41000, dip=ip("2001:db8::9"),
                       dport=5432, l4proto=2),
              FdRecord(fd=10, ino=904, type=8, name="/run/nginx.sock", unix_src=0xffff1, unix_dst=0),
              FdRecord(fd=11, ino=905, type=8, name="", unix_src=0xffff2, unix_dst=0xffff3),
              FdRecord(fd=12, ino=906, type=4, sip=ip("::ffff:10.0.0.5"), sport=8080,
                       dip=ip("::ffff:10.0.0.7"), dport=52000, l4proto=2)],
    }
    ev = _Events()
    # bash forks a child that becomes cat, in a relative directory
    ev("clone", 100, *_clone_vals(200, "-bash", b"", 100, 100, 1, "bash"))
    ev("clone", 200, *_clone_vals(0, "-bash", b"", 200, 200, 100, "bash"))
    ev("chdir", 200, 0, "projects/../src")
    ev("getcwd", 200, 0, "/home/alice/src")
    ev("execve", 200, *_execve_vals("cat", b"notes.txt\0", 200, 200, 100, "cat", "/home/alice/src",
                                    "/usr/bin/cat"))
    ev("open", 200, 3, "notes.txt", O_RDONLY | O_CLOEXEC, 0, 0x803, 4242)
    ev("read", 200, 12, b"hello world\n", 3, 4096)
    ev("open", 200, -2, "missing.txt", O_RDONLY, 0, None, None)
    ev("openat", 200, 4, AT_FDCWD, "..", O_RDONLY | O_DIRECTORY, 0, 0x803, 17)
    ev("openat", 200, 5, 4, "docs/readme.md", O_RDONLY, 0, 0x803, 18)
    ev("openat", 200, -13, 4, "secret", O_RDONLY, 0, None, None)
    ev("openat", 200, 6, 99, "relative-to-unknown", O_RDONLY, 0, 0x803, 19)
    ev("creat", 200, 7, "out.log", 0o644, 0x803, 20, 0)
    ev("write", 200, 6, b"hello\n", 7, 6)
    ev("dup2", 200, 1, 7, 1)
    ev("dup3", 200, 9, 3, 9, O_CLOEXEC)
    ev("fcntl", 200, 10, 3, 0, 0)
    ev("fchdir", 200, 0, 4)
    ev("mkdir", 200, 0, "build", 0o755)
    ev("mkdirat", 200, 0, 4, "dist", 0o755)
    ev("mkdirat", 200, 0, AT_FDCWD, "tmp", 0o700)
    ev("unlinkat", 200, 0, 4, "old.txt", 0)
    ev("rename", 200, 0, "a.txt", "/tmp/b.txt")
    ev("renameat2", 200, 0, 4, "c.txt", AT_FDCWD, "d.txt", 0)
    ev("link", 200, 0, "d.txt", "e.txt")
    ev("linkat", 200, 0, 4, "f.txt", 4, "g.txt", 0)
    ev("symlinkat", 200, 0, "../target", 4, "lnk")
    ev("chmod", 200, 0, "d.txt", 0o600)
    ev("fchmod", 200, 0, 5, 0o640)
    ev("fchmodat", 200, 0, 4, "e.txt", 0o600)
    ev("chmod", 200, -1, "nope.txt", 0o600)
    ev("pipe2", 200, 0, 11, 12, 7777, O_CLOEXEC)
    ev("socketpair", 200, 0, 13, 14, 0xffffa, 0xffffb, AF_UNIX, 1, 0)
    ev("eventfd2", 200, 15, 0, 0)
    ev("inotify_init1", 200, 16, 0)
    ev("timerfd_create", 200, 17, 1, 0)
    ev("signalfd4", 200, 18, 0, -1, 0)
    ev("epoll_create1", 200, 19, 0)
    ev("memfd_create", 200, 20, "jit", 0)
    ev("close", 200, 0, 3)
    ev("read", 200, 0, b"", 3, 10)
    # sockets of cat: TCP client, UDP without connect, unix client, a send on a socket never seen created
    ev("socket", 200, 21, AF_INET, 1, 6, 0)
    ev("connect", 200, 21, UnixAddr(AF_INET, "") if False else InetAddr(AF_INET, ip("93.184.216.34"), 80),
       enter=True)
    ev("connect", 200, -115, InetTuple(AF_INET, ip("10.0.0.5"), 43000, ip("93.184.216.34"), 80), 21,
       InetAddr(AF_INET, ip("93.184.216.34"), 80))
    ev("write", 200, 18, b"GET / HTTP/1.1\r\n\r\n", 21, 18)
    ev("read", 200, 100, b"HTTP/1.1 200 OK\r\n", 21, 4096)
    ev("socket", 200, 22, AF_INET, 2, 0, 0)
    ev("sendto", 200, 30, b"q" * 30, 22, 30, InetTuple(AF_INET, ip("0.0.0.0"), 0, ip("8.8.8.8"), 53))
    ev("recvfrom", 200, 60, b"a" * 60, InetTuple(AF_INET, ip("8.8.8.8"), 53, ip("10.0.0.5"), 35000), 22, 512)
    ev("socket", 200, 23, AF_UNIX, 1, 0, 0)
    ev("connect", 200, 0, UnixTuple(AF_UNIX, 0xffffc, 0xffff1, "/run/nginx.sock"), 23,
       UnixAddr(AF_UNIX, "/run/nginx.sock"))
    ev("sendto", 200, 4, b"ping", 24, 4, InetTuple(AF_INET, ip("10.0.0.5"), 36000, ip("10.0.0.8"), 9999))
    ev("sendmsg", 200, 4, b"pong", 25, 4, InetTuple(AF_INET6, ip("2001:db8::5"), 36001, ip("2001:db8::8"), 9999))
    ev("recvmsg", 200, 3, 3, b"abc", InetTuple(AF_INET, ip("10.0.0.8"), 9999, ip("10.0.0.5"), 36002), None, 26)
    ev("socket", 200, 27, AF_INET6, 1, 6, 0)
    ev("connect", 200, 0, InetTuple(AF_INET6, ip("2001:db8::5"), 44000, ip("2001:db8::9"), 5432), 27, None)
    ev("socket", 200, 28, AF_INET, 3, 1, 0)
    ev("sendto", 200, 64, b"\x08" * 64, 28, 64, InetTuple(AF_INET, ip("10.0.0.5"), 0, ip("1.1.1.1"), 0))
    ev("poll", 200, 3, ((21, 4), (22, 1), (23, 1), (5, 1), (99, 1), (27, 4)), 1000)
    ev("shutdown", 200, 0, 21, 2)
    # nginx: a server thread accepts over the seeded listening socket, IPv4 and IPv4-mapped IPv6
    ev("accept4", 301, 13, InetTuple(AF_INET, ip("10.0.0.7"), 52001, ip("10.0.0.5"), 8080), 0, 1, 128,
       O_CLOEXEC)
    ev("read", 301, 20, b"GET /index.html HTTP/1.1", 13, 4096)
    ev("write", 301, 20, b"HTTP/1.1 200 OK\r\n", 13, 20)
    ev("accept4", 301, 14, InetTuple(AF_INET6, ip("::ffff:10.0.0.8"), 52002, ip("::ffff:10.0.0.5"), 8080),
       0, 1, 128, 0)
    ev("accept4", 301, -11, None, 0, 0, 128, 0)
    ev("write", 301, 10, b"0123456789", 7, 10)
    ev("read", 300, 10, b"0123456789", 8, 10)
    ev("write", 300, 10, b"0123456789", 9, 10)
    ev("write", 300, 10, b"0123456789", 10, 10)
    ev("read", 300, 10, b"0123456789", 11, 10)
    ev("write", 300, 3, b"abc", 12, 3)
    ev("socket", 300, 15, AF_INET, 1, 6, 0)
    ev("bind", 300, 0, InetAddr(AF_INET, ip("127.0.0.1"), 9090), 15)
    ev("listen", 300, 0, 15, 128)
    ev("socket", 300, 16, AF_INET6, 2, 17, 0)
    ev("bind", 300, 0, InetAddr(AF_INET6, ip("::"), 5353), 16)
    ev("recvfrom", 300, 12, b"m" * 12, InetTuple(AF_INET6, ip("2001:db8::7"), 5353, ip("2001:db8::5"), 5353), 16,
       1500)
    ev("poll", 300, 2, ((6, 1), (7, 1), (9, 1), (10, 1), (15, 1), (16, 1)), 0)
    ev("socket", 300, 17, AF_INET, 2, 17, 0)
    ev("bind", 300, 0, InetAddr(AF_INET, ip("0.0.0.0"), 0), 17)
    ev("setuid", 300, 0, 33)
    ev("open", 300, 18, "/var/log/nginx/access.log", O_WRONLY | O_CREAT, 0o640, 0x803, 30)
    ev("clone", 300, *_clone_vals(302, "nginx", b"", 300, 300, 1, "nginx", flags=CLONE_THREAD_FLAGS, uid=33,
                                  gid=0))
    ev("write", 302, 5, b"12345", 18, 5)
    ev("procexit", 300, 0, 0, 0, 0, 301, enter=True)
    ev("write", 301, 5, b"12345", 18, 5)
    ev("procexit", 301, 0, 0, 0, 0, 1, enter=True)
    # a thread nobody told us about, and a process that sets up its own session
    ev("open", 4242, 3, "/etc/hosts", O_RDONLY, 0, 0x803, 40)
    ev("chdir", 4242, 0, "/tmp")
    ev("openat", 4242, 4, AT_FDCWD, "x", O_RDONLY, 0, 0x803, 41)
    ev("execve", 4242, *_execve_vals("sh", b"-c\0id\0", 4242, 4242, 200, "sh", "/tmp"))
    ev("open", 4242, 5, "rel", O_RDONLY, 0, 0x803, 42)
    ev("setsid", 4242, 4242)
    ev("prctl", 4242, 0, 15, "worker", 0)
    ev("procexit", 200, 0, 0, 0, 0, 1, enter=True)
    ev("write", 4242, 3, b"uid", 1, 3)

    w = ScapWriter(path, compress=False)
    w.write_metadata(
        MachineInfo(num_cpus=2, memory_size_bytes=1 << 33, max_pid=32768, hostname="walk", boot_ts_epoch=BOOT),
        [InterfaceRecord(1, "lo", ip("127.0.0.1"), ip("255.0.0.0"), ip("127.0.0.1")),
         InterfaceRecord(1, "eth0", ip("10.0.0.5"), ip("255.255.255.0"), ip("10.0.0.255")),
         InterfaceRecord(2, "lo", ip("::1"), ip("::"), ip("::")),
         InterfaceRecord(2, "eth0", ip("2001:db8::5"), ip("::"), ip("::"))],
        [UserRecord(0, 0, "root", "/root", "/bin/bash"), UserRecord(1000, 1000, "alice", "/home/alice", "/bin/bash"),
         UserRecord(33, 33, "www-data", "/var/www", "/usr/sbin/nologin")],
        [GroupRecord(0, "root"), GroupRecord(1000, "alice"), GroupRecord(33, "www-data")],
        threads, fds)
    for e in ev.out:
        w.write(e)
    w.close()
    return path


if __name__ == "__main__":
    import sys

    print(build(Path(sys.argv[1] if len(sys.argv) > 1 else NAME)))
