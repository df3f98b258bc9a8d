"""Socket endpoints of a tracee's fd, for the socket tuples the probe reads from ``struct sock``.

``pidfd_getfd(2)`` copies the tracee's socket into this process (a tracer has the ptrace access it
requires); ``getsockname``/``getpeername`` on the copy give the same addresses the kernel socket holds.
Encodings follow ``lanner.events.params`` (family byte, raw address, port in host order).
"""

from __future__ import annotations

import ctypes
import os
import socket
import struct

_SYS_PIDFD_GETFD = 438
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _getfd(pid: int, fd: int) -> int:
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return -1
    try:
        return int(_libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0))
    finally:
        os.close(pidfd)


def _inet_parts(addr, v6: bool) -> tuple[bytes, int]:
    if v6:
        return socket.inet_pton(socket.AF_INET6, addr[0].split("%")[0]), addr[1]
    return socket.inet_aton(addr[0]), addr[1]


def socket_tuple(pid: int, fd: int, inbound: bool, peer: bytes = b"") -> bytes:
    """The PPM socktuple of fd ``fd`` of process ``pid`` (empty when it is not a socket or is gone).

    Outbound (connect): local -> remote; inbound (accept): remote -> local. ``peer`` (an encoded
    sockaddr, the connect address) stands in for the remote end while the kernel has no peer to report
    (a non-blocking connect still in progress), as the probe reads the destination the socket already
    holds. A Unix socket carries its own inode as source, 0 as destination (no kernel pointers in
    userspace) and the peer's path."""
    if fd < 0:
        return b""
    dup = _getfd(pid, fd)
    if dup < 0:
        return b""
    try:
        s = socket.socket(fileno=dup)
    except OSError:
        os.close(dup)
        return b""
    try:
        fam = s.family
        if fam in (socket.AF_INET, socket.AF_INET6):
            v6 = fam == socket.AF_INET6
            la, lp = _inet_parts(s.getsockname(), v6)
            try:
                ra, rp = _inet_parts(s.getpeername(), v6)
            except OSError:
                ra, rp = (b"\0" * (16 if v6 else 4)), 0
                n = 16 if v6 else 4
                if len(peer) == 3 + n and peer[0] == (10 if v6 else 2):
                    ra, rp = peer[1:1 + n], struct.unpack_from("<H", peer, 1 + n)[0]
            a, b = ((ra, rp), (la, lp)) if inbound else ((la, lp), (ra, rp))
            return bytes([10 if v6 else 2]) + a[0] + struct.pack("<H", a[1]) + b[0] + struct.pack("<H", b[1])
        if fam == socket.AF_UNIX:
            try:
                other = s.getpeername()
            except OSError:
                other = ""
            own = s.getsockname()
            name = other or own or ""
            if isinstance(name, bytes):
                name = name.lstrip(b"\0").decode(errors="surrogateescape")
            ino = os.fstat(dup).st_ino
            src, dst = (0, ino) if inbound else (ino, 0)
            return b"\x01" + struct.pack("<QQ", src, dst) + os.fsencode(name.lstrip("\0"))[:107] + b"\0"
        return b""
    except OSError:
        return b""
    finally:
        s.close()


def decode_user_sockaddr(data: bytes) -> bytes:
    """A ``struct sockaddr`` read from the tracee as the probe encodes it (empty when unreadable)."""
    if len(data) < 2:
        return b""
    fam = struct.unpack_from("<H", data)[0]
    if fam == 2:
        d = data[:16].ljust(16, b"\0")
        return b"\x02" + d[4:8] + struct.pack("<H", struct.unpack_from(">H", d, 2)[0])
    if fam == 10:
        d = data[:28].ljust(28, b"\0")
        return b"\x0a" + d[8:24] + struct.pack("<H", struct.unpack_from(">H", d, 2)[0])
    if fam == 1:
        path = data[2:110]
        if path[:1] == b"\0":
            path = path[1:]
        nul = path.find(b"\0")
        if nul >= 0:
            path = path[:nul]
        return b"\x01" + path[:107] + b"\0"
    return bytes([fam & 0xff])
