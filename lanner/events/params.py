"""Parameter decoding (wire bytes -> Python value), encoding (the reverse) and rendering.

Python value of each parameter type (``None`` = empty parameter, i.e. zero-length on the wire):

=====================================  ===========================================================
INT8..64, UINT8..64, ERRNO, FD, PID,   ``int`` (signed types sign-extended; UID/GID "none" is the
FD32, PID32, PORT, L4PROTO, SOCKFAMILY,  raw ``0xFFFFFFFF``; RELTIME/ABSTIME are ns)
BOOL, FLAGS*, ENUMFLAGS*, MODE, UID,
GID, SIGTYPE, SIGSET, SYSCALLID,
RELTIME, ABSTIME
CHARBUF, FSPATH, FSRELPATH             ``str`` up to the first NUL, UTF-8 with ``surrogateescape``;
                                       the legacy value ``(NULL)`` decodes as ``None``
BYTEBUF                                ``bytes``
SOCKADDR                               :class:`InetAddr` (family 2/10; ``ip`` is an
                                       ``ipaddress.IPv4Address``/``IPv6Address``), :class:`UnixAddr`
                                       (family 1, ``path`` str, abstract leading NUL dropped), or
                                       :class:`OtherAddr` (other family / bad length; raw ``data``)
SOCKTUPLE                              :class:`InetTuple` (``sip, sport, dip, dport``),
                                       :class:`UnixTuple` (``src, dst`` kernel pointers as int,
                                       ``path``), or :class:`OtherAddr`
FDLIST                                 ``tuple[tuple[int fd, int events], ...]``
IPV4ADDR / IPV6ADDR                    ``ipaddress.IPv4Address`` / ``IPv6Address``
DYN                                    :class:`DynValue` (``index`` selector, ``type`` PT id,
                                       ``value`` decoded as that sub-type)
CHARBUFARRAY                           ``tuple[str, ...]`` (wire: NUL-terminated strings back to back)
CHARBUF_PAIR_ARRAY                     ``tuple[tuple[str, str], ...]``
DOUBLE                                 ``float``
=====================================  ===========================================================

Rendering follows event-model.md section 2: :func:`render_plain` gives the plain string,
:func:`render_resolved` the resolved one ("" when the type has none); ``evt.arg.X`` uses the
resolved string when non-empty, else the plain one (:func:`render_arg`). Resolution that needs
state (fd names, thread comm, cwd, user names) goes through a :class:`Resolver`.
"""

from __future__ import annotations

import ipaddress
import struct
import time
from typing import Any, NamedTuple

from lanner.core.errors import LannerError
from lanner.events import flags as _flags
from lanner.events import table as T
from lanner.events.paths import concat_path
from lanner.events.syscalls import native_name

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
UID_NONE = 0xFFFFFFFF
AT_FDCWD = -100


class InetAddr(NamedTuple):
    family: int
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    port: int


class UnixAddr(NamedTuple):
    family: int
    path: str


class OtherAddr(NamedTuple):
    family: int
    data: bytes


class InetTuple(NamedTuple):
    family: int
    sip: ipaddress.IPv4Address | ipaddress.IPv6Address
    sport: int
    dip: ipaddress.IPv4Address | ipaddress.IPv6Address
    dport: int


class UnixTuple(NamedTuple):
    family: int
    src: int
    dst: int
    path: str


class DynValue(NamedTuple):
    index: int  # type: ignore[assignment]  # Falco's name for it; shadows tuple.index
    type: int
    value: object


class ParamError(LannerError, ValueError):
    """A parameter value could not be decoded (bad length or encoding)."""


# Sub-types of the DYN tables: index -> (PT id, print format).
DYN_TABLES: dict[str, tuple[tuple[int, str], ...]] = {
    "sockopt_dynamic_param": ((T.PT_BYTEBUF, "NA"), (T.PT_ERRNO, "DEC"), (T.PT_UINT32, "DEC"),
                              (T.PT_UINT64, "DEC"), (T.PT_RELTIME, "DEC")),
    "ptrace_dynamic_param": ((T.PT_UINT64, "HEX"), (T.PT_SIGTYPE, "DEC")),
    "bpf_dynamic_param": ((T.PT_FD, "DEC"), (T.PT_ERRNO, "DEC")),
    "keyctl_dynamic_param": ((T.PT_INT64, "DEC"), (T.PT_CHARBUF, "NA")),
}

