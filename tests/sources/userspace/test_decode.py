"""The decoder against real memory and real fds of this process: a fake reader reads our own address
space (what the tracer's reader does for a stopped tracee), the syscalls are really made here."""

from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import struct
import sys
from pathlib import Path

import pytest

from lanner.events import params as P
from lanner.sources.userspace.decode import ENTER_NRS, NR_BY_NAME, Decoder

PID = os.getpid()
NR = NR_BY_NAME


class SelfReader:
    """Reads this process's memory: the same protocol as the tracer's reader of a tracee."""

    def read(self, tid: int, addr: int, size: int) -> bytes:
        return ctypes.string_at(addr, size)

    def read_str(self, tid: int, addr: int, maxlen: int) -> bytes | None:
        return ctypes.string_at(addr)[:maxlen]


R = SelfReader()
_keep: list = []


def cstr(s: str | bytes) -> int:
    buf = ctypes.create_string_buffer(s.encode() if isinstance(s, str) else s)
    _keep.append(buf)
    return ctypes.addressof(buf)


def cbytes(b: bytes) -> int:
    buf = ctypes.create_string_buffer(b, len(b))
    _keep.append(buf)
    return ctypes.addressof(buf)


def one(evs):
    assert len(evs) == 1, evs
    return evs[0]


def test_openat_existing_file(tmp_path):
    f = tmp_path / "data.txt"
    f.write_text("x")
    fd = os.open(f, os.O_RDONLY | os.O_CLOEXEC)
    try:
        d = Decoder()
        args = (P.AT_FDCWD & 0xFFFFFFFF, cstr(str(f)), os.O_RDONLY | os.O_CLOEXEC, 0, 0, 0)
        ent = d.enter(PID, PID, NR["openat"], args, R)
        ev = one(d.syscall(123, PID, PID, NR["openat"], args, fd, R, ent))
        st = os.stat(f)
        assert (ev.type, ev.info.name, ev.tid, ev.ts) == (307, "openat", PID, 123)
        assert ev.param("fd") == fd and ev.param("dirfd") == -100 and ev.param("name") == str(f)
        assert ev.arg_str("flags") == "O_RDONLY|O_CLOEXEC"
        assert ev.param("mode") == 0 and ev.param("ino") == st.st_ino and ev.param("dev") == st.st_dev
    finally:
        os.close(fd)


def test_open_creat_marks_created_only_when_new(tmp_path):
    d = Decoder()
    path = tmp_path / "new"
    flags = os.O_WRONLY | os.O_CREAT
    args = (cstr(str(path)), flags, 0o640, 0, 0, 0)
    assert NR["open"] in ENTER_NRS
    ent = d.enter(PID, PID, NR["open"], args, R)
    fd = os.open(path, flags, 0o640)
    os.close(fd)
    ev = one(d.syscall(1, PID, PID, NR["open"], args, fd, R, ent))
    assert set(ev.arg_str("flags").split("|")) == {"O_WRONLY", "O_CREAT", "O_F_CREATED"} and ev.param("mode") == 0o640
    ent2 = d.enter(PID, PID, NR["open"], args, R)
    ev2 = one(d.syscall(2, PID, PID, NR["open"], args, -2, R, ent2))
    assert ev2.res == -2 and "O_F_CREATED" not in ev2.arg_str("flags")


def test_relative_creat_resolved_against_the_tracee_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old").write_text("")
    d = Decoder()
    ent = d.enter(PID, PID, NR["creat"], (cstr("old"), 0o600, 0, 0, 0, 0), R)
    assert ent is not None and ent.existed is True


