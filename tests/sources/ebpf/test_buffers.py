"""Live (root): data buffers of the read/receive/write/send family, cut at ``falco_libs.snaplen``.

A child process does the I/O (lanner's own process is filtered out in the kernel); rules read
``evt.buffer`` / ``evt.arg.data`` / ``evt.rawarg.*`` and the test checks the bytes it knows. Most tests
run with ``base_syscalls.all`` (Falco's ``-A``), without which read/write and their vector/positional
variants are not captured.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import require_root, shared_path
from tests.sources.ebpf.livehelp import LiveRunner

PAYLOAD = bytes(range(0x21, 0x7F)) * 3  # 282 printable bytes: rendering is the bytes themselves
OUT = "%evt.type data=%evt.arg.data raw=%evt.rawarg.size res=%evt.rawarg.res fd=%fd.name"
RULES = f"""
- rule: class file received
  desc: t
  condition: evt.type=recvfrom and evt.buffer bcontains cafebabe and fd.type=ipv4
  output: "class {OUT} buffer=%evt.buffer"
  priority: CRITICAL
- rule: io below test dir
  desc: t
  condition: >
    evt.type in (write, pwrite, writev, pwritev, read, pread, readv, preadv)
    and fd.name startswith DIR and evt.res > 0
  output: "io {OUT}"
  priority: NOTICE
- rule: message io on loopback
  desc: t
  condition: evt.type in (sendmsg, recvmsg, sendto) and proc.name=lanner-msgio and evt.res > 0
  output: "msg {OUT}"
  priority: NOTICE
