"""File-descriptor state (event-model 6): fd types, one record per open fd, Falco's ``fd.name`` formats,
path normalisation and socket tuples.

A process owns one fd table (a plain ``dict[int, FdInfo]``) shared by all its threads; a fork copies it.
Socket endpoints are stored Falco-style: ``sip/sport`` = the *client* end, ``dip/dport`` = the *server*
end (for a listening socket only ``dip/dport`` are set), so ``fd.cip`` = ``sip`` and ``fd.sip`` = ``dip``.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Any

from lanner.events.paths import MAX_PATH, concat_path, normalize  # noqa: F401 - re-exported

# scap fd types (event-model 6.2)
UNKNOWN, FILE, DIRECTORY, IPV4_SOCK, IPV6_SOCK, IPV4_SERVSOCK, IPV6_SERVSOCK = 0, 1, 2, 3, 4, 5, 6
FIFO, UNIX_SOCK, EVENT, UNSUPPORTED, SIGNALFD, EVENTPOLL, INOTIFY, TIMERFD = 7, 8, 9, 10, 11, 12, 13, 14
NETLINK, FILE_V2, BPF, USERFAULTFD, IOURING, MEMFD, PIDFD = 15, 16, 17, 18, 19, 20, 21

TYPECHAR = {UNKNOWN: "o", FILE: "f", FILE_V2: "f", DIRECTORY: "d", IPV4_SOCK: "4", IPV4_SERVSOCK: "4",
            IPV6_SOCK: "6", IPV6_SERVSOCK: "6", FIFO: "p", UNIX_SOCK: "u", EVENT: "e", UNSUPPORTED: "X",
            SIGNALFD: "s", EVENTPOLL: "l", INOTIFY: "i", TIMERFD: "t", NETLINK: "n", BPF: "b",
            USERFAULTFD: "u", IOURING: "r", MEMFD: "m", PIDFD: "P"}
TYPENAME = {FILE: "file", FILE_V2: "file", DIRECTORY: "directory", IPV4_SOCK: "ipv4", IPV4_SERVSOCK: "ipv4",
            IPV6_SOCK: "ipv6", IPV6_SERVSOCK: "ipv6", FIFO: "pipe", UNIX_SOCK: "unix", EVENT: "event",
            SIGNALFD: "signalfd", EVENTPOLL: "eventpoll", INOTIFY: "inotify", TIMERFD: "timerfd",
            NETLINK: "netlink", BPF: "bpf", USERFAULTFD: "userfaultfd", IOURING: "io_uring", MEMFD: "memfd",
            PIDFD: "pidfd"}
IP_TYPES = frozenset({IPV4_SOCK, IPV6_SOCK, IPV4_SERVSOCK, IPV6_SERVSOCK})
SOCK_TYPES = frozenset({IPV4_SOCK, IPV6_SOCK})
SERVER_TYPES = frozenset({IPV4_SERVSOCK, IPV6_SERVSOCK})
FILE_TYPES = frozenset({FILE, FILE_V2, DIRECTORY})

# l4 protocols (scap values)
L4_UNKNOWN, L4_NA, L4_TCP, L4_UDP, L4_ICMP, L4_RAW = 0, 1, 2, 3, 4, 5
L4NAME = {L4_TCP: "tcp", L4_UDP: "udp", L4_ICMP: "icmp", L4_RAW: "raw"}
L4CHAR = {L4_TCP: "t", L4_UDP: "u", L4_ICMP: "i", L4_RAW: "r"}

# role flags (a socket can carry both, as in Falco)
ROLE_NONE, ROLE_CLIENT, ROLE_SERVER = 0, 1, 2

O_CLOEXEC = 0x1000
O_DIRECTORY = 0x400


class FdInfo:
    """One open descriptor."""

    __slots__ = ("type", "name", "nameraw", "openflags", "dev", "ino", "l4", "sip", "dip", "sport", "dport",
                 "role", "connected", "usrc", "udst", "pid", "cloned", "oldname")

    def __init__(self, type_: int, name: str = "", openflags: int = 0) -> None:
        self.type = type_
        self.name = name
        self.nameraw = ""
        self.openflags = openflags
        self.dev = 0
        self.ino = 0
        self.l4 = L4_UNKNOWN
        self.sip: Any = None
        self.dip: Any = None
        self.sport = 0
        self.dport = 0
        self.role = ROLE_NONE
        self.connected = False
        self.usrc = 0
        self.udst = 0
        self.pid = 0
        self.cloned = False
        # the name when an event last looked this fd up (fd.name_changed compares it with name)
        self.oldname = ""

    def copy(self) -> FdInfo:
        c = FdInfo.__new__(FdInfo)
        for s in FdInfo.__slots__:
            setattr(c, s, getattr(self, s))
        return c

    @property
    def typechar(self) -> str:
        return TYPECHAR.get(self.type, "?")

    def l4_effective(self) -> int:
        """Falco's protocol of the fd: raw always, none for a socket without a role, NA for non-IP fds."""
        t = self.type
        if t in SOCK_TYPES:
            if self.l4 == L4_RAW:
                return L4_RAW
            return self.l4 if self.role else L4_NA
        if t in SERVER_TYPES:
            return self.l4
        return L4_NA

    def is_socket(self) -> bool:
        return self.type in IP_TYPES or self.type == UNIX_SOCK

    def render_tuple_name(self) -> str:
        """``fd.name`` of an IP socket from its endpoints, as Falco writes it."""
        if self.type in SERVER_TYPES:
            return f"{self.dip}:{self.dport}"
        l4 = self.l4
        if l4 in (L4_TCP, L4_UDP):
            return f"{self.sip}:{self.sport}->{self.dip}:{self.dport}"
        if l4 == L4_ICMP or (l4 == L4_RAW and self.type == IPV4_SOCK):
            return f"{self.sip}->{self.dip}"
        return "<unknown>"

    def __repr__(self) -> str:
        return f"FdInfo({TYPENAME.get(self.type, self.type)!s}, {self.name!r})"


