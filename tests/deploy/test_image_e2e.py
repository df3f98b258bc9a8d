"""End to end on this machine's Docker engine, the Kubernetes walk-through minus the API server.

The lanner image is built from a local Debian rootfs (deploy/docker/build-image.sh: debootstrap tarball,
cached in /var/cache/lanner; no registry), then run with the DaemonSet's pod spec translated to
``docker run`` (tests/deploy/podspec.py: host PID namespace, security context, env, hostPath and
ConfigMap mounts). A *different* container, labelled as a kubelet labels a pod's container, gets a
``docker exec -it`` shell; the lanner container's log must hold the "Terminal Shell in Container" alert
with that container's id and name, its pod name and namespace and its pod labels.

Capabilities the engine cannot grant are mapped and reported (Docker 20.10 does not know CAP_BPF or
CAP_PERFMON: granted as CAP_SYS_ADMIN, which the kernel accepts for both; a capability missing from this
host's own bounding set, such as CAP_SYS_RESOURCE here, is left out: kernels >= 5.11 charge BPF memory
to the cgroup, not RLIMIT_MEMLOCK).
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.deploy.podspec import ROOT, docker_run_for, manifest
from tests.docker.infra import build_rootfs_image, docker_engine  # noqa: F401  (fixture)

BUILD_IMAGE = ROOT / "deploy" / "docker" / "build-image.sh"
POD = {"io.kubernetes.pod.name": "web-7d9f", "io.kubernetes.pod.namespace": "shop",
       "io.kubernetes.pod.uid": "3e41dc6b-08a8-44db-bc2a-3724b18ab19a"}
POD_LABELS = {"app": "web", "tier": "front"}
# Names and labels as the kubelet (through cri-dockerd) gives a pod's sandbox and its app container.
SANDBOX = "k8s_POD_web-7d9f_shop_3e41dc6b-08a8-44db-bc2a-3724b18ab19a_0"
TARGET = "k8s_web_web-7d9f_shop_3e41dc6b-08a8-44db-bc2a-3724b18ab19a_0"
AGENT = "lanner-e2e-agent"
NODE = "e2e-node"


def _live_probe_available() -> str | None:
    """Why the live probe cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root"
    if not Path("/sys/kernel/btf/vmlinux").exists():
        return "kernel without BTF (/sys/kernel/btf/vmlinux)"
    if not (ROOT / "lanner" / "sources" / "ebpf" / "probe.bpf.o").exists():
        return "probe object lanner/sources/ebpf/probe.bpf.o not built"
    try:
        import lanner.run.live  # noqa: F401
    except ImportError as e:
        return f"live capture entry point missing: {e}"
    return None


def _cap_mapper(engine):
    """k8s capability name -> what this engine and host can grant (None: cannot be granted)."""
    cache: dict[str, str | None] = {}

    def grantable(cap: str) -> str:
        p = engine.run("run", "--rm", "--network", "none", "--cap-drop", "ALL", "--cap-add", cap,
                       "lanner-test/busybox:1.0", "true", check=False)
        err = p.stderr.decode(errors="replace")
        if p.returncode == 0:
            return "ok"
        return "unknown" if "unknown capability" in err else "denied"

    def mapper(cap: str) -> str | None:
        if cap not in cache:
            state = grantable(cap)
            if state == "ok":
                cache[cap] = cap
            elif state == "unknown" and cap in ("BPF", "PERFMON"):
                cache[cap] = "SYS_ADMIN"          # the pre-5.8 capability covering bpf() and perf
            else:
                cache[cap] = None
        return cache[cap]

    return mapper


@pytest.fixture(scope="module")
def lanner_image(docker_engine):  # noqa: F811
    why = _live_probe_available()
    if why in ("needs root", "kernel without BTF (/sys/kernel/btf/vmlinux)"):
        pytest.skip(f"live eBPF probe not available: {why}")
    if why:
        pytest.fail(why)
    if not shutil.which("debootstrap") and not list(Path("/var/cache/lanner").glob("debian-*-lanner-base-*.tar")):
        pytest.skip("no cached base rootfs and no debootstrap (apt-get install debootstrap)")
    env = dict(docker_engine.env, DOCKER=docker_engine.docker)
    p = subprocess.run([str(BUILD_IMAGE), "--tag", "lanner:e2e"], capture_output=True, text=True, timeout=900,
                       env=env)
    assert p.returncode == 0, f"image build failed:\n{p.stdout}\n{p.stderr[-3000:]}"
    docker_engine.images.append("lanner:e2e")
    return "lanner:e2e"