"""


def _child(code: str, exe: object = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), "-c", textwrap.dedent(code)], check=True, timeout=60,
                          capture_output=True, text=True)


def _runner(tmp_path, snaplen: int | None = None) -> LiveRunner:
    require_root()
    cfg: dict = {"base_syscalls": {"all": True}}
    if snaplen is not None:
        cfg["falco_libs"] = {"snaplen": snaplen}
    return LiveRunner(RULES.replace("DIR", str(tmp_path)), cfg).start()


def _wait(r: LiveRunner, rule: str, evt_type: str, pred=lambda f: True):
    a = r.wait_alert(lambda a: a.rule == rule and a.output_fields.get("evt.type") == evt_type
                     and pred(a.output_fields), timeout=30)
    assert a is not None, (rule, evt_type, [(x.rule, x.output_fields.get("evt.type")) for x in r.alerts])
    return a.output_fields


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bufs")
    r = _runner(tmp)
    yield r, tmp
    r.close()
    assert r.error is None, r.error


def test_received_datagram_is_alerted_on_its_bytes(live):
    r, _ = live
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    port = rx.getsockname()[1]
    rx.close()
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import socket, sys
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", {port}))
        print("ready", flush=True)
        data, _ = s.recvfrom(4096)
        print(len(data))
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        tx.sendto(b"\xca\xfe\xba\xbe" + PAYLOAD, ("127.0.0.1", port))
        tx.close()
        assert child.wait(60) == 0
    finally:
        child.kill()
    f = _wait(r, "class file received", "recvfrom")
    assert f["evt.buffer"] == "...." + PAYLOAD[:76].decode()
    assert f["evt.rawarg.res"] == 4 + len(PAYLOAD)
    assert f["evt.rawarg.size"] == 4096


def test_write_and_read_show_the_first_80_bytes(live):
    r, tmp = live
    path = tmp / "plain"
    _child(f"""
        import ctypes, os
        fd = os.open({str(path)!r}, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
        os.write(fd, {PAYLOAD!r})
        os.pwrite(fd, {PAYLOAD[::-1]!r}, 1000)
        os.writev(fd, [{PAYLOAD[:10]!r}, {PAYLOAD[10:200]!r}])
        # os.pwritev/os.preadv use pwritev2/preadv2; glibc's pwritev/preadv make the syscalls themselves
        libc = ctypes.CDLL(None, use_errno=True)

        def iov(*bufs):
            vec = (ctypes.c_uint64 * (2 * len(bufs)))()
            for i, b in enumerate(bufs):
                vec[2 * i], vec[2 * i + 1] = ctypes.addressof(b), len(b)
            return vec

        w1, w2 = ctypes.create_string_buffer({PAYLOAD[:3]!r}, 3), ctypes.create_string_buffer({PAYLOAD[3:]!r}, {len(PAYLOAD) - 3})
        assert libc.pwritev(fd, iov(w1, w2), 2, ctypes.c_long(2000)) == {len(PAYLOAD)}
        assert os.pread(fd, len({PAYLOAD!r}), 0) == {PAYLOAD!r}
        os.lseek(fd, 0, 0)
        a, b = bytearray(5), bytearray(400)
        os.readv(fd, [a, b])
        r1, r2 = ctypes.create_string_buffer(2), ctypes.create_string_buffer(300)
        assert libc.preadv(fd, iov(r1, r2), 2, ctypes.c_long(1000)) == 302
        os.lseek(fd, 0, 0)
        os.read(fd, 100)
        os.close(fd)
    """)
    first80 = PAYLOAD[:80].decode()
    w = _wait(r, "io below test dir", "write")
    assert (w["evt.arg.data"], w["evt.rawarg.res"], w["evt.rawarg.size"]) == (first80, len(PAYLOAD), len(PAYLOAD))
    pw = _wait(r, "io below test dir", "pwrite")
    assert pw["evt.arg.data"] == PAYLOAD[::-1][:80].decode()
    wv = _wait(r, "io below test dir", "writev")
    assert (wv["evt.arg.data"], wv["evt.rawarg.size"]) == (first80, 200)
    pwv = _wait(r, "io below test dir", "pwritev")
    assert (pwv["evt.arg.data"], pwv["evt.rawarg.size"]) == (first80, len(PAYLOAD))
    assert _wait(r, "io below test dir", "pread")["evt.arg.data"] == first80
    rv = _wait(r, "io below test dir", "readv")
    assert rv["evt.arg.data"] == first80
    prv = _wait(r, "io below test dir", "preadv")
    assert prv["evt.arg.data"] == PAYLOAD[::-1][:80].decode()
    rd = _wait(r, "io below test dir", "read", lambda f: f["evt.rawarg.res"] == 100)
    assert rd["evt.arg.data"] == first80


def test_message_calls_gather_their_iovecs(live):
    r, tmp = live
    exe = tmp / "lanner-msgio"
    exe.symlink_to(sys.executable)
    _child(f"""
        import socket
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        a.sendmsg([{PAYLOAD[:7]!r}, {PAYLOAD[7:150]!r}])
        data, _, _, _ = b.recvmsg(4096)
        assert data == {PAYLOAD[:150]!r}
    """, exe)
    first80 = PAYLOAD[:80].decode()
    sm = _wait(r, "message io on loopback", "sendmsg")
    assert (sm["evt.arg.data"], sm["evt.rawarg.size"]) == (first80, 150)
    rm = _wait(r, "message io on loopback", "recvmsg")
    assert (rm["evt.arg.data"], rm["evt.rawarg.size"]) == (first80, 150)


def test_snaplen_setting_cuts_buffers(tmp_path):
    r = _runner(tmp_path, snaplen=20)
    try:
        _child(f"""
            with open({str(tmp_path / "short")!r}, "wb", buffering=0) as f:
                f.write({PAYLOAD!r})
        """)
        w = _wait(r, "io below test dir", "write")
    finally:
        r.close()
    assert (w["evt.arg.data"], w["evt.rawarg.res"]) == (PAYLOAD[:20].decode(), len(PAYLOAD))


def test_upstream_java_class_download_rule(tmp_path):
    """The upstream sandbox rule (disabled there), enabled, on a process named java receiving a class;
    default configuration: as in Falco, recvfrom is captured without -A (only read/write/pread/pwrite,
    readv/writev/preadv/pwritev, recv/send and sendfile are not)."""
    rules_dir = shared_path("upstream", "rules")
    text = (rules_dir / "falco_rules.yaml").read_text() + "\n" + (rules_dir / "falco-sandbox_rules.yaml").read_text()
    text += "\n- rule: Java Process Class File Download\n  enabled: true\n"
    require_root()
    r = LiveRunner(text).start()
    assert "recvfrom" in r.live_source.kfilter.events
    java = tmp_path / "java"
    java.symlink_to(sys.executable)
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    port = rx.getsockname()[1]
    rx.close()
    try:
        child = subprocess.Popen([str(java), "-c", textwrap.dedent(f"""
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", {port}))
            print("ready", flush=True)
            s.recvfrom(4096)
        """)], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ready"
            tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tx.sendto(b"\xca\xfe\xba\xbe\x00\x00\x00\x34", ("127.0.0.1", port))
            tx.close()
            assert child.wait(60) == 0
        finally:
            child.kill()
        a = r.wait_alert(lambda a: a.rule == "Java Process Class File Download", timeout=30)
    finally:
        r.close()
    assert a is not None, sorted({x.rule for x in r.alerts})
    assert a.output_fields["evt.type"] == "recvfrom"
    assert a.output_fields["fd.type"] == "ipv4"