# ---------------------------------------------------------------------------------------------- paths

def dirname(name: str) -> str:
    """``fd.directory``: the part before the last ``/`` (``/`` for top-level entries)."""
    i = name.rfind("/")
    if i <= 0:
        return "/" if i == 0 else name
    return name[:i]


def basename(name: str) -> str:
    i = name.rfind("/")
    return name[i + 1:] if i >= 0 else name


# -------------------------------------------------------------------------------------------- sockets

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
_V4MAPPED = b"\x00" * 10 + b"\xff\xff"


class Addr:
    """A decoded SOCKADDR: family, ip (ipaddress object), port, or unix path."""

    __slots__ = ("family", "ip", "port", "path")

    def __init__(self, family: int, ip: Any = None, port: int = 0, path: str = "") -> None:
        self.family, self.ip, self.port, self.path = family, ip, port, path


class Tuple:
    """A decoded SOCKTUPLE (as carried by the event: outbound local->remote, inbound remote->local)."""

    __slots__ = ("family", "sip", "sport", "dip", "dport", "usrc", "udst", "path")

    def __init__(self, family: int, sip: Any = None, sport: int = 0, dip: Any = None, dport: int = 0,
                 usrc: int = 0, udst: int = 0, path: str = "") -> None:
        self.family, self.sip, self.sport, self.dip, self.dport = family, sip, sport, dip, dport
        self.usrc, self.udst, self.path = usrc, udst, path


def _ip6(b: bytes) -> Any:
    return ipaddress.IPv6Address(b)


def _cstr(b: bytes) -> str:
    i = b.find(b"\0")
    if i >= 0:
        b = b[:i]
    return b.decode("utf-8", "surrogateescape")