_INT_WIDTH = {T.PT_INT8: 1, T.PT_INT16: 2, T.PT_INT32: 4, T.PT_INT64: 8, T.PT_UINT8: 1, T.PT_UINT16: 2,
              T.PT_UINT32: 4, T.PT_UINT64: 8, T.PT_ERRNO: 8, T.PT_FD: 8, T.PT_PID: 8, T.PT_SYSCALLID: 2,
              T.PT_SIGTYPE: 1, T.PT_RELTIME: 8, T.PT_ABSTIME: 8, T.PT_PORT: 2, T.PT_L4PROTO: 1,
              T.PT_SOCKFAMILY: 1, T.PT_BOOL: 4, T.PT_FLAGS8: 1, T.PT_FLAGS16: 2, T.PT_FLAGS32: 4,
              T.PT_UID: 4, T.PT_GID: 4, T.PT_SIGSET: 4, T.PT_MODE: 4, T.PT_ENUMFLAGS8: 1,
              T.PT_ENUMFLAGS16: 2, T.PT_ENUMFLAGS32: 4, T.PT_FD32: 4, T.PT_PID32: 4}
_SIGNED = frozenset({T.PT_INT8, T.PT_INT16, T.PT_INT32, T.PT_INT64, T.PT_ERRNO, T.PT_FD, T.PT_PID,
                     T.PT_FD32, T.PT_PID32})
INT_TYPES = frozenset(_INT_WIDTH)
STRING_TYPES = frozenset({T.PT_CHARBUF, T.PT_FSPATH, T.PT_FSRELPATH})
#: types whose empty rendering is "NULL" rather than "<NA>"
_NULL_EMPTY = frozenset({T.PT_BYTEBUF, T.PT_SOCKTUPLE, T.PT_FDLIST, T.PT_CHARBUFARRAY, T.PT_DYN})


def int_width(ptype: int) -> int:
    """Wire width of a fixed-size integer type (0 for variable-size types)."""
    return _INT_WIDTH.get(ptype, 0)


# ---------------------------------------------------------------- decoding

def _dec_signed(b: bytes) -> int:
    return int.from_bytes(b, "little", signed=True)


def _dec_unsigned(b: bytes) -> int:
    return int.from_bytes(b, "little")


def _dec_str(b: bytes) -> str | None:
    n = b.find(b"\0")
    if n >= 0:
        b = b[:n]
    if b == b"(NULL)":
        return None
    return b.decode("utf-8", "surrogateescape")


def _dec_bytes(b: bytes) -> bytes:
    return bytes(b)


def _ip(b: bytes) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.IPv4Address(bytes(b)) if len(b) == 4 else ipaddress.IPv6Address(bytes(b))


def _unix_path(b: bytes) -> str:
    if b[:1] == b"\0":
        b = b[1:]
    n = b.find(b"\0")
    if n >= 0:
        b = b[:n]
    return b.decode("utf-8", "surrogateescape")


def decode_sockaddr(b: bytes) -> InetAddr | UnixAddr | OtherAddr:
    fam = b[0]
    if fam == AF_INET and len(b) == 7:
        return InetAddr(fam, ipaddress.IPv4Address(bytes(b[1:5])), int.from_bytes(b[5:7], "little"))
    if fam == AF_INET6 and len(b) == 19:
        return InetAddr(fam, ipaddress.IPv6Address(bytes(b[1:17])), int.from_bytes(b[17:19], "little"))
    if fam == AF_UNIX and len(b) >= 1:
        return UnixAddr(fam, _unix_path(b[1:]))
    return OtherAddr(fam, bytes(b[1:]))


def decode_socktuple(b: bytes) -> InetTuple | UnixTuple | OtherAddr:
    fam = b[0]
    if fam == AF_INET and len(b) == 13:
        return InetTuple(fam, ipaddress.IPv4Address(bytes(b[1:5])), int.from_bytes(b[5:7], "little"),
                         ipaddress.IPv4Address(bytes(b[7:11])), int.from_bytes(b[11:13], "little"))
    if fam == AF_INET6 and len(b) == 37:
        return InetTuple(fam, ipaddress.IPv6Address(bytes(b[1:17])), int.from_bytes(b[17:19], "little"),
                         ipaddress.IPv6Address(bytes(b[19:35])), int.from_bytes(b[35:37], "little"))
    if fam == AF_UNIX and len(b) >= 17:
        src, dst = struct.unpack_from("<QQ", b, 1)
        return UnixTuple(fam, src, dst, _unix_path(b[17:]))
    return OtherAddr(fam, bytes(b[1:]))


