"""Container metadata end-to-end against a real Docker engine (Debian's dockerd, started by the fixture).

A container started with the labels a kubelet sets is looked up through lanner's Docker client and
ContainerManager; every container/k8s field is compared with what the engine itself reports
(``docker inspect``) and with the values the test chose. Its id is also derived from the real
/proc/<pid>/cgroup of the container's process.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

import pytest

from lanner.fields import container as cf
from lanner.fields import k8s as kf
from lanner.fields.registry import FieldRegistry
from lanner.state.cgroups import ContainerIdResolver
from lanner.state.containers import ContainerManager
from lanner.state.runtimes.docker import DockerEngine as DockerClient
from lanner.state.threads import ThreadInfo
from tests.docker.infra import build_rootfs_image

POD_LABELS = {
    "io.kubernetes.pod.name": "web-7d9f",
    "io.kubernetes.pod.namespace": "shop",
    "io.kubernetes.pod.uid": "3e41dc6b-08a8-44db-bc2a-3724b18ab19a",
    "io.kubernetes.container.name": "nginx",
    "app": "web",
    "tier": "front",
}


class Ev:
    """The parts of a syscall event the container fields read."""

    def __init__(self, thread: ThreadInfo, ts: int) -> None:
        self.num, self.ts, self.source, self.type, self.cache, self.thread = 1, ts, "syscall", 0, {}, thread


@pytest.fixture(scope="module")
def pod_container(docker_engine):
    build_rootfs_image(docker_engine, "lanner-test/busybox:1.0")
    mnt = tempfile.mkdtemp(prefix="lanner-mnt-", dir="/tmp")
    args = ["run", "-d", "--network", "none", "--ipc", "host", "--name", "k8s_nginx_web-7d9f_shop_0",
            "--cap-add", "SYS_PTRACE", "-v", f"{mnt}:/data:ro"]
    for k, v in POD_LABELS.items():
        args += ["--label", f"{k}={v}"]
    cid = docker_engine.run(*args, "lanner-test/busybox:1.0", "/bin/sleep", "600").stdout.decode().strip()
    inspect = json.loads(docker_engine.run("inspect", cid).stdout)[0]
    yield cid, inspect, mnt
    docker_engine.run("rm", "-f", cid, check=False)
    os.rmdir(mnt)


def test_cgroup_of_real_container_gives_its_id(pod_container):
    cid, inspect, _ = pod_container
    with open(f"/proc/{inspect['State']['Pid']}/cgroup") as f:
        lines = [ln.rstrip("\n").split(":", 2) for ln in f]
    cgroups = [(sub or "unified", path) for _, sub, path in lines]
    r = ContainerIdResolver()
    assert r.id_for(cgroups) == cid[:12]
    assert r.full_id_for(cgroups) == cid
    with open("/proc/self/cgroup") as f:
        mine = [(ln.split(":", 2)[1] or "unified", ln.rstrip("\n").split(":", 2)[2]) for ln in f]
    assert r.id_for(mine) == ""   # the test process itself is on the host (/process_api/... included)


def test_docker_inspect_maps_every_field(docker_engine, pod_container):
    cid, inspect, mnt = pod_container
    info = DockerClient(docker_engine.socket).inspect(cid[:12])
    assert info is not None
    assert info.id == cid[:12] and info.full_id == cid
    assert info.type == "docker"
    assert info.name == "k8s_nginx_web-7d9f_shop_0" == inspect["Name"].lstrip("/")
    assert info.image == "lanner-test/busybox:1.0" == inspect["Config"]["Image"]
    assert info.image_repo == "lanner-test/busybox"
    assert info.image_tag == "1.0"
    assert info.image_id == inspect["Image"].split(":", 1)[1] and len(info.image_id) == 64
    assert info.image_digest == ""         # imported image: never pushed, no registry digest
    assert info.privileged is False
    assert info.host_ipc is True and info.host_pid is False and info.host_network is False
    assert info.ip == ""                   # --network none
    assert info.labels == POD_LABELS == inspect["Config"]["Labels"]
    assert [(m.source, m.dest, m.rw) for m in info.mounts] == [(mnt, "/data", False)]
    assert info.mounts[0].mode == inspect["Mounts"][0]["Mode"]
    assert info.mounts[0].propagation == inspect["Mounts"][0]["Propagation"]
    created = inspect["Created"]
    assert time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(info.created_ns // 10**9)) == created[:19]
    assert info.created_ns % 10**9 == int((created[20:].rstrip("Z") + "000000000")[:9])
    assert DockerClient(docker_engine.socket).inspect("0" * 12) is None


def test_manager_fills_fields_asynchronously(docker_engine, pod_container):
    cid, inspect, mnt = pod_container
    mgr = ContainerManager([DockerClient(docker_engine.socket)], watch_events=False, refresh_interval=0)
    reg = FieldRegistry([cf.field_class(mgr), kf.field_class(mgr)])
    th = ThreadInfo(inspect["State"]["Pid"])
    th.container_id = cid[:12]
    th.pidns_init_start_ts = 1_700_000_000_000_000_000

    def values(names):
        e = Ev(th, 1_700_000_005_000_000_000)
        out = {}
        for n in names:
            name, _, arg = n.partition("[")
            out[n] = reg.resolve("syscall", name, arg[:-1] if arg else None).bind()(e)
        return out

    names = ["container.id", "container.full_id", "container.name", "container.image", "container.image.id",
             "container.image.repository", "container.image.tag", "container.image.digest", "container.type",
             "container.privileged", "container.mounts", "container.mount[0]", "container.mount.dest[/tmp/lanner-mnt-*]",
             "container.mount.source[/data]", "container.mount.rdwr[0]", "container.mount.dest[/nope]",
             "container.labels", "container.label[app]", "container.ip", "container.host_pid",
             "container.host_network", "container.host_ipc", "container.start_ts", "container.duration",
             "k8s.ns.name", "k8s.pod.name", "k8s.pod.uid", "k8s.pod.id", "k8s.pod.label[app]",
             "k8s.pod.sandbox_id"]
    # Not started yet: the look-up is only queued; only id/start_ts/duration have values.
    first = values(names)
    assert first["container.id"] == cid[:12]
    assert first["container.start_ts"] == 1_700_000_000_000_000_000
    assert first["container.duration"] == 5_000_000_000
    assert all(v is None for k, v in first.items()
               if k not in ("container.id", "container.start_ts", "container.duration"))
    assert mgr.pending() == [cid[:12]]
    with mgr:
        assert mgr.wait_for(cid[:12], 10) is not None
    v = values(names)
    assert v["container.full_id"] == cid
    assert v["container.name"] == "k8s_nginx_web-7d9f_shop_0"
    assert v["container.image"] == "lanner-test/busybox:1.0"
    assert v["container.image.repository"] == "lanner-test/busybox"
    assert v["container.image.tag"] == "1.0"
    assert v["container.image.id"] == inspect["Image"][7:]
    assert v["container.image.digest"] == ""
    assert v["container.type"] == "docker"
    assert v["container.privileged"] is False
    mode, prop = inspect["Mounts"][0]["Mode"], inspect["Mounts"][0]["Propagation"]
    assert v["container.mounts"] == v["container.mount[0]"] == f"{mnt}:/data:{mode}:false:{prop}"
    assert v["container.mount.dest[/tmp/lanner-mnt-*]"] == "/data"
    assert v["container.mount.source[/data]"] == mnt
    assert v["container.mount.rdwr[0]"] == "false"
    assert v["container.mount.dest[/nope]"] is None
    assert v["container.labels"] == "app:web, tier:front"
    assert v["container.label[app]"] == "web"
    assert v["container.ip"] == ""
    assert (v["container.host_pid"], v["container.host_network"], v["container.host_ipc"]) == (False, False, True)
    assert v["k8s.ns.name"] == "shop"
    assert v["k8s.pod.name"] == "web-7d9f"
    assert v["k8s.pod.uid"] == v["k8s.pod.id"] == "3e41dc6b-08a8-44db-bc2a-3724b18ab19a"
    assert v["k8s.pod.label[app]"] is None      # pod labels come from the sandbox, which docker-run lacks
    assert v["k8s.pod.sandbox_id"] == ""


def follow_events(mgr: ContainerManager, engine) -> None:
    """Return once ``mgr`` follows the engine's event stream: a container started now becomes known
    without a look-up, and is forgotten when removed (instead of sleeping and hoping it connected)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        probe = engine.run("run", "-d", "--network", "none", "lanner-test/busybox:1.0", "/bin/sleep", "600"
                           ).stdout.decode().strip()[:12]
        end = time.monotonic() + 5
        while probe not in mgr.known() and time.monotonic() < end:
            time.sleep(0.05)
        seen = probe in mgr.known()
        engine.run("rm", "-f", probe, check=False)
        if seen:
            end = time.monotonic() + 30
            while probe in mgr.known() and time.monotonic() < end:
                time.sleep(0.05)
            assert probe not in mgr.known(), "a removed container was never forgotten"
            return
    pytest.fail("the container manager never followed the Docker event stream")


