import ipaddress
import subprocess

from lanner.events.params import InetTuple
from lanner.events.syscall import SyscallEvent
from lanner.state.engine import StateEngine
from lanner.state.interfaces import host_interfaces
from tests.conftest import require_tool


def test_host_interfaces_are_the_addresses_ip_lists():
    ip = require_tool("ip")
    listed = set()
    for line in subprocess.run([ip, "-o", "addr"], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        fam, cidr = parts[2], parts[3]
        if fam in ("inet", "inet6"):
            listed.add((parts[1], ipaddress.ip_interface(cidr).ip))
    got = {(i.name, i.addr) for i in host_interfaces()}
    assert listed and listed <= got
    v4 = {i.addr: i.netmask for i in host_interfaces() if i.addr.version == 4}
    assert v4[ipaddress.IPv4Address("127.0.0.1")] == ipaddress.IPv4Address("255.0.0.0")


def test_live_state_takes_local_ends_from_the_host_interfaces():
    st = StateEngine()
    st.seed_thread({"tid": 10, "pid": 10, "ptid": 1, "comm": "curl", "cwd": "/"})
    st.load_host_interfaces()
    assert any(i.addr == ipaddress.IPv4Address("127.0.0.1") for i in st.interfaces)
    ev = SyscallEvent.from_values(1, 1, 10, 19, [3, 2, 2, 17, 0])  # socket(AF_INET, SOCK_DGRAM, UDP)
    st.process(ev)
    send = SyscallEvent.from_values(2, 2, 10, 31, [
        5, b"hello", 3, 5, InetTuple(2, ipaddress.IPv4Address(0), 0, ipaddress.IPv4Address("127.0.0.1"), 53)])
    st.process(send)
    f = send.fd
    # the unset source address is taken from the interface that reaches the destination
    assert str(f.sip) == "127.0.0.1" and f.name == "127.0.0.1:0->127.0.0.1:53"