def decode_fdlist(b: bytes) -> tuple[tuple[int, int], ...]:
    if len(b) < 2:
        raise ParamError(f"FDLIST of {len(b)} bytes")
    (n,) = struct.unpack_from("<H", b, 0)
    if len(b) < 2 + 10 * n:
        raise ParamError(f"FDLIST with {n} entries needs {2 + 10 * n} bytes, has {len(b)}")
    return tuple(struct.unpack_from("<qh", b, 2 + 10 * i) for i in range(n))


def _dec_strarray(b: bytes) -> tuple[str, ...]:
    parts = bytes(b).split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    return tuple(p.decode("utf-8", "surrogateescape") for p in parts)


def _dec_pairarray(b: bytes) -> tuple[tuple[str, str], ...]:
    s = _dec_strarray(b)
    return tuple(zip(s[0::2], s[1::2], strict=False))


def _dec_double(b: bytes) -> float:
    return struct.unpack("<d", b)[0]


def _make_dyn_decoder(table_name: str | None):
    subs = DYN_TABLES.get(table_name or "", ())

    def dec(b: bytes) -> DynValue:
        idx = b[0]
        if idx >= len(subs):
            return DynValue(idx, T.PT_BYTEBUF, bytes(b[1:]))
        pt = subs[idx][0]
        rest = b[1:]
        return DynValue(idx, pt, decoder_for(pt)(rest) if rest else None)

    return dec


_DECODERS = {
    T.PT_CHARBUF: _dec_str, T.PT_FSPATH: _dec_str, T.PT_FSRELPATH: _dec_str,
    T.PT_BYTEBUF: _dec_bytes, T.PT_SOCKADDR: decode_sockaddr, T.PT_SOCKTUPLE: decode_socktuple,
    T.PT_FDLIST: decode_fdlist, T.PT_IPV4ADDR: _ip, T.PT_IPV6ADDR: _ip, T.PT_IPADDR: _ip,
    T.PT_CHARBUFARRAY: _dec_strarray, T.PT_CHARBUF_PAIR_ARRAY: _dec_pairarray, T.PT_DOUBLE: _dec_double,
}
for _pt in INT_TYPES:
    _DECODERS[_pt] = _dec_signed if _pt in _SIGNED else _dec_unsigned


def decoder_for(ptype: int, table_name: str | None = None):
    """Function ``bytes -> value`` for a parameter type (non-empty input)."""
    if ptype == T.PT_DYN:
        return _make_dyn_decoder(table_name)
    return _DECODERS.get(ptype, _dec_bytes)


def _install_decoders() -> None:
    for ev in T.EVENTS:
        ev.decoders = tuple(decoder_for(p.type, p.table) for p in ev.params)


_install_decoders()


def _compile_decoder(ev: T.EventInfo):
    """One function decoding a full record of ``ev`` (every parameter present) in one expression, the
    integer types inline; a record that does not fit or a bad value is left to the general loop."""
    n = ev.nparams
    if n == 0:
        return None
    ns: dict = {"_fb": int.from_bytes}
    items = []
    for i, (p, dec) in enumerate(zip(ev.params, ev.decoders, strict=True)):
        if p.type in INT_TYPES:
            expr = f'_fb(b{i}, "little", signed=True)' if p.type in _SIGNED else f'_fb(b{i}, "little")'
        else:
            ns[f"_d{i}"] = dec
            expr = f"_d{i}(b{i})"
        items.append(f"({expr} if b{i} else None)")
    names = ", ".join(f"b{i}" for i in range(n))
    src = f"def _decode(raw):\n    {names}, = raw\n    return [{', '.join(items)}]\n"
    exec(compile(src, f"<decoder of {ev.name}>", "exec"), ns)  # noqa: S102 - built from the event table
    return ns["_decode"]


_NOT_YET: Any = object()
_FULL_DECODERS: list = [_NOT_YET] * len(T.EVENTS)     # compiled on the first full record of each type


def decode_params(info: T.EventInfo, raw: list[bytes]) -> list:
    """Decode a record's raw parameter bytes; empty -> None. Raises ParamError on bad values."""
    if len(raw) == info.nparams:
        full = _FULL_DECODERS[info.code]
        if full is _NOT_YET:
            full = _FULL_DECODERS[info.code] = _compile_decoder(info)
        if full is not None:
            try:
                return full(raw)
            except Exception:  # noqa: BLE001, S110 - the loop below names the parameter in its error
                pass
    decs = info.decoders
    out: list[Any] = []
    for i, b in enumerate(raw):
        if not b:
            out.append(None)
            continue
        dec = decs[i] if i < len(decs) else _dec_bytes
        try:
            out.append(dec(b))
        except (ValueError, IndexError, struct.error) as e:
            pname = info.params[i].name if i < info.nparams else f"#{i}"
            raise ParamError(f"event {info.name} ({info.code}) parameter {pname}: {e}") from None
    return out


