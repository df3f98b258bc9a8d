"""This machine's interface addresses, for live capture.

Falco decides which end of a socket is local (fd.lip/fd.rip/fd.lport/fd.rport/fd.lnet/fd.rnet,
fd.is_server) by comparing addresses with the machine's interfaces, and fills a missing source
address from them. A capture carries its own interface list; a live agent reads the host's: IPv4
addresses and netmasks from the kernel (SIOCGIFADDR/SIOCGIFNETMASK per interface), IPv6 addresses
from ``/proc/net/if_inet6``.
"""

from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from typing import Any

_SIOCGIFADDR, _SIOCGIFNETMASK = 0x8915, 0x891B


class Interface:
    """One address of one interface (the attributes the state engine reads)."""

    __slots__ = ("name", "addr", "netmask")

    def __init__(self, name: str, addr: Any, netmask: Any) -> None:
        self.name, self.addr, self.netmask = name, addr, netmask

    def __repr__(self) -> str:
        return f"Interface({self.name}, {self.addr}/{self.netmask})"


def _ipv4(sock: socket.socket, name: str, request: int) -> ipaddress.IPv4Address | None:
    try:
        res = fcntl.ioctl(sock.fileno(), request, struct.pack("256s", name.encode()[:15]))
    except OSError:
        return None
    return ipaddress.IPv4Address(res[20:24])


def host_interfaces(proc_root: str = "") -> list[Interface]:
    """IPv4 then IPv6 addresses of the interfaces of the current network namespace."""
    out: list[Interface] = []
    try:
        names = [n for _, n in socket.if_nameindex()]
    except OSError:
        names = []
    if names:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for n in names:
                a = _ipv4(s, n, _SIOCGIFADDR)
                if a is not None:
                    m = _ipv4(s, n, _SIOCGIFNETMASK) or ipaddress.IPv4Address("255.255.255.255")
                    out.append(Interface(n, a, m))
    try:
        with open(f"{proc_root.rstrip('/')}/proc/net/if_inet6", encoding="ascii") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and len(parts[0]) == 32:
                    out.append(Interface(parts[5], ipaddress.IPv6Address(bytes.fromhex(parts[0])),
                                         ipaddress.IPv6Address(0)))
    except (OSError, ValueError):
        pass
    return out
