import ipaddress

import pytest

from lanner.events import params as P
from lanner.events import table as T
from lanner.events.syscall import SyscallEvent

ip = ipaddress.ip_address


class _State(P.Resolver):
    def fd_string(self, ev, fd):
        return {3: "<f>/etc/passwd"}.get(fd)

    def fd_typechar(self, ev, fd):
        return "f"

    def comm(self, ev, pid):
        return "bash" if pid == 1 else None

    def cwd(self, ev):
        return "/home/u/"

    def user_name(self, ev, uid):
        return "root" if uid == 0 else None


def _p(ptype, fmt="DEC", table=None, dirfd=None):
    return T.ParamInfo("x", T.PT_NAMES[ptype], fmt, table, dirfd)


@pytest.mark.parametrize("ptype,value,plain,resolved", [
    (T.PT_INT8, -5, "-5", ""), (T.PT_INT16, -300, "-300", ""), (T.PT_INT32, -70000, "-70000", ""),
    (T.PT_INT64, -(1 << 40), str(-(1 << 40)), ""), (T.PT_UINT8, 200, "200", ""),
    (T.PT_UINT16, 65535, "65535", ""), (T.PT_UINT32, 1 << 31, str(1 << 31), ""),
    (T.PT_UINT64, (1 << 64) - 1, str((1 << 64) - 1), ""),
    (T.PT_CHARBUF, "héllo", "héllo", ""), (T.PT_BYTEBUF, b"ab\x00\ncd\xff", "ab..cd.", ""),
    (T.PT_ERRNO, -2, "-2", "ENOENT"), (T.PT_ERRNO, 5, "5", ""),
    (T.PT_FD, 3, "3", "<f>/etc/passwd"), (T.PT_FD, -100, "-100", "AT_FDCWD"), (T.PT_FD, -9, "-9", "EBADF"),
    (T.PT_PID, 1, "1", "bash"), (T.PT_SYSCALLID, 16, "16", "getpid"), (T.PT_SIGTYPE, 9, "9", "SIGKILL"),
    (T.PT_RELTIME, 1_500_000_000, "1500000000", "1.5s"), (T.PT_RELTIME, (1 << 64) - 1, "none", ""),
    (T.PT_PORT, 8080, "8080", ""), (T.PT_L4PROTO, 2, "2", ""), (T.PT_SOCKFAMILY, 10, "10", ""),
    (T.PT_BOOL, 1, "1", ""), (T.PT_IPV4ADDR, ip("10.1.2.3"), "10.1.2.3", ""),
    (T.PT_IPV6ADDR, ip("2001:db8::1"), "2001:db8::1", ""),
    (T.PT_UID, 0, "0", "root"), (T.PT_UID, 0xFFFFFFFF, "-1", "<NONE>"), (T.PT_UID, 5, "5", "<NA>"),
    (T.PT_GID, 0xFFFFFFFF, "-1", "<NONE>"), (T.PT_SIGSET, 1 << 8, "SIGKILL", ""),
    (T.PT_FSPATH, "a/../b", "a/../b", "/home/u/b"), (T.PT_FSPATH, "/etc", "/etc", ""),
    (T.PT_FD32, -1, "-1", ""), (T.PT_PID32, 77, "77", ""),
    (T.PT_CHARBUFARRAY, ("a", "b"), "a.b", ""),
    (T.PT_FDLIST, ((3, 1), (4, 4)), "3:f1 4:f4", ""),
])
def test_roundtrip_and_render(ptype, value, plain, resolved):
    p = _p(ptype)
    ev = SyscallEvent(1, 0, 1, 3, [])
    wire = P.encode_value(ptype, value)
    assert P.decoder_for(ptype)(wire) == value
    assert P.render_plain(p, value, ev, _State()) == plain
    assert P.render_resolved(p, value, ev, _State(), [value]) == resolved


def test_int_print_formats_and_mode():
    assert P.render_plain(_p(T.PT_UINT64, "HEX"), 0xDEADBEEF) == "DEADBEEF"
    assert P.render_plain(_p(T.PT_UINT32, "OCT"), 0o644) == "0644"
    assert P.render_plain(_p(T.PT_MODE, "OCT", "chmod_mode"), 0o755) == "0755"
    assert P.render_resolved(_p(T.PT_MODE, "OCT", "chmod_mode"), 0o400) == "S_IRUSR"
    assert P.render_plain(_p(T.PT_FLAGS32, "HEX", "file_flags"), 0x1001) == "4097"
    assert P.render_resolved(_p(T.PT_FLAGS32, "HEX", "file_flags"), 0x1001) == "O_RDONLY|O_CLOEXEC"
    assert P.render_arg(_p(T.PT_FLAGS32, "HEX", "mount_flags"), 0) == "0"  # no name: decimal fallback