def parse_sockaddr(v: Any) -> Addr | None:
    """Decode a SOCKADDR parameter (raw bytes per event-model 2.2, or an already decoded object)."""
    if v is None:
        return None
    if isinstance(v, Addr):
        return v
    if not isinstance(v, (bytes, bytearray, memoryview)):
        return _from_obj_addr(v)
    b = bytes(v)
    if not b:
        return None
    fam = b[0]
    if fam == AF_INET and len(b) == 7:
        return Addr(AF_INET, ipaddress.IPv4Address(b[1:5]), int.from_bytes(b[5:7], "little"))
    if fam == AF_INET6 and len(b) == 19:
        return Addr(AF_INET6, _ip6(b[1:17]), int.from_bytes(b[17:19], "little"))
    if fam == AF_UNIX and len(b) >= 1:
        p = b[1:]
        if p[:1] == b"\0":
            p = p[1:]
        return Addr(AF_UNIX, path=_cstr(p))
    return Addr(fam)


def parse_tuple(v: Any) -> Tuple | None:
    """Decode a SOCKTUPLE parameter (raw bytes, or an already decoded object); None if invalid."""
    if v is None:
        return None
    if isinstance(v, Tuple):
        return v
    if not isinstance(v, (bytes, bytearray, memoryview)):
        return _from_obj_tuple(v)
    b = bytes(v)
    if not b:
        return None
    fam = b[0]
    if fam == AF_INET and len(b) == 13:
        return Tuple(AF_INET, ipaddress.IPv4Address(b[1:5]), int.from_bytes(b[5:7], "little"),
                     ipaddress.IPv4Address(b[7:11]), int.from_bytes(b[11:13], "little"))
    if fam == AF_INET6 and len(b) == 37:
        s, d = b[1:17], b[19:35]
        sport, dport = int.from_bytes(b[17:19], "little"), int.from_bytes(b[35:37], "little")
        if _mapped_or_zero(s) and _mapped_or_zero(d):
            return Tuple(AF_INET, ipaddress.IPv4Address(s[12:]), sport, ipaddress.IPv4Address(d[12:]), dport)
        return Tuple(AF_INET6, _ip6(s), sport, _ip6(d), dport)
    if fam == AF_UNIX and len(b) >= 18 and b[-1] == 0:
        p = b[17:]
        if p[:1] == b"\0":
            p = p[1:]
        return Tuple(AF_UNIX, usrc=int.from_bytes(b[1:9], "little"), udst=int.from_bytes(b[9:17], "little"),
                     path=_cstr(p))
    return None


class _TextOnce:
    """The text of an interned address, computed once: fd names render the addresses of every connect
    and accept. Mixed into subclasses of the ``ipaddress`` classes, which they equal and hash like."""

    __slots__ = ()
    _text: str
    _plain: type

    def __str__(self) -> str:
        return self._text

    def __format__(self, fmt: str) -> str:
        return self._text if not fmt else super().__format__(fmt)

    def __repr__(self) -> str:
        return f"{self._plain.__name__}({self._text!r})"


class _IPv4(_TextOnce, ipaddress.IPv4Address):
    __slots__ = ("_text",)
    _plain = ipaddress.IPv4Address

    def __init__(self, address: Any) -> None:
        super().__init__(address)
        self._text = ipaddress.IPv4Address.__str__(self)


class _IPv6(_TextOnce, ipaddress.IPv6Address):
    __slots__ = ("_text",)
    _plain = ipaddress.IPv6Address

    def __init__(self, address: Any) -> None:
        super().__init__(address)
        self._text = ipaddress.IPv6Address.__str__(self)


_IP_CACHE: dict[bytes, Any] = {}
_IP_CACHE_MAX = 4096


def interned_ip(packed: bytes) -> Any:
    """The address of 4 or 16 packed bytes, one shared object per value (bounded cache): a busy socket
    mix repeats the same few addresses, and building and printing an ``ipaddress`` object costs more than
    the rest of a connect's state update."""
    ip = _IP_CACHE.get(packed)
    if ip is None:
        if len(_IP_CACHE) >= _IP_CACHE_MAX:
            _IP_CACHE.clear()
        ip = _IP_CACHE[packed] = _IPv4(packed) if len(packed) == 4 else _IPv6(packed)
    return ip


_QQ = struct.Struct("<QQ").unpack_from
_T4 = struct.Struct("<x4sH4sH").unpack_from