@pytest.fixture(scope="module")
def agent(docker_engine, lanner_image, tmp_path_factory):  # noqa: F811
    build_rootfs_image(docker_engine, "lanner-test/busybox:1.0")
    pod = manifest("DaemonSet")["spec"]["template"]
    run = docker_run_for(pod, tmp_path_factory.mktemp("configmaps"), field_values={"spec.nodeName": NODE},
                         host_paths={"/var/run/docker.sock": docker_engine.socket},
                         cap_map=_cap_mapper(docker_engine))
    for n in run.notes:
        print("pod spec on this engine:", n)
    assert "/host/var/run/docker.sock" in " ".join(run.args), "the engine's socket must be mounted"
    docker_engine.run("rm", "-f", AGENT, TARGET, SANDBOX, check=False)
    argv = run.argv(AGENT)
    argv[argv.index(run.image)] = lanner_image
    docker_engine.run(*argv)
    try:
        _wait_for_log(docker_engine, "Enabled event sources", 60)
        _wait_healthy(docker_engine, 60)
        time.sleep(3)     # probe attached and /proc seeded after the webserver starts
        yield run
    finally:
        logs = _logs(docker_engine)
        print("lanner container log (non-alert lines):")
        print("\n".join(ln for ln in logs.splitlines() if not ln.startswith("{"))[-3000:])
        docker_engine.run("rm", "-f", AGENT, TARGET, SANDBOX, check=False)


def _logs(engine) -> str:
    p = engine.run("logs", AGENT, check=False)
    return p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def _wait_for_log(engine, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = _logs(engine)
        if text in logs:
            return
        st = engine.run("inspect", "-f", "{{.State.Running}}", AGENT, check=False).stdout.decode().strip()
        if st != "true":
            pytest.fail(f"lanner container exited; log:\n{logs[-3000:]}")
        time.sleep(0.5)
    pytest.fail(f"'{text}' not in the lanner log within {timeout}s:\n{_logs(engine)[-3000:]}")


def _wait_healthy(engine, timeout: float) -> None:
    """The DaemonSet's probes: GET /healthz on the http port, from inside the pod's network namespace."""
    (c,) = manifest("DaemonSet")["spec"]["template"]["spec"]["containers"]
    port = next(p["containerPort"] for p in c["ports"] if p["name"] == c["livenessProbe"]["httpGet"]["port"])
    path = c["livenessProbe"]["httpGet"]["path"]
    code = ("import urllib.request,sys;"
            f"r=urllib.request.urlopen('http://127.0.0.1:{port}{path}',timeout=3);"
            "sys.stdout.write(str(r.status)+' '+r.read().decode())")
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        p = engine.run("exec", AGENT, "/usr/bin/python3", "-c", code, check=False)
        last = p.stdout.decode() + p.stderr.decode()
        if p.returncode == 0 and last.startswith("200"):
            return
        time.sleep(1)
    pytest.fail(f"/healthz did not answer 200 within {timeout}s: {last[-500:]}")


def _exec_it(engine, container: str, command: str) -> str:
    """``docker exec -it`` with a real terminal on our side (a pty), as a user at a shell would."""
    master, slave = pty.openpty()
    try:
        p = subprocess.run([engine.docker, "exec", "-it", container, "sh", "-c", command], env=engine.env,
                           stdin=slave, stdout=slave, stderr=slave, timeout=30)
        os.close(slave)
        slave = -1
        out = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        assert p.returncode == 0, out
        return out.decode(errors="replace")
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)


def test_shell_in_another_container_is_reported_with_its_pod(docker_engine, agent):  # noqa: F811
    def labels(d: dict[str, str]) -> list[str]:
        return [a for k, v in d.items() for a in ("--label", f"{k}={v}")]

    sandbox = docker_engine.run("run", "-d", "--network", "none", "--name", SANDBOX,
                                *labels({**POD, **POD_LABELS, "io.kubernetes.docker.type": "podsandbox"}),
                                "lanner-test/busybox:1.0", "/bin/sleep", "600").stdout.decode().strip()
    cid = docker_engine.run("run", "-d", "--network", f"container:{sandbox}", "--name", TARGET,
                            *labels({**POD, "io.kubernetes.container.name": "web",
                                     "io.kubernetes.docker.type": "container",
                                     "io.kubernetes.sandbox.id": sandbox}),
                            "lanner-test/busybox:1.0", "/bin/sleep", "600").stdout.decode().strip()
    time.sleep(2)      # lanner has seen the container start and asked the runtime about it
    out = _exec_it(docker_engine, TARGET, "echo lanner-e2e-marker; id -u")
    assert "lanner-e2e-marker" in out

    deadline = time.monotonic() + 30
    found = None
    while time.monotonic() < deadline and found is None:
        for ln in _logs(docker_engine).splitlines():
            if not ln.startswith("{"):
                continue
            alert = json.loads(ln)
            f = alert.get("output_fields", {})
            if alert.get("rule") == "Terminal Shell in Container" and f.get("container.id") == cid[:12] \
                    and "lanner-e2e-marker" in (f.get("proc.cmdline") or ""):
                found = alert
        time.sleep(0.5)
    assert found is not None, "no 'Terminal Shell in Container' alert for the exec'd container"
    f = found["output_fields"]
    assert found["hostname"] == NODE                       # FALCO_HOSTNAME from spec.nodeName
    assert found["source"] == "syscall"
    assert f["container.name"] == TARGET
    assert f["k8s.pod.name"] == "web-7d9f"
    assert f["k8s.ns.name"] == "shop"
    labels = f["k8s.pod.labels"] or ""
    assert "app:web" in labels and "tier:front" in labels, labels
    assert f["proc.name"] == "sh" and f["proc.tty"] != 0
    assert f"container_id={cid[:12]}" in found["output"] and f"container_name={TARGET}" in found["output"]
