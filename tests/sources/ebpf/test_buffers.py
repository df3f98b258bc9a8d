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
import time

import pytest

from tests.conftest import require_root, shared_path
from tests.sources.ebpf.livehelp import LiveRunner

PAYLOAD = bytes(range(0x21, 0x7F)) * 3  # 282 printable bytes: rendering is the bytes themselves
OUT = "%evt.type data=%evt.arg.data raw=%evt.rawarg.size res=%evt.rawres fd=%fd.name"
RULES = f"""
- rule: class file received
  desc: t
  condition: evt.type=recvfrom and evt.buffer bcontains cafebabe and fd.type=ipv4
  output: "class {OUT} buffer=%evt.buffer cport=%fd.cport sport=%fd.sport"
  priority: CRITICAL
- rule: message io on loopback
  desc: t
  condition: evt.type in (sendmsg, recvmsg, sendto) and proc.name=lanner-msgio and evt.res > 0
  output: "msg {OUT}"
  priority: NOTICE
"""


def _child(code: str, exe: object = sys.executable) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), "-c", textwrap.dedent(code)], check=True, timeout=60,
                          capture_output=True, text=True)


def _wait(r: LiveRunner, rule: str, evt_type: str, pred=lambda f: True):
    a = r.wait_alert(lambda a: a.rule == rule and a.output_fields.get("evt.type") == evt_type
                     and pred(a.output_fields), timeout=30)
    assert a is not None, (rule, evt_type, [(x.rule, x.output_fields.get("evt.type")) for x in r.alerts])
    return a.output_fields


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    require_root()
    tmp = tmp_path_factory.mktemp("bufs")
    r = LiveRunner(RULES).start()
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
        txport = tx.getsockname()[1]
        tx.close()
        assert child.wait(60) == 0
    finally:
        child.kill()
    f = _wait(r, "class file received", "recvfrom")
    assert f["evt.buffer"] == "...." + PAYLOAD[:76].decode()
    assert f["evt.rawres"] == 4 + len(PAYLOAD)
    assert f["evt.rawarg.size"] == 4096
    # an unconnected UDP socket: the sender's address comes from recvfrom's address argument
    assert (f["fd.cport"], f["fd.sport"]) == (txport, port)


IO_EVENTS = frozenset({"write", "pwrite", "writev", "pwritev", "read", "pread", "readv", "preadv"})
IO_CODES = (9, 115, 119, 123, 7, 113, 117, 121)

IO_CHILD = """
import ctypes, os, sys
sys.stdin.readline()
P = PAYLOAD
fd = os.open(PATH, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
os.write(fd, P)
os.pwrite(fd, P[::-1], 1000)
os.writev(fd, [P[:10], P[10:200]])
# os.pwritev/os.preadv make pwritev2/preadv2 calls; glibc's pwritev/preadv the plain ones
libc = ctypes.CDLL(None, use_errno=True)

def iov(*bufs):
    vec = (ctypes.c_uint64 * (2 * len(bufs)))()
    for i, b in enumerate(bufs):
        vec[2 * i], vec[2 * i + 1] = ctypes.addressof(b), len(b)
    return vec

w1, w2 = ctypes.create_string_buffer(P[:3], 3), ctypes.create_string_buffer(P[3:], len(P) - 3)
assert libc.pwritev(fd, iov(w1, w2), 2, ctypes.c_long(2000)) == len(P)
assert os.pread(fd, len(P), 0) == P
os.lseek(fd, 0, 0)
os.readv(fd, [bytearray(5), bytearray(400)])
r1, r2 = ctypes.create_string_buffer(2), ctypes.create_string_buffer(300)
assert libc.preadv(fd, iov(r1, r2), 2, ctypes.c_long(1000)) == 302
os.lseek(fd, 0, 0)
os.read(fd, 100)
os.close(fd)
"""


