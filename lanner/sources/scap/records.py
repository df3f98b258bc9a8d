"""Plain records of a capture's metadata blocks (machine info, interfaces, users, processes, fds)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field


@dataclass(slots=True)
class MachineInfo:
    num_cpus: int = 0
    memory_size_bytes: int = 0
    max_pid: int = 0
    hostname: str = ""
    boot_ts_epoch: int = 0
    flags: int = 0


@dataclass(slots=True)
class InterfaceRecord:
    """One address of a network interface (IL block). ``type`` 1/3 = IPv4, 2/4 = IPv6."""

    type: int
    name: str
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address
    netmask: ipaddress.IPv4Address | ipaddress.IPv6Address
    broadcast: ipaddress.IPv4Address | ipaddress.IPv6Address
    linkspeed: int = 0

    @property
    def is_ipv6(self) -> bool:
        return self.type in (2, 4)


@dataclass(slots=True)
class UserRecord:
    uid: int
    gid: int
    name: str
    homedir: str
    shell: str


@dataclass(slots=True)
class GroupRecord:
    gid: int
    name: str


@dataclass(slots=True)
class ThreadRecord:
    """One process-list entry (fields absent in older block versions keep their defaults).

    ``args``/``env``/``cgroups`` are lists of str (``cgroups`` entries are ``subsys=path``).
    """

    tid: int
    pid: int
    ptid: int
    sid: int = -1
    vpgid: int = -1
    comm: str = ""
    exe: str = ""
    exepath: str = ""
    args: list[str] = field(default_factory=list)
    cwd: str = ""
    fdlimit: int = 0
    flags: int = 0
    uid: int = 0
    gid: int = 0
    vmsize_kb: int = 0
    vmrss_kb: int = 0
    vmswap_kb: int = 0
    pfmajor: int = 0
    pfminor: int = 0
    env: list[str] = field(default_factory=list)
    vtid: int = -1
    vpid: int = -1
    cgroups: list[str] = field(default_factory=list)
    root: str = ""
    pidns_init_start_ts: int = 0
    tty: int = 0
    loginuid: int = 0xFFFFFFFF
    exe_writable: bool = False
    cap_inheritable: int = 0
    cap_permitted: int = 0
    cap_effective: int = 0
    exe_upper_layer: bool = False
    exe_ino: int = 0
    exe_ino_ctime: int = 0
    exe_ino_mtime: int = 0
    exe_from_memfd: bool = False
    exe_lower_layer: bool = False
    pgid: int = -1


# scap fd types (event-model.md 6.2)
FD_UNKNOWN, FD_FILE, FD_DIRECTORY, FD_IPV4_SOCK, FD_IPV6_SOCK = 0, 1, 2, 3, 4
FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK, FD_FIFO, FD_UNIX_SOCK, FD_EVENT = 5, 6, 7, 8, 9
FD_UNSUPPORTED, FD_SIGNALFD, FD_EVENTPOLL, FD_INOTIFY, FD_TIMERFD = 10, 11, 12, 13, 14
FD_NETLINK, FD_FILE_V2, FD_BPF, FD_USERFAULTFD, FD_IOURING, FD_MEMFD, FD_PIDFD = 15, 16, 17, 18, 19, 20, 21

L4_UNKNOWN, L4_NA, L4_TCP, L4_UDP, L4_ICMP, L4_RAW = 0, 1, 2, 3, 4, 5


@dataclass(slots=True)
class FdRecord:
    """One fd of a process (FDL block), as stored.

    Sockets: ``sip/dip`` (ipaddress objects), ``sport/dport``, ``l4proto``; server sockets use
    ``sip``/``sport`` for the listening address. Unix: ``unix_src``/``unix_dst`` kernel pointers and
    ``name`` = path. FILE_V2: ``open_flags`` (PPM O_* bits), ``dev`` (None if absent).
    ``role`` ("client"/"server"/"") and ``connected`` are filled by :func:`normalize_fds`.
    """

    fd: int
    ino: int
    type: int
    name: str = ""
    open_flags: int = 0
    dev: int | None = None
    sip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    dip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    sport: int = 0
    dport: int = 0
    l4proto: int = 0
    unix_src: int = 0
    unix_dst: int = 0
    role: str = ""
    connected: bool = False


def _tuple_name(r: FdRecord) -> str:
    if r.l4proto in (L4_ICMP, L4_RAW):
        return f"{r.sip}->{r.dip}"
    return f"{r.sip}:{r.sport}->{r.dip}:{r.dport}"


def normalize_fds(fds: dict[int, list[FdRecord]]) -> None:
    """Apply libsinsp's load-time interpretation of FDL sockets (scap-format.md 5.4), in place.

    TCP sockets become connected; IPv6 sockets with both ends IPv4-mapped become IPv4; unix sockets
    with a path are servers, others clients; an IPv4 socket whose ``sport`` is the port of any IPv4
    listening socket is swapped to client->server order and marked server, the rest are clients.
    Socket names are (re)generated as ``fd.name`` shows them.
    """
    listen_ports = set()
    for recs in fds.values():
        for r in recs:
            if r.type == FD_IPV4_SERVSOCK:
                listen_ports.add(r.sport)
                r.role = "server"
                r.name = f"{r.sip}:{r.sport}"
            elif r.type == FD_IPV6_SERVSOCK:
                r.role = "server"
                r.name = f"{r.sip}:{r.sport}"
            elif r.type == FD_IPV6_SOCK:
                if r.l4proto == L4_TCP:
                    r.connected = True
                ms = r.sip.ipv4_mapped if isinstance(r.sip, ipaddress.IPv6Address) else None
                md = r.dip.ipv4_mapped if isinstance(r.dip, ipaddress.IPv6Address) else None
                if ms is not None and md is not None:
                    r.type, r.sip, r.dip = FD_IPV4_SOCK, ms, md
                else:
                    r.name = _tuple_name(r)
            elif r.type == FD_UNIX_SOCK:
                r.role = "server" if r.name else "client"
    for recs in fds.values():
        for r in recs:
            if r.type != FD_IPV4_SOCK:
                continue
            if r.l4proto == L4_TCP:
                r.connected = True
            if r.sport in listen_ports:
                r.sip, r.dip, r.sport, r.dport = r.dip, r.sip, r.dport, r.sport
                r.role = "server"
            else:
                r.role = "client"
            r.name = _tuple_name(r)