def test_destroyed_container_is_evicted_via_events(docker_engine):
    build_rootfs_image(docker_engine, "lanner-test/busybox:1.0")
    cid = docker_engine.run("run", "-d", "--network", "none", "lanner-test/busybox:1.0", "/bin/sleep", "600"
                            ).stdout.decode().strip()
    mgr = ContainerManager([DockerClient(docker_engine.socket)], refresh_interval=0)
    with mgr:
        assert mgr.wait_for(cid[:12], 30) is not None
        follow_events(mgr, docker_engine)
        evicted = mgr.stats["evicted"]
        docker_engine.run("rm", "-f", cid)
        deadline = time.monotonic() + 30
        while cid[:12] in mgr.known() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cid[:12] not in mgr.known()
        assert mgr.stats["evicted"] == evicted + 1


def test_started_container_is_prefetched_from_events(docker_engine):
    build_rootfs_image(docker_engine, "lanner-test/busybox:1.0")
    mgr = ContainerManager([DockerClient(docker_engine.socket)], refresh_interval=0)
    with mgr:
        follow_events(mgr, docker_engine)
        cid = docker_engine.run("run", "-d", "--network", "host", "lanner-test/busybox:1.0", "/bin/sleep",
                                "600").stdout.decode().strip()
        try:
            deadline = time.monotonic() + 30
            while cid[:12] not in mgr.known() and time.monotonic() < deadline:
                time.sleep(0.05)
            info = mgr.known().get(cid[:12])
            assert info is not None and info.host_network is True
        finally:
            docker_engine.run("rm", "-f", cid, check=False)