def _run_io_child(code: str, **names) -> int:
    """Run ``code`` (after a go line on stdin, so the source is open first); its pid."""
    prelude = "".join(f"{k} = {v!r}\n" for k, v in names.items())
    proc = subprocess.Popen([sys.executable, "-c", prelude + code], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    proc.stdin.write("go\n")
    proc.stdin.close()
    assert proc.wait(60) == 0
    return proc.pid


def _io_events(src, pid: int, want: int) -> dict[int, list]:
    """The I/O exit events of process ``pid`` by event code, waiting until ``want`` codes arrived."""
    got: dict[int, list] = {}
    end = time.monotonic() + 60
    while len(got) < want and time.monotonic() < end:
        for e in src.poll():
            if e.tid == pid and e.type in IO_CODES:
                got.setdefault(e.type, []).append(e)
        time.sleep(0.05)
    return got


def _one(got: dict, code: int, pred=lambda e: True):
    evs = [e for e in got.get(code, []) if pred(e)]
    assert evs, (code, sorted(got))
    return evs[0]


def test_write_and_read_family_carry_the_first_80_bytes(tmp_path):
    """read/write and their positional and vector variants, straight from the probe: every process's
    I/O is captured (as with -A), so the rules engine is left out to keep up on a busy machine; the
    rendering through rules is checked on a capture below."""
    require_root()
    from lanner.sources.ebpf.filters import KernelFilter
    from lanner.sources.ebpf.source import LiveSyscallSource
    with LiveSyscallSource(KernelFilter(events=IO_EVENTS), scan_proc=False) as src:
        pid = _run_io_child(IO_CHILD, PAYLOAD=PAYLOAD, PATH=str(tmp_path / "plain"))
        got = _io_events(src, pid, len(IO_CODES))
    first80, back80 = PAYLOAD[:80], PAYLOAD[::-1][:80]
    w = _one(got, 9, lambda e: e.params[0] == len(PAYLOAD))
    assert (w.raw[1], w.params[3]) == (first80, len(PAYLOAD))
    pw = _one(got, 115)
    assert (pw.raw[1], pw.params[4]) == (back80, 1000)
    wv = _one(got, 119)
    assert (wv.raw[1], wv.params[3]) == (first80, 200)
    pwv = _one(got, 123)
    assert (pwv.raw[1], pwv.params[3], pwv.params[4]) == (first80, len(PAYLOAD), 2000)
    assert _one(got, 113, lambda e: e.params[0] == len(PAYLOAD)).raw[1] == first80
    rv = _one(got, 117, lambda e: e.params[0] == 405)
    assert (rv.raw[2], rv.params[1]) == (first80, 405)  # size = bytes read
    prv = _one(got, 121, lambda e: e.params[0] == 302)
    assert (prv.raw[2], prv.params[1], prv.params[4]) == (back80, 302, 1000)
    assert _one(got, 7, lambda e: e.params[0] == 100).raw[1] == first80


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


def test_snaplen_setting_cuts_buffers():
    """falco_libs.snaplen reaches the kernel filter, and the probe cuts data there."""
    require_root()
    from lanner.sources.ebpf.filters import KernelFilter
    from lanner.sources.ebpf.source import LiveSyscallSource
    r = LiveRunner(RULES, {"falco_libs": {"snaplen": 20}}).start()
    try:
        assert r.live_source.kfilter.snaplen == 20
    finally:
        r.close()
    with LiveSyscallSource(KernelFilter(events=frozenset({"write"}), snaplen=20), scan_proc=False) as src:
        pid = _run_io_child("import os, sys\nsys.stdin.readline()\nos.write(1, PAYLOAD)\n", PAYLOAD=PAYLOAD)
        got = _io_events(src, pid, 1)
    assert _one(got, 9, lambda e: e.params[0] == len(PAYLOAD)).raw[1] == PAYLOAD[:20]


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


CAPTURE_RULES = """
- rule: marked write
  desc: t
  condition: evt.type in (write, sendto) and evt.buffer bcontains 4c414e4e45522d4d41524b
  output: "marked %evt.type data=%evt.arg.data size=%evt.rawarg.size res=%evt.rawres buflen=%evt.buflen"
  priority: WARNING
"""


def test_live_buffers_in_a_written_capture(tmp_path):
    """Live events with data buffers, written by lanner's capture writer, replayed by lanner and (when
    the reference build is here) by real Falco: same alerts, field by field."""
    require_root()
    from lanner.sources.ebpf.filters import KernelFilter
    from lanner.sources.ebpf.source import LiveSyscallSource
    from lanner.sources.scap import ScapWriter
    from tests.fields import falco_oracle as oracle

    mark = b"LANNER-MARK"
    target = tmp_path / "marked"
    with LiveSyscallSource(KernelFilter(events=frozenset({"write", "sendto"})), scan_proc=False) as src:
        _child(f"""
            import socket
            with open({str(target)!r}, "wb", buffering=0) as f:
                f.write({mark + PAYLOAD!r})
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto({mark + PAYLOAD[::-1]!r}, ("127.0.0.1", 9))
        """)
        events, end = [], time.monotonic() + 30
        while len(events) < 2 and time.monotonic() < end:
            events += [e for e in src.poll() if e.type in (9, 31) and e.raw[1].startswith(mark)]
            time.sleep(0.05)
    assert [e.type for e in events] == [9, 31]
    assert [e.raw[1] for e in events] == [(mark + PAYLOAD)[:80], (mark + PAYLOAD[::-1])[:80]]
    cap = tmp_path / "live.scap"
    with ScapWriter(cap) as w:
        w.write_metadata()
        for e in events:
            w.write(e)
    rules = tmp_path / "rules.yaml"
    rules.write_text(CAPTURE_RULES)
    got = [oracle.compact(a) for a in oracle.replay(oracle.lanner_cmd(), cap, [rules])]
    assert [(g[1], g[3]["evt.type"], g[3]["evt.arg.data"]) for g in got] == [
        ("marked write", "write", (mark + PAYLOAD)[:80].decode()),
        ("marked write", "sendto", (mark + PAYLOAD[::-1])[:80].decode())]
    why = oracle.falco_usable()
    if why is None:
        falco = [oracle.compact(a) for a in oracle.replay([str(oracle.FALCO_REF)], cap, [rules])]
        assert got == falco