# ---------------------------------------------------------------- encoding

def _enc_str(v: str) -> bytes:
    return v.encode("utf-8", "surrogateescape") + b"\0"


def encode_sockaddr(v: InetAddr | UnixAddr | OtherAddr) -> bytes:
    if isinstance(v, InetAddr):
        return bytes([v.family]) + v.ip.packed + v.port.to_bytes(2, "little")
    if isinstance(v, UnixAddr):
        return bytes([v.family]) + v.path.encode("utf-8", "surrogateescape") + b"\0"
    return bytes([v.family]) + v.data


def encode_socktuple(v: InetTuple | UnixTuple | OtherAddr) -> bytes:
    if isinstance(v, InetTuple):
        return (bytes([v.family]) + v.sip.packed + v.sport.to_bytes(2, "little") + v.dip.packed
                + v.dport.to_bytes(2, "little"))
    if isinstance(v, UnixTuple):
        return (bytes([v.family]) + struct.pack("<QQ", v.src, v.dst)
                + v.path.encode("utf-8", "surrogateescape") + b"\0")
    return bytes([v.family]) + v.data


def encode_value(ptype: int, v, table_name: str | None = None) -> bytes:
    """Wire bytes of value ``v`` (``None`` -> empty)."""
    if v is None:
        return b""
    w = _INT_WIDTH.get(ptype)
    if w:
        return (int(v) & ((1 << (8 * w)) - 1)).to_bytes(w, "little")
    if ptype in STRING_TYPES:
        return _enc_str(v)
    if ptype == T.PT_BYTEBUF:
        return bytes(v)
    if ptype == T.PT_SOCKADDR:
        return encode_sockaddr(v)
    if ptype == T.PT_SOCKTUPLE:
        return encode_socktuple(v)
    if ptype == T.PT_FDLIST:
        return struct.pack("<H", len(v)) + b"".join(struct.pack("<qh", fd, ev) for fd, ev in v)
    if ptype in (T.PT_IPV4ADDR, T.PT_IPV6ADDR, T.PT_IPADDR):
        return v.packed
    if ptype == T.PT_CHARBUFARRAY:
        return b"".join(_enc_str(s) for s in v)
    if ptype == T.PT_CHARBUF_PAIR_ARRAY:
        return b"".join(_enc_str(a) + _enc_str(b) for a, b in v)
    if ptype == T.PT_DOUBLE:
        return struct.pack("<d", v)
    if ptype == T.PT_DYN:
        subs = DYN_TABLES.get(table_name or "", ())
        sub = subs[v.index][0] if v.index < len(subs) else T.PT_BYTEBUF
        return bytes([v.index]) + encode_value(sub, v.value)
    raise ParamError(f"cannot encode parameter type {T.PT_NAMES.get(ptype, ptype)}")


def encode_params(info: T.EventInfo, values: list) -> list[bytes]:
    """Wire bytes of each value, typed per the event table (extra values are taken as bytes)."""
    out = []
    for i, v in enumerate(values):
        if i < info.nparams:
            p = info.params[i]
            out.append(encode_value(p.type, v, p.table))
        else:
            out.append(b"" if v is None else bytes(v))
    return out


def default_value_bytes(ptype: int) -> bytes:
    """The converter's ``default`` value: zeroed fixed-size value (UID/GID: 0xFFFFFFFF), else empty."""
    if ptype in (T.PT_UID, T.PT_GID):
        return b"\xff\xff\xff\xff"
    w = _INT_WIDTH.get(ptype)
    return bytes(w) if w else b""


def max_size(ptype: int, large: bool) -> int:
    """Max size a copied value may have in a parameter of this type (converter truncation)."""
    w = _INT_WIDTH.get(ptype)
    if w:
        return w
    if ptype == T.PT_DOUBLE:
        return 8
    return 0xFFFFFFFF if large else 0xFFFF


# ---------------------------------------------------------------- rendering