def tuple_from_raw(b: bytes) -> Tuple | None:
    """``parse_tuple`` of a decoded SOCKTUPLE parameter, read straight from its record bytes (the same
    values, without decoding the event's other parameters; addresses interned). None if empty/invalid."""
    if not b:
        return None
    fam = b[0]
    n = len(b)
    if fam == AF_INET and n == 13:
        s4, sport, d4, dport = _T4(b)
        return Tuple(AF_INET, interned_ip(s4), sport, interned_ip(d4), dport)
    if fam == AF_INET6 and n == 37:
        s, d = b[1:17], b[19:35]
        sport, dport = int.from_bytes(b[17:19], "little"), int.from_bytes(b[35:37], "little")
        if _mapped_or_zero(s) and _mapped_or_zero(d):
            return Tuple(AF_INET, interned_ip(s[12:]), sport, interned_ip(d[12:]), dport)
        return Tuple(AF_INET6, interned_ip(s), sport, interned_ip(d), dport)
    if fam == AF_UNIX and n >= 17:
        src, dst = _QQ(b, 1)
        p = b[17:]
        if p[:1] == b"\0":
            p = p[1:]
        return Tuple(AF_UNIX, usrc=src, udst=dst, path=_cstr(p))
    return None


def _mapped_or_zero(b: bytes) -> bool:
    return b[:12] == _V4MAPPED or b == b"\0" * 16


def _from_obj_addr(v: Any) -> Addr | None:
    """From the event decoder's InetAddr / UnixAddr / OtherAddr."""
    fam = getattr(v, "family", None)
    if fam is None:
        return None
    if hasattr(v, "ip"):
        return Addr(fam, v.ip, v.port)
    if hasattr(v, "path"):
        return Addr(fam, path=v.path)
    return Addr(fam)


def _from_obj_tuple(v: Any) -> Tuple | None:
    """From the event decoder's InetTuple / UnixTuple (OtherAddr = invalid tuple -> None)."""
    fam = getattr(v, "family", None)
    if fam == AF_UNIX and hasattr(v, "src"):
        return Tuple(AF_UNIX, usrc=v.src, udst=v.dst, path=v.path)
    if fam in (AF_INET, AF_INET6) and hasattr(v, "sip"):
        sip, dip = v.sip, v.dip
        if fam == AF_INET6:
            s4, d4 = _v4(sip), _v4(dip)
            if s4 is not None and d4 is not None:
                return Tuple(AF_INET, s4, v.sport, d4, v.dport)
        return Tuple(fam, sip, v.sport, dip, v.dport)
    return None


def _v4(ip: Any) -> Any:
    if ip.version == 4:
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if int(ip) == 0:
        return ipaddress.IPv4Address(0)
    return None


def render_sockaddr(a: Addr) -> str:
    if a.family in (AF_INET, AF_INET6):
        return f"{a.ip}:{a.port}"
    if a.family == AF_UNIX:
        return a.path
    return f"family {a.family}"


def render_tuple(t: Tuple) -> str:
    if t.family in (AF_INET, AF_INET6):
        return f"{t.sip}:{t.sport}->{t.dip}:{t.dport}"
    if t.family == AF_UNIX:
        return f"{t.usrc:x}->{t.udst:x} {t.path}"
    return f"family {t.family}"


# ------------------------------------------------------------------------------------ socket creation

_SOCK_STREAM, _SOCK_DGRAM, _SOCK_RAW = 1, 2, 3
_IPPROTO_ICMP, _IPPROTO_TCP, _IPPROTO_UDP, _IPPROTO_ICMPV6, _IPPROTO_RAW = 1, 6, 17, 58, 255


