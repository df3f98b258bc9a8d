"""gRPC outputs/version services with a client generated from lanner's .proto files."""

from __future__ import annotations

import queue
import tempfile
import threading
from pathlib import Path

import grpc
import pytest

from lanner.config import Config
from lanner.core.priority import Priority
from lanner.outputs.format import AlertFormatter
from lanner.outputs.grpcapi import outputs_pb2, outputs_pb2_grpc, schema_pb2, version_pb2, version_pb2_grpc
from lanner.outputs.pipeline import OutputPipeline
from lanner.version import FALCO_COMPAT_VERSION
from tests.outputs.helpers import Pki, make_alert


@pytest.fixture
def sock_dir():
    # unix socket paths must stay short (108 bytes): pytest's tmp_path can be too long
    with tempfile.TemporaryDirectory(prefix="lg") as d:
        yield Path(d)


def _pipeline(cfg: dict) -> OutputPipeline:
    return OutputPipeline.from_config(Config(data=cfg), AlertFormatter(json_output=False, hostname="node1"))


def test_get_drains_queue_over_unix_socket(sock_dir: Path) -> None:
    addr = f"unix://{sock_dir}/falco.sock"
    p = _pipeline({"grpc": {"enabled": True, "bind_address": addr, "threadiness": 2}})
    try:
        a = make_alert(7, Priority.CRITICAL)
        a.extra["extra_key"] = "x"
        p.submit(a)
        p.internal("Falco internal: test", Priority.DEBUG, "inner", {"k": 1})
        assert p.wait_idle()
        with grpc.insecure_channel(addr) as ch:
            got = list(outputs_pb2_grpc.serviceStub(ch).get(outputs_pb2.request(), timeout=5))
            again = list(outputs_pb2_grpc.serviceStub(ch).get(outputs_pb2.request(), timeout=5))
            v = version_pb2_grpc.serviceStub(ch).version(version_pb2.request(), timeout=5)
    finally:
        p.close()
    assert again == []
    r, internal = got
    assert r.rule == "Test rule" and r.priority == schema_pb2.CRITICAL and r.source == "syscall"
    assert r.source_deprecated == schema_pb2.SYSCALL and r.hostname == "node1"
    assert r.time.seconds == 1_767_621_801 and r.time.nanos == 123_456_796
    assert r.output.endswith(": Critical alert number 7 proc=bash")
    assert dict(r.output_fields) == {"proc.name": "bash", "n": "7", "extra_key": "x"}
    assert list(r.tags) == ["container", "shell"]
    assert internal.source == "internal" and internal.source_deprecated == schema_pb2.INTERNAL
    assert list(internal.tags) == [] and internal.output_fields["k"] == "1"
    assert v.version == FALCO_COMPAT_VERSION and v.engine_version.count(".") == 2


def test_sub_streams_after_each_request(sock_dir: Path) -> None:
    addr = f"unix://{sock_dir}/s.sock"
    p = _pipeline({"grpc": {"enabled": True, "bind_address": addr}, "grpc_output": {"enabled": True}})
    reqs: queue.Queue = queue.Queue()
    received: list[outputs_pb2.response] = []

    def requests():
        while True:
            item = reqs.get()
            if item is None:
                return
            yield outputs_pb2.request()

    try:
        with grpc.insecure_channel(addr) as ch:
            stream = outputs_pb2_grpc.serviceStub(ch).sub(requests(), timeout=10)
            done = threading.Event()

            def consume():
                for r in stream:
                    received.append(r)
                done.set()

            threading.Thread(target=consume, daemon=True).start()
            for i in range(3):
                p.submit(make_alert(i))
            assert p.wait_idle()
            reqs.put(1)
            for _ in range(200):
                if len(received) == 3:
                    break
                threading.Event().wait(0.01)
            for i in range(3, 5):
                p.submit(make_alert(i))
            assert p.wait_idle()
            threading.Event().wait(0.1)
            assert len(received) == 3           # nothing is pushed until the client asks again
            reqs.put(1)
            reqs.put(None)                       # half-close ends the stream with OK
            assert done.wait(5)
    finally:
        p.close()
    assert [int(r.output_fields["n"]) for r in received] == [0, 1, 2, 3, 4]


def test_tcp_requires_client_certificate(pki: Pki) -> None:
    p = _pipeline({"grpc": {"enabled": True, "bind_address": "127.0.0.1:0", "private_key": str(pki.server_key),
                            "cert_chain": str(pki.server_cert), "root_certs": str(pki.ca)}})
    port = p.channels[0].server.port
    try:
        p.submit(make_alert(1))
        assert p.wait_idle()
        ca = pki.ca.read_bytes()
        bad = grpc.ssl_channel_credentials(root_certificates=ca)
        with grpc.secure_channel(f"127.0.0.1:{port}", bad) as ch, pytest.raises(grpc.RpcError):
            list(outputs_pb2_grpc.serviceStub(ch).get(outputs_pb2.request(), timeout=3))
        good = grpc.ssl_channel_credentials(root_certificates=ca, private_key=pki.client_key.read_bytes(),
                                            certificate_chain=pki.client_cert.read_bytes())
        with grpc.secure_channel(f"127.0.0.1:{port}", good) as ch:
            got = list(outputs_pb2_grpc.serviceStub(ch).get(outputs_pb2.request(), timeout=5))
    finally:
        p.close()
    assert [r.output_fields["n"] for r in got] == ["1"]


def test_generated_stubs_match_protos(tmp_path: Path) -> None:
    import grpc_tools  # noqa: F401 - the test extra installs it

    from lanner.outputs.grpcapi import regen

    regen.generate(tmp_path)
    here = Path(regen.__file__).parent
    for name in ("outputs_pb2.py", "outputs_pb2_grpc.py", "schema_pb2.py", "version_pb2.py", "version_pb2_grpc.py"):
        assert (tmp_path / "lanner/outputs/grpcapi" / name).read_text() == (here / name).read_text(), name