class Resolver:
    """State lookups used by resolved rendering; the state engine provides a subclass.

    Every method gets the event (``SyscallEvent``) so it can reach the thread; returning None means
    "not known".
    """

    def fd_string(self, ev, fd: int) -> str | None:
        """``<TP>name`` for fd ``fd`` of the event's thread (T fd type char, P l4 proto char)."""
        return None

    def fd_typechar(self, ev, fd: int) -> str | None:
        return None

    def comm(self, ev, pid: int) -> str | None:
        return None

    def cwd(self, ev) -> str | None:
        """Working directory of the event's thread, with its trailing slash."""
        return None

    def dirfd_path(self, ev, dirfd: int) -> str | None:
        """Base directory of ``dirfd`` with its trailing slash ("" when the fd is unknown)."""
        return self.cwd(ev) if dirfd == AT_FDCWD else None

    def user_name(self, ev, uid: int) -> str | None:
        return None

    def group_name(self, ev, gid: int) -> str | None:
        return None


NO_STATE = Resolver()


def empty_string(ptype: int) -> str:
    """Rendering of an empty parameter: ``NULL`` for buffers/tuples/lists/DYN, ``<NA>`` otherwise."""
    return "NULL" if ptype in _NULL_EMPTY else "<NA>"


def _fmt_int(v: int, fmt: str) -> str:
    if fmt == "HEX":
        return format(v & 0xFFFFFFFFFFFFFFFF if v < 0 else v, "X")
    if fmt == "OCT":
        return "0" + format(v, "o") if v else "0"
    return str(v)


def render_bytebuf(b: bytes) -> str:
    """Printable rendering of a buffer: printable ASCII kept, every other byte as ``.``."""
    return b.decode("latin-1").translate(_PRINTABLE)


_PRINTABLE = {i: (chr(i) if 0x20 <= i < 0x7F else ".") for i in range(256)}


def _ip_str(ip) -> str:
    return str(ip)


def _mapped(ip) -> ipaddress.IPv4Address | None:
    if ip.version == 4:
        return ip
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if int(ip) == 0:
        return ipaddress.IPv4Address(0)
    return None


def render_sockaddr(v) -> str:
    if isinstance(v, InetAddr):
        return f"{v.ip}:{v.port}"
    if isinstance(v, UnixAddr):
        return v.path
    return f"family {v.family}"


def render_socktuple(v) -> str:
    if isinstance(v, InetTuple):
        sip, dip = v.sip, v.dip
        if v.family == AF_INET6:
            ms, md = _mapped(sip), _mapped(dip)
            if ms is not None and md is not None:
                sip, dip = ms, md
        return f"{sip}:{v.sport}->{dip}:{v.dport}"
    if isinstance(v, UnixTuple):
        return f"{v.src:x}->{v.dst:x} {v.path}"
    return f"family {v.family}"


def format_abstime(ns: int) -> str:
    """``YYYY-MM-DD HH:MM:SS.nnnnnnnnn`` in local time."""
    s, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s)) + f".{frac:09d}"


def render_plain(p: T.ParamInfo, v, ev=None, resolver: Resolver = NO_STATE, ptype: int | None = None,
                 fmt: str | None = None) -> str:
    """Plain string of decoded value ``v`` of parameter ``p`` (empty -> ``<NA>``/``NULL``)."""
    pt = p.type if ptype is None else ptype
    fmt = p.fmt if fmt is None else fmt
    if v is None:
        return empty_string(pt)
    if pt in (T.PT_FLAGS8, T.PT_FLAGS16, T.PT_FLAGS32, T.PT_ENUMFLAGS8, T.PT_ENUMFLAGS16,
              T.PT_ENUMFLAGS32):
        return str(v)
    if pt == T.PT_MODE:
        return _fmt_int(v, "OCT")
    if pt in (T.PT_UID, T.PT_GID):
        return "-1" if v == UID_NONE else str(v)
    if pt == T.PT_RELTIME:
        return "none" if v == 0xFFFFFFFFFFFFFFFF else str(v)
    if pt == T.PT_ABSTIME:
        return format_abstime(v)
    if pt == T.PT_SIGSET:
        return _flags.sigset_names(v)
    if pt in _INT_WIDTH:
        return _fmt_int(v, fmt)
    if pt in STRING_TYPES:
        return v
    if pt == T.PT_BYTEBUF:
        return render_bytebuf(v)
    if pt == T.PT_SOCKADDR:
        return render_sockaddr(v)
    if pt == T.PT_SOCKTUPLE:
        return render_socktuple(v)
    if pt == T.PT_FDLIST:
        return " ".join(f"{fd & 0xFFFFFFFFFFFFFFFF}:{(resolver.fd_typechar(ev, fd) or '') if ev is not None else ''}"
                        f"{evs & 0xFFFFFFFF:x}" for fd, evs in v)
    if pt in (T.PT_IPV4ADDR, T.PT_IPV6ADDR, T.PT_IPADDR):
        return str(v)
    if pt == T.PT_CHARBUFARRAY:
        return ".".join(v)
    if pt == T.PT_CHARBUF_PAIR_ARRAY:
        return ",".join(f"{a}={b}" for a, b in v)
    if pt == T.PT_DYN:
        if v.value is None:
            return empty_string(v.type)
        sub_fmt = _dyn_fmt(p.table, v.index)
        return render_plain(p, v.value, ev, resolver, v.type, sub_fmt)
    if pt == T.PT_DOUBLE:
        return f"{v:f}"
    return repr(v)


