"""Field values on real captures, checked against the captures' own content."""

import ipaddress

import pytest

from lanner.fields.registry import FieldError, FieldRegistry
from lanner.fields.syscall_classes import generic_field_classes, syscall_field_classes
from lanner.sources.scap.reader import ScapReader
from lanner.state.engine import StateEngine
from tests.conftest import shared_path


def replay(name, fields, want):
    r = ScapReader(shared_path("captures", name))
    r.read_metadata()
    st = StateEngine()
    st.seed_from_capture(r)
    reg = FieldRegistry(generic_field_classes(st.hostname) + syscall_field_classes(st))
    ex = {}
    for f in fields:
        n, _, a = f.partition("[")
        ex[f] = reg.resolve("syscall", n, a[:-1] if a else None).bind()
    out = []
    for e in r:
        st.process(e)
        if not e.hidden and want(e):
            out.append((e, {f: x(e) for f, x in ex.items()}))
        st.post_process(e)
    return st, out


def test_curl_google_connect():
    _, rows = replay("curl_google.scap", ["fd.name", "fd.sip", "fd.sport", "fd.l4proto", "proc.cmdline",
                                          "proc.pname", "evt.res", "evt.arg.fd", "fd.ip", "fd.net", "fd.cnet",
                                          "fd.snet", "fd.cip"],
                     lambda e: e.info.name == "connect" and e.params[0] == -115)
    assert len(rows) == 1
    e, v = rows[0]
    assert v["fd.name"] == "2600:1f18:262c:6542:9aa6:df7a:9a47:d29e:37140->2607:f8b0:4004:802::2004:80"
    assert v["fd.sip"] == ipaddress.IPv6Address("2607:f8b0:4004:802::2004") and v["fd.sport"] == 80
    assert v["fd.l4proto"] == "tcp" and v["evt.res"] == "EINPROGRESS"
    assert v["proc.cmdline"] == "curl -6 http://www.google.com" and v["proc.pname"] == "bash"
    assert v["evt.arg.fd"] == "<6t>" + v["fd.name"]
    # the pair fields: client then server address (filter only)
    assert v["fd.ip"] == v["fd.net"] == (v["fd.cip"], v["fd.sip"]) and v["fd.cip"] is not None
    assert v["fd.cnet"] == (v["fd.cip"],) and v["fd.snet"] == (v["fd.sip"],)
    # the tuple parameter of the event is what the fd name was built from
    t = e.params[1]
    assert (t.sport, t.dport) == (37140, 80)


def test_cat_write_reads_render_data():
    _, rows = replay("cat_write.scap", ["fd.name", "evt.arg.data", "evt.arg.fd", "proc.name", "evt.buflen"],
                     lambda e: e.info.name == "read")
    v = rows[0][1]
    assert v["fd.name"] == "/lib/x86_64-linux-gnu/libc.so.6" and v["proc.name"] == "cat"
    raw = rows[0][0].params[1]
    assert raw.startswith(b"\x7fELF") and v["evt.arg.data"].startswith(".ELF") and v["evt.buflen"] == rows[0][0].params[0]
    assert v["evt.arg.fd"] == "<f>/lib/x86_64-linux-gnu/libc.so.6"


def test_single_ipv6_conn_names():
    _, rows = replay("single_ipv6_conn.scap", ["fd.name", "fd.sip", "fd.sport", "fd.typechar", "fd.is_server"],
                     lambda e: e.info.name in ("accept", "bind"))
    named: dict = {}
    for e, v in rows:
        named.setdefault(e.info.name, v)
    assert named["bind"]["fd.name"] == "2001:db8::3:1234" and named["bind"]["fd.is_server"]
    acc = named["accept"]
    assert acc["fd.name"] == "2001:db8::4:54405->2001:db8::3:1234"
    assert acc["fd.sip"] == ipaddress.IPv6Address("2001:db8::3") and acc["fd.sport"] == 1234
    assert acc["fd.typechar"] == "6"


def test_open_multiple_files():
    _, rows = replay("open-multiple-files.scap", ["fd.name", "fd.directory", "fd.filename", "evt.is_open_read",
                                                  "proc.name"],
                     lambda e: e.info.name == "open" and isinstance(e.params[1], str)
                     and e.params[1].startswith("/tmp/file-"))
    names = [v["fd.name"] for _, v in rows]
    assert names[:3] == ["/tmp/file-1", "/tmp/file-2", "/tmp/file-3"]
    assert all(v["fd.directory"] == "/tmp" and v["proc.name"] == "python" for _, v in rows)
    assert rows[0][1]["fd.filename"] == "file-1"


def test_syscall_scap_ancestry_from_process_list():
    r = ScapReader(shared_path("captures", "syscall.scap"))
    r.read_metadata()
    st = StateEngine()
    st.seed_from_capture(r)
    reg = FieldRegistry(syscall_field_classes(st))
    bash = r.threads[4883]
    parent = r.threads[bash.ptid]
    grand = r.threads[parent.ptid]

    class E:  # an event of that thread
        cache: dict = {}
        thread = st.threads.get(4883)
        ts = 0

    get = lambda n, a=None: reg.resolve("syscall", n, a).bind()(E)  # noqa: E731
    assert get("proc.name") == bash.comm == "bash"
    assert get("proc.pname") == parent.comm == get("proc.aname", "1")
    assert get("proc.aname", "2") == grand.comm
    assert get("proc.apid", "1") == parent.pid
    assert grand.comm in list(get("proc.aname"))


def test_generic_fields_are_separate_from_syscall_evt_fields():
    st = StateEngine()
    reg = FieldRegistry(generic_field_classes("h") + syscall_field_classes(st))
    assert reg.resolve("k8s_audit", "evt.num", None)
    assert reg.resolve("k8s_audit", "evt.time.iso8601", None)
    with pytest.raises(FieldError):
        reg.resolve("k8s_audit", "evt.type", None)
    with pytest.raises(FieldError):
        reg.resolve("k8s_audit", "proc.name", None)
    ref = reg.resolve("syscall", "evt.arg.flags", None)
    assert ref.arg == "flags"
    assert reg.resolve("syscall", "evt.type.is.open", None).arg == "open"