def test_execve_from_proc(monkeypatch):
    d = Decoder()
    args = (cstr("/bin/true"), 0, 0, 0, 0, 0)
    ent = d.enter(PID, PID, NR["execve"], args, R)
    ev = one(d.syscall(5, PID, PID, NR["execve"], args, 0, R, ent))
    assert ev.type == 293 and len(ev.raw) == 31
    cmd = Path("/proc/self/cmdline").read_bytes().split(b"\0")[:-1]
    assert ev.param("exe") == cmd[0].decode()
    assert ev.param("args") == b"".join(a + b"\0" for a in cmd[1:])
    assert ev.param("tid") == PID and ev.param("pid") == PID and ev.param("ptid") == os.getppid()
    assert ev.param("cwd") == os.getcwd()
    assert ev.param("comm") == Path("/proc/self/comm").read_text().strip()
    assert ev.param("uid") == os.geteuid() and ev.param("gid") == os.getegid()
    assert ev.param("trusted_exepath") == os.path.realpath(sys.executable)
    assert ev.param("filename") == "/bin/true"
    assert ev.param("exe_ino") == os.stat(sys.executable).st_ino
    assert b"PATH=" in ev.param("env")
    assert ev.param("cgroups").startswith(b"cpuset=/")
    assert ev.param("pgid") == os.getpgid(0)


def test_failed_execve_keeps_the_callers_image():
    d = Decoder()
    args = (cstr("/nonexistent/prog"), 0, 0, 0, 0, 0)
    ev = one(d.syscall(5, PID, PID, NR["execve"], args, -2, R, None))
    assert ev.res == -2 and ev.param("filename") == "/nonexistent/prog"
    assert ev.param("trusted_exepath") == os.path.realpath(sys.executable)


def test_clone_parent_and_child():
    d = Decoder()
    flags = 0x01200000 | 17  # CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD, as fork() calls it
    args = (flags, 0, 0, 0, 0, 0)
    d.enter(PID, PID, NR["clone"], args, R)
    child = d.new_task(10, 4242, PID, PID)
    evs = d.syscall(11, PID, PID, NR["clone"], args, 4242, R, None)
    parent = one(evs)  # the child's event came from new_task
    assert parent.type == 223 and parent.res == 4242 and parent.tid == PID and parent.param("pid") == PID
    assert child.type == 223 and child.res == 0 and child.tid == 4242
    assert (child.param("tid"), child.param("pid"), child.param("ptid")) == (4242, 4242, PID)
    assert "CLONE_CHILD_CLEARTID" in child.arg_str("flags")
    assert child.param("exe") == parent.param("exe") and child.param("cwd") == os.getcwd()


def test_clone_without_new_task_emits_both():
    d = Decoder()
    evs = d.syscall(11, PID, PID, NR["vfork"], (0,) * 6, 777, R, None)
    assert [(e.type, e.tid, e.res) for e in evs] == [(227, PID, 777), (227, 777, 0)]
    assert "CLONE_VFORK" in evs[1].arg_str("flags")


def test_thread_clone_child_shares_the_pid():
    d = Decoder()
    d.enter(PID, PID, NR["clone"], (0x10000 | 0x800 | 0x100, 0, 0, 0, 0, 0), R)
    child = d.new_task(1, 999, PID, PID)
    assert (child.param("tid"), child.param("pid")) == (999, PID)


def test_connect_tuple_and_addr():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    cli = socket.socket()
    try:
        cli.connect(("127.0.0.1", port))
        sa = struct.pack("<H", 2) + struct.pack(">H", port) + socket.inet_aton("127.0.0.1") + b"\0" * 8
        d = Decoder()
        ev = one(d.syscall(1, PID, PID, NR["connect"], (cli.fileno(), cbytes(sa), 16, 0, 0, 0), 0, R))
        assert ev.type == 23 and ev.res == 0 and ev.param("fd") == cli.fileno()
        a = ev.param("addr")
        assert (a.ip, a.port) == (ipaddress.ip_address("127.0.0.1"), port)
        t = ev.param("tuple")
        assert (str(t.sip), t.sport, str(t.dip), t.dport) == ("127.0.0.1", cli.getsockname()[1], "127.0.0.1", port)
        conn, _ = srv.accept()
        ev = one(d.syscall(1, PID, PID, NR["accept4"], (srv.fileno(), 0, 0, os.O_CLOEXEC, 0, 0), conn.fileno(), R))
        t = ev.param("tuple")
        assert ev.type == 389 and (t.sport, t.dport) == (cli.getsockname()[1], port)
        conn.close()
    finally:
        cli.close()