def _dyn_fmt(table_name: str | None, idx: int) -> str:
    subs = DYN_TABLES.get(table_name or "", ())
    return subs[idx][1] if idx < len(subs) else "NA"


def syscall_name_of(ppm_sc: int | None, native: int | None) -> str | None:
    """Syscall name of a generic event: from the ppm_sc code, else from the native x86_64 number."""
    from lanner.events.ppm_sc import ppm_sc_name

    name = ppm_sc_name(ppm_sc) if ppm_sc else None
    if name is None and native is not None:
        name = native_name(native)
    return name


def render_resolved(p: T.ParamInfo, v, ev=None, resolver: Resolver = NO_STATE, params: list | None = None,
                    ptype: int | None = None) -> str:
    """Resolved string of ``v`` ("" when the type has none or it cannot be resolved)."""
    pt = p.type if ptype is None else ptype
    if v is None:
        return ""
    if pt == T.PT_ERRNO:
        return _flags.errno_name(v) if v < 0 else ""
    if pt == T.PT_FD:
        if v == AT_FDCWD:
            return "AT_FDCWD"
        if v < 0:
            return _flags.errno_name(v)
        return (resolver.fd_string(ev, v) or "") if ev is not None else ""
    if pt in (T.PT_FLAGS8, T.PT_FLAGS16, T.PT_FLAGS32, T.PT_ENUMFLAGS8, T.PT_ENUMFLAGS16,
              T.PT_ENUMFLAGS32, T.PT_MODE):
        if not p.table:
            return ""
        return _flags.render(p.table, v, T.PT_NAMES[pt])
    if pt == T.PT_PID:
        return (resolver.comm(ev, v) or "") if ev is not None else ""
    if pt == T.PT_SIGTYPE:
        return _flags.signal_name(v)
    if pt == T.PT_SYSCALLID:
        return syscall_name_of(v, None) or ""
    if pt == T.PT_RELTIME:
        return "" if v == 0xFFFFFFFFFFFFFFFF else f"{v / 1e9:g}s"
    if pt in (T.PT_UID, T.PT_GID):
        if v == UID_NONE:
            return "<NONE>"
        if ev is None:
            return ""
        name = resolver.user_name(ev, v) if pt == T.PT_UID else resolver.group_name(ev, v)
        return name or "<NA>"
    if pt == T.PT_FSPATH or pt == T.PT_FSRELPATH:
        if not v or v.startswith("/") or v == "<NA>" or ev is None:
            return ""
        base = None
        if pt == T.PT_FSRELPATH and params is not None and p.dirfd is not None:
            dirfd = params[p.dirfd] if p.dirfd < len(params) else None
            if isinstance(dirfd, int) and dirfd != AT_FDCWD:
                base = resolver.dirfd_path(ev, dirfd)
                if base is None:
                    return ""
        if base is None:
            base = resolver.cwd(ev)
        return join_path(base, v) if base is not None else ""
    if pt == T.PT_DYN:
        if v.value is None:
            return ""
        return render_resolved(p, v.value, ev, resolver, params, v.type)
    return ""


def join_path(base: str, rel: str) -> str:
    """A path argument resolved against its base directory, as libsinsp resolves it."""
    return concat_path(base, rel)


def render_arg(p: T.ParamInfo, v, ev=None, resolver: Resolver = NO_STATE, params: list | None = None) -> str:
    """``evt.arg.X`` string: resolved when non-empty, else plain."""
    if v is None:
        return empty_string(p.type)
    r = render_resolved(p, v, ev, resolver, params)
    return r if r else render_plain(p, v, ev, resolver)
