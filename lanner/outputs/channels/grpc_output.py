"""gRPC output (Falco 0.43 ``outputs.proto``): the channel and the server that streams its queue.

One process-wide FIFO holds every alert; each response goes to exactly one consumer (concurrent
clients split the stream). ``get`` drains what is queued and ends; ``sub`` drains after each
request message the client sends. Over ``unix://`` there is no TLS; any other bind address is TCP
with mutual TLS (server key/chain, client CA; clients must present a certificate).
``grpc_output.max_queued`` (lanner extension, default 0 = unbounded like Falco) caps the FIFO by
dropping the oldest response.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import orjson

from lanner.core.alert import Alert
from lanner.outputs.channels.base import Channel, ChannelError
from lanner.outputs.grpcapi import outputs_pb2, outputs_pb2_grpc, version_pb2, version_pb2_grpc
from lanner.version import ENGINE_VERSION, FALCO_COMPAT_VERSION

log = logging.getLogger("lanner.outputs")

_SOURCES = {"syscall": 0, "k8s_audit": 1, "internal": 2}


def field_text(v: Any) -> str:
    """``output_fields`` map value: strings as-is, everything else as its JSON text."""
    if isinstance(v, str):
        return v
    return orjson.dumps(v, default=str).decode()


def to_response(alert: Alert, msg: str, hostname: str) -> outputs_pb2.response:
    r = outputs_pb2.response()
    r.time.seconds, nanos = divmod(alert.time_ns, 1_000_000_000)
    r.time.nanos = nanos
    r.priority = int(alert.priority)
    r.source_deprecated = _SOURCES.get(alert.source.lower(), 3)
    r.rule = alert.rule
    r.output = msg
    for k, v in alert.output_fields.items():
        r.output_fields[k] = field_text(v)
    for k, v in alert.extra.items():
        r.output_fields[k] = field_text(v)
    r.hostname = alert.hostname or hostname
    if alert.source != "internal":
        r.tags.extend(sorted(set(alert.tags)))
    r.source = alert.source
    return r


class ResponseQueue:
    """The shared FIFO between the output worker and the gRPC streams."""

    def __init__(self, max_queued: int = 0) -> None:
        self._q: deque[outputs_pb2.response] = deque(maxlen=max_queued or None)
        self.dropped = 0
        self.popped = 0

    def push(self, r: outputs_pb2.response) -> None:
        if self._q.maxlen is not None and len(self._q) == self._q.maxlen:
            self.dropped += 1
        self._q.append(r)

    def drain(self) -> Iterator[outputs_pb2.response]:
        while True:
            try:
                r = self._q.popleft()
            except IndexError:
                return
            self.popped += 1
            yield r

    def __len__(self) -> int:
        return len(self._q)


class _OutputsService(outputs_pb2_grpc.serviceServicer):
    def __init__(self, queue: ResponseQueue, stopping: threading.Event) -> None:
        self.queue = queue
        self.stopping = stopping

    def get(self, request: Any, context: grpc.ServicerContext) -> Iterator[outputs_pb2.response]:
        yield from self.queue.drain()

    def sub(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> Iterator[outputs_pb2.response]:
        # Requests are read on a helper thread so server shutdown can finish the stream with OK.
        cond = threading.Condition()
        state = {"pending": 0, "done": False}

        def reader() -> None:
            try:
                for _ in request_iterator:
                    with cond:
                        state["pending"] += 1
                        cond.notify()
            except Exception:  # noqa: BLE001 - a cancelled stream ends the reader
                pass
            with cond:
                state["done"] = True
                cond.notify()

        threading.Thread(target=reader, name="grpc-sub-reader", daemon=True).start()
        while True:
            with cond:
                while not state["pending"] and not state["done"] and not self.stopping.is_set():
                    cond.wait(0.1)
                if self.stopping.is_set() or (state["done"] and not state["pending"]):
                    return
                state["pending"] = 0
            yield from self.queue.drain()


class _VersionService(version_pb2_grpc.serviceServicer):
    def __init__(self, fields_checksum: str) -> None:
        self.fields_checksum = fields_checksum

    def version(self, request: Any, context: grpc.ServicerContext) -> version_pb2.response:
        core, _, build = FALCO_COMPAT_VERSION.partition("+")
        core, _, pre = core.partition("-")
        parts = [int(x) for x in (core.split(".") + ["0", "0"])[:3]]
        em, en, ep = ENGINE_VERSION
        return version_pb2.response(
            version=FALCO_COMPAT_VERSION, major=parts[0], minor=parts[1], patch=parts[2], prerelease=pre,
            build=build, engine_major=em, engine_minor=en, engine_patch=ep,
            engine_version=f"{em}.{en}.{ep}", engine_fields_checksum=self.fields_checksum)


def _read(path: str, key: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ChannelError(f"{key}: cannot read {path}: {e.strerror}") from None


class GrpcServer:
    """The gRPC server (outputs + version services)."""

    def __init__(self, bind_address: str, *, threadiness: int = 0, private_key: str = "", cert_chain: str = "",
                 root_certs: str = "", queue: ResponseQueue | None = None, fields_checksum: str = "",
                 socket_mode: int = 0o660) -> None:
        self.bind_address = bind_address
        self.socket_mode = socket_mode
        self.threadiness = threadiness or os.cpu_count() or 1
        self.queue = queue or ResponseQueue()
        self._stopping = threading.Event()
        # each sub stream holds a worker for its life: leave room for 10 x threadiness as Falco does
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=self.threadiness * 10,
                                                              thread_name_prefix="grpc"))
        outputs_pb2_grpc.add_serviceServicer_to_server(_OutputsService(self.queue, self._stopping), self._server)
        version_pb2_grpc.add_serviceServicer_to_server(_VersionService(fields_checksum), self._server)
        log.info("gRPC server threadiness equals to %d", self.threadiness)
        if bind_address.startswith("unix://"):
            path = bind_address[len("unix://"):]
            if os.path.exists(path):
                os.unlink(path)
            self.port = self._server.add_insecure_port(bind_address)
        else:
            creds = grpc.ssl_server_credentials(
                [(_read(private_key, "grpc.private_key"), _read(cert_chain, "grpc.cert_chain"))],
                root_certificates=_read(root_certs, "grpc.root_certs"), require_client_auth=True)
            try:
                self.port = self._server.add_secure_port(bind_address, creds)
            except RuntimeError as e:
                raise ChannelError(f"Error starting gRPC server at {bind_address}: {e}") from None
        if not self.port:
            raise ChannelError(f"Error starting gRPC server: cannot bind {bind_address}")

    def start(self) -> None:
        log.info("Starting gRPC server at %s", self.bind_address)
        self._server.start()
        if self.bind_address.startswith("unix://"):
            path = self.bind_address[len("unix://"):]
            try:
                os.chmod(path, self.socket_mode)        # not the umask's 0755: only owner and group connect
            except OSError as e:
                log.warning("gRPC socket %s: cannot set mode %o: %s", path, self.socket_mode, e.strerror)

    def stop(self, grace: float = 1.0) -> None:
        self._stopping.set()
        self._server.stop(grace).wait(grace + 1)


class GrpcChannel(Channel):
    """Turns each alert into a ``falco.outputs.response`` on the server's queue."""

    name = "grpc"

    def __init__(self, server: GrpcServer, hostname: str) -> None:
        self.server = server
        self.hostname = hostname

    def deliver(self, alert: Alert, msg: str) -> None:
        self.server.queue.push(to_response(alert, msg, self.hostname))

    def close(self) -> None:
        self.server.stop()
