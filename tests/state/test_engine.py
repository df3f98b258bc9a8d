import ipaddress

from lanner.events.params import InetTuple, UnixTuple
from lanner.events.syscall import SyscallEvent
from lanner.state.engine import StateEngine
from lanner.state.fds import concat_path

CLONE_THREAD = 0x2000
_num = [0]


def ev(code, tid, values, ts=None):
    _num[0] += 1
    return SyscallEvent.from_values(_num[0], ts if ts is not None else _num[0] * 1000, tid, code, values)


def run(st, e):
    st.process(e)
    st.post_process(e)
    return e


def clone_vals(res, exe, args, tid, pid, ptid, comm, flags=0, cgroups=b"", uid=1000, gid=1000):
    return [res, exe, args, tid, pid, ptid, "/", 1024, 0, 0, 0, 0, 0, comm, cgroups, flags, uid, gid, tid, pid, 0]


def execve_vals(exe, args, tid, pid, ptid, comm, cwd="/home", env=b"A=1\0", cgroups=b""):
    v = [0, exe, args, tid, pid, ptid, cwd, 1024, 0, 0, 0, 0, 0, comm, cgroups, env, 0, pid, 1000, 0, 0, 0, 0,
         0, 0, 0, 1000, "/usr/bin/" + exe, pid, 1000, "/usr/bin/" + exe]
    return v


def seeded():
    st = StateEngine()
    st.seed_thread({"tid": 1, "pid": 1, "ptid": 0, "comm": "systemd", "exe": "/sbin/init", "cwd": "/"})
    st.seed_thread({"tid": 100, "pid": 100, "ptid": 1, "comm": "bash", "exe": "bash", "cwd": "/root",
                    "uid": 0, "vtid": 100, "vpid": 100})
    return st


def spawn(st, child=200, comm="cat", args=b"x\0"):
    run(st, ev(223, 100, clone_vals(child, "bash", b"", 100, 100, 1, "bash")))
    run(st, ev(223, child, clone_vals(0, "bash", b"", child, child, 100, "bash")))
    run(st, ev(293, child, execve_vals(comm, args, child, child, 100, comm)))
    return st.threads.get(child)


def test_clone_execve_ancestry_and_cmdline():
    st = seeded()
    t = spawn(st, 200, "cat", b"/etc/passwd\0-n\0")
    assert (t.pid, t.ptid, t.comm, t.exepath) == (200, 100, "cat", "/usr/bin/cat")
    assert t.cmdline == "cat /etc/passwd -n"
    assert [a.comm for a in t.ancestors()] == ["bash", "systemd"]
    assert t.cwd == "/root/"  # cwd inherited from the parent at fork, execve does not change it
    assert t.group.env == ["A=1"]
    # a thread of the child shares its fd table and process
    run(st, ev(223, 200, clone_vals(201, "cat", b"", 200, 200, 100, "cat", CLONE_THREAD)))
    th = st.threads.get(201)
    assert th.pid == 200 and th.group is t.group


def test_open_close_deferred_and_dup():
    st = seeded()
    e = ev(307, 100, [3, -100, "../etc//passwd", 1 | 0x1000, 0, 0, 0])
    st.process(e)
    assert e.fd.name == "/etc/passwd" and e.fdnum == 3
    st.post_process(e)
    d = run(st, ev(365, 100, [5, 3, 5, 0]))
    assert d.fd.name == "/etc/passwd"
    g = st.threads.get(100).group
    assert not g.fds[5].openflags & 0x1000 and g.fds[3].openflags & 0x1000
    c = ev(5, 100, [0, 3])
    st.process(c)
    assert c.fd.name == "/etc/passwd" and 3 in g.fds  # rules still see the fd on close
    st.post_process(c)
    assert 3 not in g.fds and 5 in g.fds
    # failed open: no entry and no fd for the event (fd.* fields read the parameters, as in Falco)
    f = run(st, ev(3, 100, [-2, "nofile", 1, 0, 0, 0]))
    assert f.fd is None and f.fdnum is None and -2 not in g.fds


def test_socket_connect_accept_pipe_names():
    st = seeded()
    run(st, ev(19, 100, [4, 2, 1, 0, 0]))
    tup = InetTuple(2, ipaddress.IPv4Address("10.0.0.79"), 41566, ipaddress.IPv4Address("172.217.7.4"), 80)
    c = run(st, ev(23, 100, [0, tup, 4, None]))
    assert c.fd.name == "10.0.0.79:41566->172.217.7.4:80"
    assert str(c.fd.dip) == "172.217.7.4" and c.fd.dport == 80 and c.fd.connected
    tup6 = InetTuple(10, ipaddress.IPv6Address("2001:db8::4"), 54405, ipaddress.IPv6Address("2001:db8::3"), 1234)
    a = run(st, ev(247, 100, [6, tup6, 0, 0, 0]))
    assert a.fd.name == "2001:db8::4:54405->2001:db8::3:1234" and a.fd.typechar == "6"
    u = UnixTuple(1, 0xffff94dc817b9400, 0, "/var/run/nscd/socket")
    run(st, ev(19, 100, [7, 1, 1, 0, 0]))
    cu = run(st, ev(23, 100, [0, u, 7, None]))
    assert cu.fd.name == "ffff94dc817b9400->0 /var/run/nscd/socket"
    p = run(st, ev(61, 100, [0, 8, 9, 1234]))
    g = st.threads.get(100).group
    assert g.fds[8].type == g.fds[9].type == 7 and g.fds[8].name == "" and p.fdnum == 9


