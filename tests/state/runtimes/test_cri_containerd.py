"""CRI metadata end-to-end against a real containerd (Debian's, from docker.io's dependencies).

No registry: the images are built by the Docker fixture, ``docker save``d and ``ctr images import``ed;
the pod runs with host networking (no CNI) and ``restrict_oom_score_adj`` (root lacks CAP_SYS_RESOURCE).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

import grpc  # noqa: E402
import pytest

from lanner.state.cgroups import ContainerIdResolver, parse_cgroups  # noqa: E402
from lanner.state.containers import ContainerManager  # noqa: E402
from lanner.state.runtimes import cri_api_pb2 as pb  # noqa: E402
from lanner.state.runtimes.cri import CriClient, CriEngine  # noqa: E402
from tests.docker.infra import build_rootfs_image, docker_engine, stop_pid, unmount_under  # noqa: F401

CONFIG = """version = 2
root = "{d}/root"
state = "{d}/state"
[grpc]
  address = "{d}/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/lanner-test/pause:1.0"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni-bin"
    conf_dir = "{d}/cni-conf"
"""


@pytest.fixture(scope="module")
def containerd(docker_engine):  # noqa: F811
    if not shutil.which("containerd") or not shutil.which("ctr"):
        pytest.skip("containerd/ctr not installed (Debian package containerd)")
    d = tempfile.mkdtemp(prefix="lanner-ctrd-", dir="/tmp")
    with open(os.path.join(d, "config.toml"), "w") as f:
        f.write(CONFIG.format(d=d))
    with open(os.path.join(d, "log"), "wb") as log:
        proc = subprocess.Popen(["containerd", "--config", os.path.join(d, "config.toml")], stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    sock = os.path.join(d, "containerd.sock")
    try:
        client = CriClient(sock, 30)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.call("Version", pb.VersionRequest(version="v1"), timeout=2)
                break
            except grpc.RpcError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    # containerd is installed (checked above): not coming up is a failure, not a skip
                    with open(os.path.join(d, "log"), errors="replace") as f:
                        pytest.fail("containerd's CRI did not come up:\n" + f.read()[-3000:])
                time.sleep(0.2)
        build_rootfs_image(docker_engine, "lanner-test/busybox:1.0")
        tar = os.path.join(d, "images.tar")
        docker_engine.run("import", "--change", 'ENTRYPOINT ["/bin/sleep","1000000"]', "-",
                          "docker.io/lanner-test/pause:1.0",
                          input=__import__("tests.docker.infra", fromlist=["x"]).rootfs_tarball())
        docker_engine.run("save", "-o", tar, "docker.io/lanner-test/pause:1.0", "lanner-test/busybox:1.0")
        subprocess.run(["ctr", "-a", sock, "-n", "k8s.io", "images", "import", tar], check=True,
                       capture_output=True, timeout=60)
        yield sock, client
    finally:
        try:
            c = CriClient(sock, 10)
            for s in c.call("ListPodSandbox", pb.ListPodSandboxRequest()).items:
                c.call("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=s.id))
                c.call("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=s.id))
        except grpc.RpcError:
            pass
        stop_pid(proc.pid)
        for shim in subprocess.run(["pgrep", "-f", f"containerd-shim.*-address {sock}"], capture_output=True,
                                   text=True).stdout.split():
            stop_pid(int(shim), 5)
        unmount_under(d)
        shutil.rmtree(d, ignore_errors=True)


def test_cri_pod_container_metadata(containerd):
    sock, c = containerd
    ns = pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER, ipc=pb.POD)
    sbcfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="web-0", uid="0c9e-uid", namespace="shop"),
        log_directory=os.path.dirname(sock) + "/logs", labels={"app": "web", "tier": "front"},
        linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    sb = c.call("RunPodSandbox", pb.RunPodSandboxRequest(config=sbcfg)).pod_sandbox_id
    cc = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="nginx"),
                            image=pb.ImageSpec(image="docker.io/lanner-test/busybox:1.0"),
                            command=["/bin/sleep", "600"], labels={"role": "server"}, log_path="nginx.log")
    cid = c.call("CreateContainer", pb.CreateContainerRequest(pod_sandbox_id=sb, config=cc,
                                                               sandbox_config=sbcfg)).container_id
    c.call("StartContainer", pb.StartContainerRequest(container_id=cid))

    st = c.call("ContainerStatus", pb.ContainerStatusRequest(container_id=cid, verbose=True))
    pid = __import__("json").loads(st.info["info"])["pid"]
    with open(f"/proc/{pid}/cgroup") as f:
        cg = [(ln.split(":", 2)[1], ln.rstrip("\n").split(":", 2)[2]) for ln in f]
    assert ContainerIdResolver().id_for(cg) == cid[:12]
    assert ContainerIdResolver().full_id_for(cg) == cid
    event_form = parse_cgroups([f"{c.split(',')[0].removeprefix('name=')}={p}" for c, p in cg])     # as the probe reports them
    assert event_form == [(c.split(",")[0].removeprefix("name="), p) for c, p in cg]
    assert ContainerIdResolver().id_for(event_form) == cid[:12]

    mgr = ContainerManager([CriEngine(sock)], watch_events=False, refresh_interval=0)
    with mgr:
        assert mgr.lookup(cid[:12]) is None
        info = mgr.wait_for(cid[:12], 15)
        sinfo = mgr.wait_for(sb[:12], 15)
        mgr.sweep()
        assert cid[:12] in mgr.known() and sb[:12] in mgr.known()
        c.call("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=sb))
        c.call("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=sb))
        mgr.sweep()                     # the runtime no longer lists them: evicted
        assert mgr.known() == {}
    assert info is not None and sinfo is not None
    assert info.type == "containerd" and info.full_id == cid and info.name == "nginx"
    assert info.image == "docker.io/lanner-test/busybox:1.0"
    assert (info.image_repo, info.image_tag) == ("docker.io/lanner-test/busybox", "1.0")
    assert info.image_digest.startswith("sha256:") and info.image_id == info.image_digest[7:]
    assert info.labels["io.kubernetes.pod.name"] == "web-0"
    assert info.labels["io.kubernetes.pod.namespace"] == "shop"
    assert info.labels["io.kubernetes.pod.uid"] == "0c9e-uid"
    assert info.labels["role"] == "server"
    assert info.pod_sandbox_id == sb and info.pod_sandbox_labels == {"app": "web", "tier": "front"}
    assert info.host_network is True and info.host_pid is False
    assert info.created_ns > 0
    assert sinfo.is_pod_sandbox and sinfo.name == "web-0"