def test_abstime_format():
    s = P.render_plain(_p(T.PT_ABSTIME), 1_700_000_000_123_456_789)
    assert len(s) == 29 and s.endswith(".123456789") and s[4] == "-" and s[13] == ":"


def test_empty_params_render():
    for pt in (T.PT_BYTEBUF, T.PT_SOCKTUPLE, T.PT_FDLIST, T.PT_CHARBUFARRAY, T.PT_DYN):
        assert P.render_arg(_p(pt), None) == "NULL"
    for pt in (T.PT_CHARBUF, T.PT_FD, T.PT_SOCKADDR, T.PT_UINT32):
        assert P.render_arg(_p(pt), None) == "<NA>"
    assert P.decoder_for(T.PT_CHARBUF)(b"(NULL)\0") is None
    assert P.decoder_for(T.PT_CHARBUF)(b"ab\xffc\0") == "ab\udcffc"


def test_sockaddr_and_tuple_encodings():
    a = P.decode_sockaddr(bytes([2, 1, 2, 3, 4]) + (80).to_bytes(2, "little"))
    assert a == P.InetAddr(2, ip("1.2.3.4"), 80) and P.render_sockaddr(a) == "1.2.3.4:80"
    a6 = P.decode_sockaddr(bytes([10]) + ip("2001:db8::1").packed + (80).to_bytes(2, "little"))
    assert P.render_sockaddr(a6) == "2001:db8::1:80"
    u = P.decode_sockaddr(b"\x01\0abstract\0")
    assert u == P.UnixAddr(1, "abstract")
    t = P.decode_socktuple(bytes([2, 10, 0, 0, 79]) + (41566).to_bytes(2, "little")
                           + bytes([172, 217, 7, 4]) + (80).to_bytes(2, "little"))
    assert P.render_socktuple(t) == "10.0.0.79:41566->172.217.7.4:80"
    m = P.InetTuple(10, ip("::ffff:1.2.3.4"), 1, ip("::ffff:5.6.7.8"), 2)
    assert P.render_socktuple(P.decode_socktuple(P.encode_socktuple(m))) == "1.2.3.4:1->5.6.7.8:2"
    ut = P.decode_socktuple(b"\x01" + (0xffff94dc817b9400).to_bytes(8, "little") + bytes(8)
                            + b"/var/run/nscd/socket\0")
    assert P.render_socktuple(ut) == "ffff94dc817b9400->0 /var/run/nscd/socket"
    assert P.render_sockaddr(P.decode_sockaddr(b"\x11abc")) == "family 17"
    assert isinstance(P.decode_socktuple(bytes([2, 1, 2])), P.OtherAddr)  # bad length: not valid


def test_dyn_and_fsrelpath():
    info = T.info(169)  # ptrace X: addr/data DYN[ptrace_dynamic_param]
    ev = SyscallEvent.from_values(1, 0, 7, 169, [0, P.DynValue(0, T.PT_UINT64, 0x1000),
                                                 P.DynValue(1, T.PT_SIGTYPE, 9), 11, 1])
    assert ev.params[1].value == 0x1000 and ev.arg_str("addr") == "1000"
    assert ev.arg_str("data") == "SIGKILL" and ev.arg_str("request") == "PTRACE_ATTACH"
    assert info.params[1].table == "ptrace_dynamic_param"
    ev = SyscallEvent.from_values(2, 0, 7, 307, [4, -100, "x/../y.txt", 1, 0, 0, 0])
    assert ev.arg_str("name", _State()) == "/home/u/y.txt"
    assert ev.rawarg("name") == "x/../y.txt"


def test_event_helpers():
    ev = SyscallEvent.from_values(1, 5, 9, 3, [-2, "/nope", 1, 0])  # open X with 4 of 6 params
    assert ev.res == -2 and ev.has_return_value()
    assert ev.param("dev") is None and ev.arg_str("dev") is None and ev.param("name") == "/nope"
    assert ev.args_str() == "fd=-2(ENOENT) name=/nope flags=1(O_RDONLY) mode=0"
    g = SyscallEvent.from_values(2, 5, 9, 1, [16, 39])
    assert g.res is None
    assert g.type_name == "getpid" and g.args_str() == ""
    g = SyscallEvent.from_values(3, 5, 9, 1, [0, 221])
    assert g.type_name == "fadvise64"
    a = SyscallEvent.from_values(4, 5, 9, 402, [1, "container", b"{}"])
    assert a.type_name == "container" and a.source == "syscall"
    assert SyscallEvent(5, 0, 1, 22, []).hidden and not SyscallEvent(5, 0, 1, 23, []).hidden
    w = SyscallEvent.from_values(6, 0, 1, 9, [3, b"hi", 1, 2])
    assert w.res == 3 and w.has_return_value()
