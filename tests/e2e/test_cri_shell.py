"""A shell opened in a container of a pod made through containerd's CRI API (``RunPodSandbox`` +
``CreateContainer`` + ``StartContainer``, the calls a kubelet makes), seen by lanner running live with
``container_engines.cri.sockets`` pointing at that containerd. The k8s fields come from the CRI pod
sandbox (its metadata name/namespace/uid), not from labels the test sets on a container.

The exec goes through containerd's native task API (``ctr task exec --tty``) under a pseudo-terminal:
the CRI ``Exec`` call only returns a URL for containerd's streaming server (SPDY/websocket), which no
Debian client here speaks; ``ExecSync`` has no terminal, so the terminal-shell rule would not apply.
The pod and container exist before lanner starts (metadata fetched at start-up).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid

import grpc  # noqa: E402
import pytest

from lanner.state.runtimes import cri_api_pb2 as pb  # noqa: E402
from tests.e2e.harness import LannerProcess, require_live, run_in_pty, user_config
from tests.state.runtimes.test_cri_containerd import containerd  # noqa: F401  (module fixture)

POD_NAME, POD_NS, POD_UID = "orders-api-6c9b7-kq2zd", "orders", "a3c1e0b2-5d4f-4e6a-9b8c-1d2e3f4a5b6c"


@pytest.fixture(scope="module")
def cri_pod(containerd):  # noqa: F811
    require_live()
    sock, c = containerd
    ns = pb.NamespaceOption(network=pb.NODE, pid=pb.CONTAINER, ipc=pb.POD)
    sbcfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=POD_NAME, uid=POD_UID, namespace=POD_NS),
        log_directory=os.path.dirname(sock) + "/logs", labels={"app": "orders-api"},
        linux=pb.LinuxPodSandboxConfig(security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns)))
    sb = c.call("RunPodSandbox", pb.RunPodSandboxRequest(config=sbcfg)).pod_sandbox_id
    cc = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="api"),
                            image=pb.ImageSpec(image="docker.io/lanner-test/busybox:1.0"),
                            command=["/bin/sleep", "600"], log_path="api.log")
    cid = c.call("CreateContainer", pb.CreateContainerRequest(pod_sandbox_id=sb, config=cc,
                                                               sandbox_config=sbcfg)).container_id
    c.call("StartContainer", pb.StartContainerRequest(container_id=cid))
    yield sock, sb, cid
    try:
        c.call("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=sb))
        c.call("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=sb))
    except grpc.RpcError:
        pass


def test_terminal_shell_in_cri_pod(tmp_path, cri_pod):
    sock, sb, cid = cri_pod
    ctr = shutil.which("ctr")
    assert ctr
    cfg = user_config(tmp_path, container_engines={"cri": {"enabled": True, "sockets": [sock]},
                                                   "containerd": {"enabled": False},
                                                   "docker": {"enabled": False}, "podman": {"enabled": False}})
    lanner = LannerProcess(["-c", str(cfg), "-o", "engine.kind=modern_ebpf", "-v"], tmp_path / "lanner.log")
    try:
        lanner.wait_live(60)
        nonce = "e2e-" + uuid.uuid4().hex[:10]
        rc, out = run_in_pty([ctr, "-a", sock, "-n", "k8s.io", "task", "exec", "--tty", "--exec-id", nonce, cid,
                              "sh", "-c", f"echo {nonce}; sleep 0.2"], timeout=30)
        assert rc == 0 and nonce in out, f"ctr task exec --tty failed ({rc}): {out!r}"
        alert = lanner.wait_alert(lambda a: a.get("rule") == "Terminal Shell in Container"
                                  and nonce in str(a["output_fields"].get("proc.cmdline")), 15)
        assert alert is not None, "no 'Terminal Shell in Container' alert within 15 s\n" + lanner.describe()
        rc = lanner.stop()
    finally:
        lanner.kill()
    assert rc == 0, "lanner exit code after SIGTERM\n" + lanner.describe()
    assert not lanner.leftover_bpf(), "BPF objects still loaded after lanner exited"
    f = alert["output_fields"]
    assert f["container.id"] == cid[:12], json.dumps(alert)
    assert f["container.name"] == "api", json.dumps(alert)
    assert f["container.image.repository"] == "docker.io/lanner-test/busybox", json.dumps(alert)
    assert f["container.image.tag"] == "1.0", json.dumps(alert)
    assert f["k8s.ns.name"] == POD_NS and f["k8s.pod.name"] == POD_NAME, json.dumps(alert)
    assert f"k8s_pod_name={POD_NAME} k8s_ns_name={POD_NS}" in alert["output"]
