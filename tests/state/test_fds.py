"""fds: socket tuples read straight from record bytes equal the decoded ones; interned addresses behave
like plain ``ipaddress`` objects."""

import ipaddress
import pickle
from pathlib import Path

import pytest
import yaml

from lanner.events.params import decode_socktuple
from lanner.state import fds as F

CASES = yaml.safe_load((Path(__file__).parent / "data" / "socktuples.yaml").read_text())


def _fields(t: F.Tuple | None) -> list | None:
    if t is None:
        return None
    if t.family == F.AF_UNIX:
        return [t.family, t.usrc, t.udst, t.path]
    return [t.family, str(t.sip), t.sport, str(t.dip), t.dport]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_tuple_from_raw_equals_the_decoded_tuple(case: dict) -> None:
    b = bytes.fromhex(case["hex"].replace(" ", ""))
    raw = F.tuple_from_raw(b)
    decoded = F.parse_tuple(decode_socktuple(b))
    assert _fields(raw) == _fields(decoded) == case["want"]
    if raw is not None and raw.family != F.AF_UNIX:
        # the same address objects' values and versions as the decoded ones
        assert (raw.sip, raw.dip) == (decoded.sip, decoded.dip)
        assert raw.sip.version == decoded.sip.version


def test_empty_tuple_is_none() -> None:
    assert F.tuple_from_raw(b"") is None


@pytest.mark.parametrize("text", ["127.0.0.1", "0.0.0.0", "10.1.2.3", "2001:db8::4", "::1", "::ffff:a00:1"])
def test_interned_address_is_a_plain_address(text: str) -> None:
    plain = ipaddress.ip_address(text)
    ip = F.interned_ip(plain.packed)
    assert ip is F.interned_ip(plain.packed)  # one object per value
    assert ip == plain and plain == ip and (ip != plain) is False
    assert hash(ip) == hash(plain) and {plain: 1}[ip] == 1
    assert isinstance(ip, type(plain)) and ip.version == plain.version
    assert str(ip) == str(plain) and f"{ip}" == f"{plain}" and f"{ip:s}" == f"{plain:s}"
    assert repr(ip) == repr(plain)
    assert ip.is_loopback == plain.is_loopback and ip.is_private == plain.is_private
    net = ipaddress.ip_network("127.0.0.0/8" if plain.version == 4 else "::/0")
    assert (ip in net) == (plain in net)
    assert pickle.loads(pickle.dumps(ip)) == plain
    if plain.version == 4:
        assert f"{ip:b}" == f"{plain:b}"


def test_interned_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(F, "_IP_CACHE", {})
    monkeypatch.setattr(F, "_IP_CACHE_MAX", 8)
    for i in range(100):
        assert str(F.interned_ip(i.to_bytes(4, "big"))) == str(ipaddress.IPv4Address(i))
    assert len(F._IP_CACHE) <= 8