def new_socket(domain: int | None, stype: int | None, proto: int | None, flags: int = 0) -> FdInfo:
    """The entry socket() creates (Falco's add_socket): addresses zero, no role."""
    stype = stype or 0
    proto = proto or 0
    if domain == AF_UNIX:
        return FdInfo(UNIX_SOCK, "", flags)
    if domain in (AF_INET, AF_INET6):
        fd = FdInfo(IPV4_SOCK if domain == AF_INET else IPV6_SOCK, "", flags)
        l4 = L4_UNKNOWN
        if proto == _IPPROTO_TCP:
            l4 = L4_RAW if stype == _SOCK_RAW else L4_TCP
        elif proto == _IPPROTO_UDP:
            l4 = L4_RAW if stype == _SOCK_RAW else L4_UDP
        elif proto == 0:
            base = stype & 0xFF
            l4 = L4_TCP if base == _SOCK_STREAM else L4_UDP if base == _SOCK_DGRAM else L4_UNKNOWN
        elif proto == _IPPROTO_ICMP:
            l4 = L4_RAW if stype == _SOCK_RAW else L4_ICMP
        elif proto == _IPPROTO_RAW:
            l4 = L4_RAW
        fd.l4 = l4
        zero = _ZERO4 if domain == AF_INET else _ZERO6
        fd.sip = fd.dip = zero
        return fd
    if domain == AF_NETLINK:
        return FdInfo(NETLINK, "", flags)
    return FdInfo(UNKNOWN, "", flags)


ZERO4 = _ZERO4 = ipaddress.IPv4Address(0)
ZERO6 = _ZERO6 = ipaddress.IPv6Address(0)
_LOOPBACK4 = ipaddress.IPv4Address("127.0.0.1")
_LOOPBACK6 = ipaddress.IPv6Address("::1")


def as_v4(ip: Any) -> Any:
    """An IPv4-mapped (or all-zero) IPv6 address as the IPv4 address Falco takes it for."""
    if ip.version == 6:
        b = ip.packed
        if b[:12] == _V4MAPPED or b == bytes(16):
            return ipaddress.IPv4Address(b[12:])
    return ip


def _zero_for(ip: Any) -> Any:
    return _ZERO4 if ip.version == 4 else _ZERO6


def set_addresses(fd: FdInfo, sip: Any, sport: int, dip: Any, dport: int, overwrite_dest: bool = True) -> bool:
    """Falco's update of a socket's endpoints from a tuple; False when nothing changed.

    The source always follows the tuple; the destination when unset or ``overwrite_dest`` (Falco's default).
    """
    same_family = fd.type == (IPV4_SOCK if sip.version == 4 else IPV6_SOCK)
    osip, odip = fd.sip, fd.dip
    zero = _zero_for(sip)
    if osip is None or osip.version != sip.version:
        osip = zero
    if odip is None or odip.version != sip.version:
        odip = zero
    if same_family and ((sip == osip and sport == fd.sport and dip == odip and dport == fd.dport)
                        or (dip == osip and dport == fd.sport and sip == odip and sport == fd.dport)):
        return False
    changed = False
    if osip != sip:
        changed = True
    fd.sip = sip
    if fd.sport != sport:
        fd.sport = sport
        changed = True
    if odip == zero or (overwrite_dest and odip != dip):
        fd.dip = dip
        changed = True
    else:
        fd.dip = odip
    if fd.dport == 0 or (overwrite_dest and fd.dport != dport):
        fd.dport = dport
        changed = True
    return changed


def swap_addresses(fd: FdInfo) -> None:
    fd.sip, fd.sport, fd.dip, fd.dport = fd.dip, fd.dport, fd.sip, fd.sport


def is_local_address(interfaces: Any, ip: Any) -> bool:
    """Falco's "address of this machine": an IPv4 address of an interface, an IPv6 address in the
    /64 of one."""
    if ip is None:
        return False
    if ip.version == 4:
        for i in interfaces:
            a = i.addr
            if a.version == 4 and a == ip:
                return True
        return False
    top = ip.packed[:8]
    for i in interfaces:
        a = i.addr
        if a.version == 6 and a.packed[:8] == top:
            return True
    return False


