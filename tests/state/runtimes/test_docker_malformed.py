"""Malformed Docker API answers, from an HTTP server on a unix socket started by the test: a body that
is not JSON, JSON of the wrong shape, members of the wrong type, error statuses, a connection cut
mid-answer, and event streams with junk lines. Look-ups never raise out of the container manager, keep
what is well-formed, and the event stream goes on past the junk."""

from __future__ import annotations

import logging
import os
import socketserver
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from lanner.state.containers import ContainerManager
from lanner.state.runtimes.docker import DockerEngine

H = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e"

GOOD_BUT_ODD = (b'{"Id": "' + H.encode() + b'", "Name": "/web", "Image": ["not", "a", "string"], '
                b'"Config": "oops", "HostConfig": {"NetworkMode": 5, "Privileged": true}, '
                b'"NetworkSettings": {"Networks": ["x"]}, "Mounts": {"a": 1}, "Created": 12}')

ANSWERS: dict[str, tuple[int, bytes]] = {
    f"/containers/{'a' * 12}/json": (200, b"this is not json"),
    f"/containers/{'b' * 12}/json": (200, b'["a", "list"]'),
    f"/containers/{'c' * 12}/json": (500, b'{"message": "boom"}'),
    f"/containers/{'d' * 12}/json": (200, b'{"Id": "dddd'),                      # truncated body
    f"/containers/{H[:12]}/json": (200, GOOD_BUT_ODD),
}
EVENTS = (b'not json\n[1, 2]\n"text"\n{"Action": "destroy"}\n{"Action": "start", "Actor": "x"}\n'
          b'{"Action": "destroy", "Actor": {"ID": 7}}\n'
          b'{"Type": "container", "Action": "destroy", "Actor": {"ID": "' + H.encode() + b'"}}\n')


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def address_string(self) -> str:
        return "unix"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        if path == "/_ping":
            self._send(200, b"OK")
        elif path == "/events":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(EVENTS)
            self.wfile.flush()
            self.server.events_sent.set()          # type: ignore[attr-defined]
            time.sleep(30)                         # a stream stays open
        elif path == f"/containers/{'d' * 12}/json":
            status, body = ANSWERS[path]
            self.send_response(status)
            self.send_header("Content-Length", "1000")        # promises more than it sends, then hangs up
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
        elif path in ANSWERS:
            self._send(*ANSWERS[path])
        else:
            self._send(404, b'{"message": "no such container"}')

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def docker_sock() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="lanner-fake-docker-")
    path = os.path.join(d, "docker.sock")
    srv = Server(path, Handler)
    srv.events_sent = threading.Event()            # type: ignore[attr-defined]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield path
    finally:
        srv.shutdown()
        srv.server_close()
        os.unlink(path)
        os.rmdir(d)


@pytest.mark.parametrize("cid", ["a" * 12, "b" * 12, "c" * 12, "d" * 12])
def test_malformed_inspect_is_a_failed_lookup_with_a_warning(docker_sock: str, cid: str,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    mgr = ContainerManager([DockerEngine(docker_sock, timeout=5)], watch_events=False, refresh_interval=0)
    assert mgr.resolve_now(cid) is None
    [msg] = [r.getMessage() for r in caplog.records]
    assert msg.startswith(f"container engine docker ({docker_sock}): look-up of {cid} failed: ")


def test_members_of_the_wrong_type_count_as_absent(docker_sock: str) -> None:
    info = DockerEngine(docker_sock, timeout=5).inspect(H[:12])
    assert info is not None
    assert (info.id, info.full_id, info.name, info.type) == (H[:12], H, "web", "docker")
    assert (info.image, info.labels, info.env, info.user, info.mounts, info.ip) == ("", {}, [], "", [], "")
    assert info.privileged is True and info.host_network is False and info.created_ns == 0


def test_event_stream_skips_junk_lines(docker_sock: str) -> None:
    eng = DockerEngine(docker_sock, timeout=5)
    removed: list[str] = []
    started: list[str] = []
    stop = threading.Event()

    def on_remove(cid: str) -> None:
        removed.append(cid)
        stop.set()

    errors: list[BaseException] = []

    def watch() -> None:
        try:
            eng.watch(stop, on_start=started.append, on_remove=on_remove)
        except Exception as e:  # noqa: BLE001 - the stream is cut by close() once the test is done
            if not stop.is_set():
                errors.append(e)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    assert stop.wait(30), "the stream's one well-formed event never arrived"
    assert removed == [H] and started == [] and errors == []
    eng.close()
    t.join(30)