def test_socket_bind_listen():
    d = Decoder()
    ev = one(d.syscall(1, PID, PID, NR["socket"], (2, 1 | 0o2000000, 6, 0, 0, 0), 5, R))
    assert ev.type == 19 and ev.param("domain") == 2 and ev.arg_str("flags") == "O_CLOEXEC"
    sa = struct.pack("<H", 10) + struct.pack(">H", 8080) + b"\0" * 4 + socket.inet_pton(socket.AF_INET6, "::1") \
        + b"\0" * 4
    ev = one(d.syscall(1, PID, PID, NR["bind"], (5, cbytes(sa), 28, 0, 0, 0), 0, R))
    assert ev.type == 21 and str(ev.param("addr").ip) == "::1" and ev.param("addr").port == 8080
    ev = one(d.syscall(1, PID, PID, NR["listen"], (5, 128, 0, 0, 0, 0), 0, R))
    assert ev.type == 25 and ev.param("backlog") == 128


@pytest.mark.parametrize(("name", "args", "check"), [
    ("unlinkat", lambda: ((-100) & 0xFFFFFFFF, cstr("/tmp/.hidden"), 0x200, 0, 0, 0),
     {"dirfd": -100, "name": "/tmp/.hidden"}),
    ("unlink", lambda: (cstr("/tmp/x"), 0, 0, 0, 0, 0), {"path": "/tmp/x"}),
    ("renameat2", lambda: (3, cstr("a"), (-100) & 0xFFFFFFFF, cstr("/b"), 1, 0),
     {"olddirfd": 3, "oldpath": "a", "newdirfd": -100, "newpath": "/b", "flags": 1}),
    ("mkdirat", lambda: ((-100) & 0xFFFFFFFF, cstr("d"), 0o755, 0, 0, 0), {"path": "d", "mode": 0o755}),
    ("chmod", lambda: (cstr("/f"), 0o104755, 0, 0, 0, 0), {"filename": "/f", "mode": 0o4755}),
    ("setuid", lambda: (0, 0, 0, 0, 0, 0), {"uid": 0}),
    ("setresgid", lambda: (1, 2, 3, 0, 0, 0), {"rgid": 1, "egid": 2, "sgid": 3}),
    ("kill", lambda: (1234, 9, 0, 0, 0, 0), {"pid": 1234, "sig": 9}),
    ("dup3", lambda: (3, 4, os.O_CLOEXEC, 0, 0, 0), {"oldfd": 3, "newfd": 4, "flags": 0x1000}),
    ("close", lambda: (7, 0, 0, 0, 0, 0), {"fd": 7}),
    ("chdir", lambda: (cstr("/tmp"), 0, 0, 0, 0, 0), {"path": "/tmp"}),
])
def test_simple_families(name, args, check):
    ev = one(Decoder().syscall(9, PID, PID, NR[name], args(), 0, R))
    assert ev.info.name == name
    for k, v in check.items():
        assert ev.param(k) == v, (k, ev.args_str())


def test_ptrace_request_and_dyn_params():
    ev = one(Decoder().syscall(1, PID, PID, NR["ptrace"], (16, 4321, 0x10, 0x20, 0, 0), 0, R))
    assert ev.type == 169 and ev.arg_str("request") == "PTRACE_ATTACH" and ev.param("pid") == 4321
    assert ev.param("addr").value == 0x10 and ev.param("data").value == 0x20