def _infer_address(interfaces: Any, dest: Any) -> Any:
    """The local interface address a packet to ``dest`` most likely leaves from (Falco's guess)."""
    v = dest.version
    cands = [i for i in interfaces if i.addr.version == v]
    for i in cands:
        if i.addr == dest:
            return i.addr
    if v == 4:
        d = int(dest)
        for i in cands:
            m = int(i.netmask)
            if int(i.addr) & m == d & m:
                return i.addr
        for i in cands:
            if i.addr != _LOOPBACK4:
                return i.addr
        return _ZERO4
    top = dest.packed[:8]
    for i in cands:
        if i.addr.packed[:8] == top:
            return i.addr
    for i in cands:
        if i.addr != _LOOPBACK6:
            return i.addr
    return _ZERO6


def patch_local_address(fd: FdInfo, interfaces: Any) -> None:
    """Fill an unset source or destination address from the interface list (Falco's network
    interfaces update of an incomplete tuple)."""
    if fd.type not in SOCK_TYPES:
        return
    zero = _ZERO4 if fd.type == IPV4_SOCK else _ZERO6
    if fd.sip != zero and fd.dip != zero:
        return
    if fd.sip == zero:
        new = _infer_address(interfaces, fd.dip)
        if new == fd.dip and fd.sport == fd.dport:
            return
        fd.sip = new
    else:
        new = _infer_address(interfaces, fd.sip)
        if new == fd.sip and fd.sport == fd.dport:
            return
        fd.dip = new


def update_from_tuple(fd: FdInfo, t: Tuple, interfaces: Any) -> bool:
    """Falco's update of an fd from a send/recv tuple; False when the tuple is invalid or changed nothing."""
    fam = t.family
    if fam == AF_INET:
        if fd.type == IPV6_SERVSOCK:
            # Falco reads the protocol through its IPv4 view of the IPv6 server address
            fd.l4 = fd.dip.packed[12] if fd.dip is not None else L4_UNKNOWN
        fd.type = IPV4_SOCK
        if not set_addresses(fd, t.sip, t.sport, t.dip, t.dport):
            return False
    elif fam == AF_INET6:
        if fd.type in SERVER_TYPES:
            # Falco keeps the server type and its server view now reads bytes of the tuple
            s, d = t.sip.packed, t.dip.packed
            if fd.type == IPV4_SERVSOCK:
                fd.dip, fd.dport, fd.l4 = ipaddress.IPv4Address(s[:4]), int.from_bytes(s[4:6], "little"), s[6]
            else:
                fd.dip, fd.dport, fd.l4 = t.sip, int.from_bytes(d[:2], "little"), d[2]
            return True
        fd.type = IPV6_SOCK
        if not set_addresses(fd, t.sip, t.sport, t.dip, t.dport):
            return False
    elif fam == AF_UNIX:
        fd.type = UNIX_SOCK
        fd.usrc, fd.udst = t.usrc, t.udst
        fd.name = t.path
        return True
    else:
        return False
    if fd.l4 == L4_UNKNOWN:
        fd.l4 = L4_UDP
    patch_local_address(fd, interfaces)
    return True


def bound_to_port(fds: dict[int, FdInfo], port: int) -> bool:
    return any((f.type == IPV4_SOCK or f.type == IPV4_SERVSOCK) and f.dport == port for f in fds.values())


def uses_client_port(fds: dict[int, FdInfo], port: int) -> bool:
    return any(f.type == IPV4_SOCK and f.sport == port for f in fds.values())


def guess_role(fd: FdInfo, fds: dict[int, FdInfo], incoming: bool) -> None:
    """Falco's role guess for a socket first seen in a send/recv: owner of the port = server.

    Falco reads the ports through its IPv4 view of the socket; for an IPv6 socket those bytes lie
    inside the source address, and the guess uses them the same way.
    """
    if fd.type == IPV6_SOCK:
        b = fd.sip.packed if fd.sip is not None else bytes(16)
        sport, dport = int.from_bytes(b[8:10], "little"), int.from_bytes(b[10:12], "little")
    else:
        sport, dport = fd.sport, fd.dport
    if not bound_to_port(fds, dport):
        fd.role |= ROLE_CLIENT
        return
    if not uses_client_port(fds, sport):
        fd.role |= ROLE_SERVER
        return
    if not fd.role:
        fd.role |= ROLE_SERVER if incoming else ROLE_CLIENT
