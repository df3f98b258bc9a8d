"""ContainerManager (non-blocking look-ups, retries, eviction), engine configuration, capture JSON."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time

import pytest

from lanner.state.container_info import ContainerInfo, Mount, split_image
from lanner.state.containers import (
    ContainerConfigError,
    ContainerManager,
    build_engines,
    parse_container_settings,
)
from lanner.state.runtimes.docker import DockerEngine, image_repo_tag_digest, parse_rfc3339_ns
from tests.conftest import finishes

H = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e"


class HangingServer:
    """A unix socket that accepts connections and never answers: a hung runtime."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="lanner-hang-")
        self.path = os.path.join(self.dir, "docker.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(16)
        self.conns: list[socket.socket] = []
        self.stop = False
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                continue

    def close(self) -> None:
        self.stop = True
        self.t.join(1)
        for c in self.conns:
            c.close()
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


def test_lookup_against_hanging_socket_never_blocks():
    srv = HangingServer()
    try:
        eng = DockerEngine(srv.path, timeout=2.0)
        mgr = ContainerManager([eng], watch_events=False, refresh_interval=0)
        with mgr:
            # one look-up waiting on the runtime (2 s timeout) would make these 10000 take hours
            found = finishes(lambda: [mgr.lookup(H[:12] if i % 2 else "abcdef012345") for i in range(10000)],
                             within=30)
            assert found == [None] * 10000
            deadline = time.monotonic() + 30
            while not srv.conns and time.monotonic() < deadline:
                time.sleep(0.02)
            assert mgr.lookup(H[:12]) is None
            assert sorted(mgr.pending()) == sorted([H[:12], "abcdef012345"])
            assert mgr.stats["queued"] == 2
            assert srv.conns, "the worker did try the runtime"
    finally:
        srv.close()


def test_dead_socket_is_warning_not_failure(caplog):
    d = tempfile.mkdtemp()
    path = os.path.join(d, "docker.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.close()                      # socket file exists, nobody listens
    try:
        with caplog.at_level("WARNING", logger="lanner.containers"):
            mgr = ContainerManager.from_config({"container_engines": {"docker": {"enabled": True, "sockets": [path]},
                                                                      "podman": {"enabled": False},
                                                                      "cri": {"enabled": False},
                                                                      "containerd": {"enabled": False}}})
        assert [e.socket for e in mgr.engines] == [path]
        assert "does not answer" in caplog.text and path in caplog.text
        with mgr:
            assert mgr.lookup(H[:12]) is None
    finally:
        os.unlink(path)
        os.rmdir(d)


class FlakyEngine:
    """Knows a container only from its third look-up on (a runtime that registers it late)."""

    name, socket = "fake", "-"

    def __init__(self) -> None:
        self.calls = 0

    def available(self) -> bool:
        return True

    def inspect(self, cid: str) -> ContainerInfo | None:
        self.calls += 1
        return ContainerInfo(id=cid, full_id=H, name="late") if self.calls >= 3 else None

    def list_ids(self) -> list[str]:
        return []


def test_retry_with_backoff_then_sweep_evicts():
    eng = FlakyEngine()
    mgr = ContainerManager([eng], retry_base=0.01, watch_events=False, refresh_interval=0)
    with mgr:
        assert mgr.lookup(H[:12]) is None
        info = mgr.wait_for(H[:12], 5)
        assert info is not None and info.name == "late" and eng.calls == 3
        assert mgr.lookup(H) is info          # full id works once known
        mgr.sweep()                           # the runtime no longer lists it
        assert mgr.known() == {}
        assert mgr.stats["evicted"] == 1


def test_gives_up_after_max_attempts_and_does_not_requeue():
    class Never(FlakyEngine):
        def inspect(self, cid):
            self.calls += 1
            return None

    eng = Never()
    mgr = ContainerManager([eng], retry_base=0.001, max_attempts=3, watch_events=False, refresh_interval=0)
    with mgr:
        mgr.lookup("abcdef012345")
        deadline = time.monotonic() + 5
        while mgr.stats["failed"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        for _ in range(100):
            mgr.lookup("abcdef012345")
        time.sleep(0.05)
        assert eng.calls == 3 and mgr.stats["queued"] == 1


def test_host_and_empty_ids_are_never_queued():
    mgr = ContainerManager()
    assert mgr.lookup("host") is None and mgr.lookup("") is None
    assert mgr.pending() == []


def test_listener_sees_adds_and_removals():
    seen = []
    mgr = ContainerManager()
    mgr.add_listener(lambda cid, info: seen.append((cid, info is not None)))
    mgr.add(ContainerInfo(id=H[:12], full_id=H))
    mgr.remove(H)
    assert seen == [(H[:12], True), (H[:12], False)]


def test_plugin_config_wins_and_defaults_apply():
    s = parse_container_settings({
        "container_engines": {"docker": {"enabled": False}},
        "plugins": [{"name": "k8saudit"}, {"name": "container", "init_config": {
            "engine_timeout": 3, "label_max_len": 50,
            "engines": {"docker": {"enabled": True, "sockets": ["/tmp/x.sock"]}, "cri": {"enabled": False}}}}]})
    assert s.engines["docker"].enabled and s.engines["docker"].sockets == ("/tmp/x.sock",)
    assert not s.engines["cri"].enabled
    assert s.engines["containerd"].enabled
    assert s.engines["containerd"].sockets == ("/run/host-containerd/containerd.sock",)
    assert not s.engines["lxc"].enabled
    assert s.engine_timeout == 3 and s.label_max_len == 50
    assert s.cgroup_engines() == ("podman", "docker", "containerd")


def test_init_config_as_json_string_and_container_engines_key():
    s = parse_container_settings({"plugins": [{"name": "container",
                                               "init_config": '{"engines": {"podman": {"enabled": false}}}'}]})
    assert not s.engines["podman"].enabled
    s = parse_container_settings({"container_engines": {"lxc": {"enabled": True}}})
    assert s.engines["lxc"].enabled and s.engines["docker"].enabled


@pytest.mark.parametrize("doc,msg", [
    ({"container_engines": {"docker": {"enabled": "yes"}}}, "container_engines.docker.enabled"),
    ({"container_engines": {"docker": {"sockets": [1]}}}, "container_engines.docker.sockets"),
    ({"container_engines": ["docker"]}, "container_engines: expected a mapping"),
    ({"plugins": [{"name": "container", "init_config": "{bad"}]}, "plugins[0].init_config"),
    ({"plugins": [{"name": "container", "init_config": {"engine_timeout": "x"}}]}, "engine_timeout"),
])
def test_config_errors_name_the_key(doc, msg):
    with pytest.raises(ContainerConfigError, match=msg.replace("[", r"\[").replace("]", r"\]")):
        parse_container_settings(doc)


def test_missing_sockets_build_no_engines():
    s = parse_container_settings({"container_engines": {n: {"enabled": True, "sockets": ["/nonexistent/x.sock"]}
                                                        for n in ("docker", "podman", "cri", "containerd")}})
    assert build_engines(s) == []


def test_capture_json_roundtrip():
    info = ContainerInfo(id=H[:12], full_id=H, type="cri-o", name="n", image="reg:5000/a/b:1.2@sha256:ab",
                         mounts=[Mount("/src", "/dst", "ro", False, "rprivate")], labels={"a": "b"},
                         privileged=True, created_ns=1_700_000_000 * 10**9, pod_sandbox_id="f" * 64)
    doc = info.to_json()
    assert doc["container"]["type"] == 8 and doc["container"]["Mounts"][0]["RW"] is False
    back = ContainerInfo.from_json(doc)
    assert back == info


def test_split_image_and_repo_tags():
    assert split_image("docker.io/library/nginx:1.25") == ("docker.io/library/nginx", "1.25", "")
    assert split_image("reg:5000/app") == ("reg:5000/app", "", "")
    assert split_image("reg:5000/app:v1@sha256:00") == ("reg:5000/app", "v1", "sha256:00")
    doc = {"RepoDigests": ["nginx@sha256:aa"], "RepoTags": ["nginx:latest", "other:1"]}
    assert image_repo_tag_digest(doc, "nginx") == ("nginx", "latest", "sha256:aa")
    assert image_repo_tag_digest(None, "sha256:" + H) == ("", "", "")


def test_rfc3339():
    assert parse_rfc3339_ns("2026-11-28T17:57:40.814355145Z") == 1795888660814355145
    assert parse_rfc3339_ns("2026-11-28T17:57:40Z") == 1795888660 * 10**9
    assert parse_rfc3339_ns("0001-01-01T00:00:00Z") == 0
    assert parse_rfc3339_ns("garbage") == 0
