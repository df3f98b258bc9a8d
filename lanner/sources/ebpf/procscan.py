"""Seed state from /proc: threads and their fds, in the shape of a capture's process/fd lists.

Each :class:`ProcEntry` carries the fields of a scap process-list entry (scap-format.md 5.3) and its
:class:`~lanner.sources.scap.records.FdRecord` list those of an fd-list entry (5.4), so the state engine can load a live start-up
snapshot exactly as it loads a capture's. ``host_root`` is prefixed to every path read (Falco's
``HOST_ROOT``, for running inside a container with the host's /proc mounted).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import struct
from dataclasses import dataclass, field

from lanner.sources.scap import records as R

_log = logging.getLogger("lanner")

_ANON = {"[eventfd]": R.FD_EVENT, "[signalfd]": R.FD_SIGNALFD, "[eventpoll]": R.FD_EVENTPOLL,
         "inotify": R.FD_INOTIFY, "[timerfd]": R.FD_TIMERFD, "bpf-map": R.FD_BPF, "bpf-prog": R.FD_BPF,
         "bpf_link": R.FD_BPF, "[userfaultfd]": R.FD_USERFAULTFD, "[io_uring]": R.FD_IOURING, "[pidfd]": R.FD_PIDFD}


@dataclass(slots=True)
class ProcEntry(R.ThreadRecord):
    """A process-list record (the capture's shape) plus the thread's fds as fd-list records."""

    fds: list[R.FdRecord] = field(default_factory=list)


def _fd(fd: int, typ: int, name: str = "", ino: int = 0, flags: int = 0, dev: int = 0, *, sip: bytes = b"",
        dip: bytes = b"", sport: int = 0, dport: int = 0, l4proto: int = 0, source: int = 0) -> R.FdRecord:
    return R.FdRecord(fd=fd, ino=ino, type=typ, name=name, open_flags=flags, dev=dev,
                      sip=ipaddress.ip_address(sip) if sip else None,
                      dip=ipaddress.ip_address(dip) if dip else None, sport=sport, dport=dport,
                      l4proto=l4proto, unix_src=source)


def read_proc_file(path: str, limit: int = 65536) -> bytes:
    """Up to ``limit`` bytes of a /proc file; empty when it cannot be read (the task may be gone)."""
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError:
        return b""


def _num(text: str, index: int, base: int = 10, *, default: int) -> int:
    """Field ``index`` of a /proc line's value as a number, or ``default`` when it is not one."""
    try:
        return int(text.split()[index], base)
    except (IndexError, ValueError):
        return default


def _linux_open_flags_to_ppm(f: int) -> int:
    acc = f & 3
    r = {0: 1, 1: 2}.get(acc, 3)
    for lin, ppm in ((0o100, 4), (0o2000, 8), (0o10000, 0x10), (0o200, 0x20), (0o4000, 0x40),
                     (0o4000000, 0x80), (0o1000, 0x100), (0o40000, 0x200), (0o200000, 0x400),
                     (0o100000, 0x800), (0o2000000, 0x1000)):
        if f & lin:
            r |= ppm
    return r


def _parse_inet(path: str, v6: bool, proto: int, out: dict[int, tuple]) -> None:
    data = read_proc_file(path, 1 << 24).decode(errors="replace").splitlines()[1:]
    for line in data:
        p = line.split()
        if len(p) < 10:
            continue
        try:
            la, lp = p[1].split(":")
            ra, rp = p[2].split(":")
            ino = int(p[9])
        except ValueError:
            continue
        if v6:
            lb = b"".join(struct.pack("<I", int(la[i:i + 8], 16)) for i in range(0, 32, 8))
            rb = b"".join(struct.pack("<I", int(ra[i:i + 8], 16)) for i in range(0, 32, 8))
        else:
            lb = struct.pack("<I", int(la, 16))
            rb = struct.pack("<I", int(ra, 16))
        listening = p[3] == "0A" and proto == R.L4_TCP
        out[ino] = (v6, lb, int(lp, 16), rb, int(rp, 16), proto, listening)


def _parse_unix(path: str, out: dict[int, tuple]) -> None:
    for line in read_proc_file(path, 1 << 24).decode(errors="replace").splitlines()[1:]:
        p = line.split()
        if len(p) < 7:
            continue
        try:
            ino = int(p[6])
            addr = int(p[0].rstrip(":"), 16)
        except ValueError:
            continue
        out[ino] = (addr, p[7].lstrip("@") if len(p) > 7 else "")


def _ip_str(b: bytes, v6: bool) -> str:
    return socket.inet_ntop(socket.AF_INET6 if v6 else socket.AF_INET, b)


class ProcScanner:
    """One pass over ``<host_root>/proc``; socket tables are read once per network namespace."""

    def __init__(self, host_root: str = "/") -> None:
        self.root = host_root.rstrip("/")
        self.proc = f"{self.root}/proc"
        self._inet: dict[str, dict[int, tuple]] = {}
        self._unix: dict[str, dict[int, tuple]] = {}

    def pids(self) -> list[int]:
        return sorted(int(d) for d in os.listdir(self.proc) if d.isdigit())

    def scan(self) -> list[ProcEntry]:
        """Every process that parses; one whose /proc entries are malformed is left out (logged), never
        the end of the scan."""
        out: list[ProcEntry] = []
        for pid in self.pids():
            try:
                out.extend(self.scan_process(pid))
            except (ValueError, IndexError) as e:
                _log.warning("skipping process %d: malformed entry under %s/%d: %s", pid, self.proc, pid, e)
        return out

    def scan_process(self, pid: int) -> list[ProcEntry]:
        base = f"{self.proc}/{pid}"
        main = self._thread(base, pid, pid)
        if main is None:
            return []
        main.fds = self._fds(base, pid)
        res = [main]
        try:
            tids = [int(t) for t in os.listdir(f"{base}/task") if t.isdigit() and int(t) != pid]
        except OSError:
            tids = []
        for tid in tids:
            t = self._thread(f"{base}/task/{tid}", tid, pid)
            if t is not None:
                t.cwd, t.env = main.cwd, []
                res.append(t)
        return res

    def _thread(self, base: str, tid: int, pid: int) -> ProcEntry | None:
        stat = read_proc_file(f"{base}/stat").decode(errors="replace")
        if not stat:
            return None
        rp = stat.rfind(")")
        comm = stat[stat.find("(") + 1:rp]
        f = stat[rp + 2:].split()
        e = ProcEntry(tid=tid, pid=pid, ptid=int(f[1]), comm=comm)
        e.pgid = e.vpgid = int(f[2])
        e.sid = int(f[3])
        e.tty = int(f[4])
        e.pfminor, e.pfmajor = int(f[7]), int(f[9])
        status = {}
        for line in read_proc_file(f"{base}/status").decode(errors="replace").splitlines():
            k, _, v = line.partition(":")
            status[k] = v.strip()
        # a malformed status line leaves its value at the default; the rest of the entry still counts
        e.uid = _num(status.get("Uid", ""), 1, default=e.uid)
        e.gid = _num(status.get("Gid", ""), 1, default=e.gid)
        for k, attr in (("CapInh", "cap_inheritable"), ("CapPrm", "cap_permitted"), ("CapEff", "cap_effective")):
            setattr(e, attr, _num(status.get(k, ""), 0, 16, default=getattr(e, attr)))
        for k, attr in (("VmSize", "vmsize_kb"), ("VmRSS", "vmrss_kb"), ("VmSwap", "vmswap_kb")):
            setattr(e, attr, _num(status.get(k, ""), 0, default=getattr(e, attr)))
        e.vtid = _num(status.get("NSpid", ""), -1, default=tid)
        e.vpgid = _num(status.get("NSpgid", ""), -1, default=e.vpgid)
        e.vpid = _num(status.get("NStgid", ""), -1, default=pid)
        if tid != pid:
            e.ptid = _num(status.get("PPid", ""), 0, default=e.ptid)
        cmd = read_proc_file(f"{base}/cmdline").split(b"\0")
        if cmd and cmd[-1] == b"":
            cmd.pop()
        if cmd:
            e.exe = cmd[0].decode(errors="replace")
            e.args = [a.decode(errors="replace") for a in cmd[1:]]
        else:
            e.exe = comm
        try:
            e.exepath = os.readlink(f"{base}/exe").removesuffix(" (deleted)")
        except OSError:
            e.exepath = ""
        e.exe_from_memfd = e.exepath.startswith("/memfd:")
        try:
            st = os.stat(f"{base}/exe")
            e.exe_ino, e.exe_ino_ctime, e.exe_ino_mtime = st.st_ino, st.st_ctime_ns, st.st_mtime_ns
            e.exe_writable = bool(st.st_mode & 0o002) or (st.st_uid == e.uid and bool(st.st_mode & 0o200)) \
                or bool(e.cap_effective & 2)
        except OSError:
            pass
        try:
            e.cwd = os.readlink(f"{base}/cwd")
        except OSError:
            e.cwd = "/"
        try:
            e.root = os.readlink(f"{base}/root")
        except OSError:
            e.root = "/"
        env = read_proc_file(f"{base}/environ", 4096).split(b"\0")
        e.env = [v.decode(errors="replace") for v in env if v]
        lu = read_proc_file(f"{base}/loginuid").strip()
        e.loginuid = int(lu) if lu.isdigit() else 0xFFFFFFFF
        for line in read_proc_file(f"{base}/limits").decode(errors="replace").splitlines():
            if line.startswith("Max open files"):
                v = line.split()[3]
                e.fdlimit = int(v) if v.isdigit() else -1
        for line in read_proc_file(f"{base}/cgroup").decode(errors="replace").splitlines():
            if line.count(":") < 2:
                continue
            _, ctrls, path = line.split(":", 2)
            names = ctrls.split(",") if ctrls else ["cpuset", "cpu", "cpuacct", "memory", "pids", "blkio"]
            e.cgroups.extend(f"{n.removeprefix('name=')}={path}" for n in names)
        if tid == pid:
            e.flags |= 0x40000000  # IS_MAIN_THREAD
        return e

    def _socket_tables(self, base: str) -> tuple[dict[int, tuple], dict[int, tuple]]:
        try:
            key = os.readlink(f"{base}/ns/net")
        except OSError:
            key = "?"
        if key not in self._inet:
            inet: dict[int, tuple] = {}
            for name, v6, proto in (("tcp", False, R.L4_TCP), ("tcp6", True, R.L4_TCP), ("udp", False, R.L4_UDP),
                                    ("udp6", True, R.L4_UDP)):
                _parse_inet(f"{base}/net/{name}", v6, proto, inet)
            unix: dict[int, tuple] = {}
            _parse_unix(f"{base}/net/unix", unix)
            self._inet[key], self._unix[key] = inet, unix
        return self._inet[key], self._unix[key]

    def _fds(self, base: str, pid: int) -> list[R.FdRecord]:
        out: list[R.FdRecord] = []
        try:
            names = os.listdir(f"{base}/fd")
        except OSError:
            return out
        tables = None
        for n in names:
            if not n.isdigit():
                continue
            fd = int(n)
            try:
                target = os.readlink(f"{base}/fd/{n}")
                st = os.stat(f"{base}/fd/{n}")
            except OSError:
                continue
            flags = 0
            for line in read_proc_file(f"{base}/fdinfo/{n}", 4096).decode(errors="replace").splitlines():
                if line.startswith("flags:"):
                    flags = _linux_open_flags_to_ppm(int(line.split()[1], 8))
            if target.startswith("socket:["):
                if tables is None:
                    tables = self._socket_tables(base)
                ino = int(target[8:-1])
                out.append(self._sock_entry(fd, ino, tables))
            elif target.startswith("pipe:["):
                out.append(_fd(fd, R.FD_FIFO, "", int(target[6:-1]), flags))
            elif target.startswith("anon_inode:"):
                kind = target[11:]
                out.append(_fd(fd, _ANON.get(kind, R.FD_UNSUPPORTED), "", st.st_ino, flags))
            elif target.startswith("/memfd:"):
                out.append(_fd(fd, R.FD_MEMFD, target[7:].removesuffix(" (deleted)"), st.st_ino, flags))
            elif target.startswith("/"):
                typ = R.FD_DIRECTORY if (st.st_mode & 0o170000) == 0o040000 else R.FD_FILE_V2
                out.append(_fd(fd, typ, target, st.st_ino, flags, os.major(st.st_dev) << 20 | os.minor(st.st_dev)))
            else:
                out.append(_fd(fd, R.FD_UNSUPPORTED, target, st.st_ino, flags))
        return out

    @staticmethod
    def _sock_entry(fd: int, ino: int, tables: tuple[dict[int, tuple], dict[int, tuple]]) -> R.FdRecord:
        inet, unix = tables
        if ino in inet:
            v6, lb, lp, rb, rp, proto, listening = inet[ino]
            if listening:
                typ = R.FD_IPV6_SERVSOCK if v6 else R.FD_IPV4_SERVSOCK
                name = f"{_ip_str(lb, v6)}:{lp}"
                return _fd(fd, typ, name, ino, sip=lb, sport=lp, l4proto=proto)
            typ = R.FD_IPV6_SOCK if v6 else R.FD_IPV4_SOCK
            name = f"{_ip_str(lb, v6)}:{lp}->{_ip_str(rb, v6)}:{rp}"
            return _fd(fd, typ, name, ino, sip=lb, dip=rb, sport=lp, dport=rp, l4proto=proto)
        if ino in unix:
            addr, path = unix[ino]
            return _fd(fd, R.FD_UNIX_SOCK, path, ino, source=addr)
        return _fd(fd, R.FD_UNSUPPORTED, f"socket:[{ino}]", ino)