def test_execve_closes_cloexec_and_other_threads():
    st = seeded()
    t = spawn(st, 300, "sh", b"")
    run(st, ev(223, 300, clone_vals(301, "sh", b"", 300, 300, 100, "sh", CLONE_THREAD)))
    run(st, ev(307, 300, [3, -100, "/tmp/a", 1 | 0x1000, 0, 0, 0]))
    run(st, ev(307, 300, [4, -100, "/tmp/b", 1, 0, 0, 0]))
    run(st, ev(293, 300, execve_vals("ls", b"", 300, 300, 100, "ls")))
    assert sorted(t.group.fds) == [4] and st.threads.get(301) is None and t.comm == "ls"


def test_procexit_removes_after_rules_and_reparents():
    st = seeded()
    spawn(st, 400, "sh", b"")
    spawn_child = ev(223, 400, clone_vals(401, "sh", b"", 400, 400, 100, "sh"))
    run(st, spawn_child)
    run(st, ev(223, 401, clone_vals(0, "sh", b"", 401, 401, 400, "sh")))
    pe = ev(186, 400, [0, 0, 0, 0, 0])
    st.process(pe)
    assert pe.thread.comm == "sh" and st.threads.get(400) is not None
    st.post_process(pe)
    assert st.threads.get(400) is None
    child = st.threads.get(401)
    # no reaper given, no live thread, no subreaper: the orphan's parent becomes 0 (ancestry ends)
    assert child.parent() is None


def test_unknown_thread_placeholder_and_bounded_table():
    st = StateEngine(thread_table_size=1000, purge_interval_s=1, thread_timeout_s=1)
    e = run(st, ev(3, 5555, [3, "/etc/hosts", 1, 0, 0, 0]))
    assert e.thread.comm == "<NA>" and e.thread.is_invalid() and e.fd.name == "/etc/hosts"
    for i in range(20000):  # endless stream of short-lived unknown threads
        run(st, ev(3, 10000 + i, [3, "/x", 1, 0, 0, 0], ts=i * 10_000_000))
        assert len(st.threads) <= 1000
    assert st.threads.evicted + st.threads.purged > 0


def test_concat_path():
    assert concat_path("/a/b/", "../c/./d/") == "/a/c/d"
    assert concat_path("/a/", "//x//y") == "/x/y"
    assert concat_path("/a/", "") == ""
    assert concat_path("/", "x" * 2000) == "/DIR_TOO_LONG/FILENAME_TOO_LONG"


def _decoded(e: SyscallEvent) -> bool:
    try:
        SyscallEvent.params.__get__(e)
    except AttributeError:
        return False
    return True


def test_connection_events_update_state_from_the_record_bytes_alone():
    """socket/connect/accept/accept4/close (the live connect mix) never decode the event's parameters:
    a rule that reads none leaves them undecoded, and the state is the one the decoded values give."""
    from lanner.events.params import InetAddr

    st = seeded()
    lo = ipaddress.IPv4Address("127.0.0.1")
    evs = [ev(19, 100, [5, 2, 1, 0, 0]),
           ev(23, 100, [0, InetTuple(2, lo, 40000, lo, 8080), 5, InetAddr(2, lo, 8080)]),
           ev(247, 100, [6, InetTuple(2, lo, 40000, lo, 8080), 0, 1, 128]),
           ev(389, 100, [7, InetTuple(2, lo, 40001, lo, 8080), 0, 0, 128, 0x1000]),
           ev(19, 100, [-24, 2, 1, 0, 0]),             # EMFILE: no fd
           ev(247, 100, [-11, None, 0, 0, 128]),        # EAGAIN: no fd
           ev(5, 100, [-9, 6]),                         # a failed close keeps the fd
           ev(5, 100, [0, 5])]
    for e in evs:
        run(st, e)
        assert not _decoded(e), e
    fds = st.threads.get(100).group.fds
    assert 5 not in fds
    assert fds[6].name == "127.0.0.1:40000->127.0.0.1:8080" and fds[6].role == 2 and fds[6].openflags == 0
    assert fds[7].openflags == 0x1000 and fds[7].typechar == "4" and fds[7].l4 == 2
    c = evs[1]
    assert c.fd.name == "127.0.0.1:40000->127.0.0.1:8080" and c.fd.role == 1 and c.fd.connected
    assert c.fd.sip == lo and str(c.fd.dip) == "127.0.0.1" and c.fd.dport == 8080
    assert evs[4].fd is None and evs[5].fd is None and evs[5].fdnum is None
    # a connect in progress records the connection too; a refused one does not
    run(st, ev(19, 100, [8, 2, 1, 0, 0]))
    run(st, ev(23, 100, [-115, InetTuple(2, lo, 40002, lo, 9090), 8, InetAddr(2, lo, 9090)]))
    assert fds[8].name == "127.0.0.1:40002->127.0.0.1:9090"
    run(st, ev(19, 100, [9, 2, 1, 0, 0]))
    run(st, ev(23, 100, [-111, None, 9, InetAddr(2, lo, 9)]))
    assert fds[9].name == "" and not fds[9].connected