def test_pipe2_reads_fds_from_memory():
    r, w = os.pipe()
    try:
        arr = cbytes(struct.pack("<ii", r, w))
        ev = one(Decoder().syscall(1, PID, PID, NR["pipe2"], (arr, os.O_CLOEXEC, 0, 0, 0, 0), 0, R))
        assert (ev.param("fd1"), ev.param("fd2")) == (r, w) and ev.param("ino") == os.fstat(r).st_ino
    finally:
        os.close(r)
        os.close(w)


def test_write_data_snaplen():
    data = b"A" * 200
    ev = one(Decoder(snaplen=80).syscall(1, PID, PID, NR["write"], (1, cbytes(data), 200, 0, 0, 0), 200, R))
    assert ev.type == 9 and ev.param("data") == b"A" * 80 and ev.param("size") == 200


def test_generic_and_procexit():
    d = Decoder()
    ev = one(d.syscall(1, PID, PID, NR["getppid"], (0,) * 6, 1, R))
    assert ev.type == 1 and ev.type_name == "getppid"
    ex = d.exit(2, 55, 3 << 8)
    assert ex.type == 186 and ex.param("ret") == 3 and ex.param("sig") == 0
    ex = d.exit(2, 55, 9 | 0x80)
    assert ex.param("sig") == 9 and ex.param("core") == 1


def test_bad_pointer_gives_empty_param():
    class Faulting(SelfReader):
        def read_str(self, tid, addr, maxlen):
            return None

    ev = one(Decoder().syscall(1, PID, PID, NR["unlink"], (0xdead, 0, 0, 0, 0, 0), -14, Faulting()))
    assert ev.res == -14 and ev.param("path") is None


def test_nonblocking_connect_in_progress_has_the_destination():
    cli = socket.socket()
    cli.setblocking(False)
    try:
        # TEST-NET-1 is never answered: the connect stays in progress (or fails at once without a route)
        rc = cli.connect_ex(("192.0.2.1", 9))
        assert rc in (115, 101, 113), rc
        sa = struct.pack("<H", 2) + struct.pack(">H", 9) + socket.inet_aton("192.0.2.1") + b"\0" * 8
        ev = one(Decoder().syscall(1, PID, PID, NR["connect"], (cli.fileno(), cbytes(sa), 16, 0, 0, 0), -rc, R))
        if rc == 115:
            t = ev.param("tuple")
            assert (str(t.dip), t.dport) == ("192.0.2.1", 9) and t.sport == cli.getsockname()[1]
        else:
            assert ev.param("tuple") is None  # failed at once: the probe writes no tuple either
    finally:
        cli.close()


def test_sendmmsg_one_event_per_message():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        bufs = [ctypes.create_string_buffer(m) for m in (b"first", b"second!")]
        _keep.extend(bufs)
        iovs = [struct.pack("<QQ", ctypes.addressof(x), len(x.raw) - 1) for x in bufs]
        iov_addrs = [cbytes(v) for v in iovs]
        vec = b"".join(struct.pack("<QIxxxxQQQQI4xI4x", 0, 0, addr, 1, 0, 0, 0, n)
                       for addr, n in zip(iov_addrs, (5, 7), strict=True))
        d = Decoder()
        evs = d.syscall(1, PID, PID, NR["sendmmsg"], (a.fileno(), cbytes(vec), 2, 0, 0, 0), 2, R)
        assert [(e.type, e.res, e.param("data"), e.param("size")) for e in evs] == [(51, 5, b"first", 5),
                                                                                  (51, 7, b"second!", 7)]
        none = d.syscall(1, PID, PID, NR["recvmmsg"], (b.fileno(), 0, 2, 0, 0, 0), -11, R)
        assert [(e.type, e.res, e.param("fd")) for e in none] == [(55, -11, b.fileno())]
    finally:
        a.close()
        b.close()


def test_exited_threads_are_forgotten():
    d = Decoder()
    for tid in range(10_000, 16_000):
        d.note_creator(tid + 100_000, tid)
        d.exit(1, tid + 100_000, 0)
        d.exit(1, tid, 0)
    assert not d._creator and len(d._exited) <= 4097
