"""A shell opened with ``docker exec -it`` in a container that belongs to a Kubernetes pod, seen by lanner
running live as a user runs it: ``python -m lanner -c <config>`` with JSON alerts on stdout, container
metadata from the Docker engine named in ``container_engines.docker.sockets``.

Once with a test rule (``-r``), once with no ``-r`` at all (the packaged default rules, whose
"Terminal Shell in Container" fires, and whose output gets the suggested container/k8s fields appended).
The container is already running when lanner starts (its metadata must be fetched at start-up, as Falco's
container plugin lists running containers); a third run starts a new pod container while lanner is live
(metadata from the engine's event stream) and execs into it at once.
Each run ends with SIGTERM: exit code 0, and every BPF program and map the process held is released.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.docker.infra import build_rootfs_image
from tests.e2e.harness import LannerProcess, require_live, run_in_pty, user_config

POD = {
    "io.kubernetes.pod.name": "checkout-5f7c9d-x2x7q",
    "io.kubernetes.pod.namespace": "payments",
    "io.kubernetes.pod.uid": "6f1f0d2e-8f0b-4a51-9d8b-7c0d1e2f3a4b",
    "io.kubernetes.container.name": "checkout",
}
IMAGE = "lanner-e2e/busybox:1.0"
NAME = "k8s_checkout_checkout-5f7c9d-x2x7q_payments_0"

TEST_RULES = """
- rule: E2E shell with a terminal in a container
  desc: an interactive shell inside a container
  condition: >
    evt.type in (execve, execveat) and evt.dir = < and container.id != host
    and proc.name in (sh, ash, bash) and proc.tty != 0
  output: >
    e2e shell (cmdline=%proc.cmdline container_id=%container.id container_name=%container.name
    image=%container.image.repository ns=%k8s.ns.name pod=%k8s.pod.name)
  priority: WARNING
  tags: [e2e]
"""


@pytest.fixture(scope="module")
def pod_container(docker_engine):
    require_live()
    build_rootfs_image(docker_engine, IMAGE)
    cid = _start_pod_container(docker_engine, NAME)
    yield docker_engine, cid
    docker_engine.run("rm", "-f", cid, check=False)


def _exec_shell(engine, cid: str, nonce: str) -> None:
    rc, out = run_in_pty([engine.docker, "exec", "-it", cid, "sh", "-c", f"echo {nonce}; sleep 0.2"],
                         env=engine.env, timeout=30)
    assert rc == 0 and nonce in out, f"docker exec -it failed ({rc}): {out!r}"


def _shell_alert(rule: str, nonce: str):
    def pred(a: dict) -> bool:
        return a.get("rule") == rule and nonce in str((a.get("output_fields") or {}).get("proc.cmdline"))
    return pred


def _start_pod_container(engine, name: str) -> str:
    args = ["run", "-d", "--network", "none", "--name", name]
    for k, v in POD.items():
        args += ["--label", f"{k}={v}"]
    return engine.run(*args, IMAGE, "/bin/sleep", "600").stdout.decode().strip()


def _run_and_check(tmp_path: Path, engine, cid: str | None, rule: str, extra_args: list[str],
                   name: str = NAME) -> tuple[dict, str]:
    cfg = user_config(tmp_path, container_engines={"docker": {"enabled": True, "sockets": [engine.socket]}})
    lanner = LannerProcess(["-c", str(cfg), "-o", "engine.kind=modern_ebpf", "-v", *extra_args],
                           tmp_path / "lanner.log")
    try:
        lanner.wait_live(60)
        if cid is None:
            cid = _start_pod_container(engine, name)
        nonce = "e2e-" + uuid.uuid4().hex[:10]
        _exec_shell(engine, cid, nonce)
        alert = lanner.wait_alert(_shell_alert(rule, nonce), 15)
        assert alert is not None, f"no '{rule}' alert within 15 s\n" + lanner.describe()
        rc = lanner.stop()
    finally:
        lanner.kill()
    assert rc == 0, "lanner exit code after SIGTERM\n" + lanner.describe()
    assert lanner.bpf_progs, "no BPF program was seen while lanner ran"
    left = lanner.leftover_bpf()
    assert not left, f"BPF objects still loaded after lanner exited: {left}"
    # (our own ids, not `bpftool prog show | grep lanner`: other lanner instances may run on the machine)
    return alert, cid


def _check_context(alert: dict, cid: str, name: str = NAME) -> None:
    f = alert["output_fields"]
    assert f["container.id"] == cid[:12], json.dumps(alert)
    assert f["container.name"] == name, json.dumps(alert)
    assert f["container.image.repository"] == "lanner-e2e/busybox", json.dumps(alert)
    assert f["k8s.ns.name"] == POD["io.kubernetes.pod.namespace"], json.dumps(alert)
    assert f["k8s.pod.name"] == POD["io.kubernetes.pod.name"], json.dumps(alert)
    assert alert["source"] == "syscall"


def test_terminal_shell_alert_with_test_rule(tmp_path, pod_container):
    engine, cid = pod_container
    rules = tmp_path / "e2e_rules.yaml"
    rules.write_text(TEST_RULES)
    alert, _ = _run_and_check(tmp_path, engine, cid, "E2E shell with a terminal in a container",
                              ["-r", str(rules)])
    _check_context(alert, cid)
    assert alert["priority"] == "Warning"
    assert f"container_id={cid[:12]} container_name={NAME}" in alert["output"]
    assert "ns=payments pod=checkout-5f7c9d-x2x7q" in alert["output"]


def test_terminal_shell_alert_with_default_rules(tmp_path, pod_container):
    engine, cid = pod_container
    alert, _ = _run_and_check(tmp_path, engine, cid, "Terminal Shell in Container", [])
    _check_context(alert, cid)
    assert alert["priority"] == "Notice"
    # the default config's append_output (suggested fields) puts the k8s context in the text too
    assert "k8s_ns_name=payments" in alert["output"] and "k8s_pod_name=checkout-5f7c9d-x2x7q" in alert["output"]
    assert f"container_id={cid[:12]}" in alert["output"]


def test_container_started_while_lanner_runs(tmp_path, pod_container):
    engine, _ = pod_container
    name = NAME.replace("_0", "_1")
    cid = None
    try:
        alert, cid = _run_and_check(tmp_path, engine, None, "Terminal Shell in Container", [], name=name)
        _check_context(alert, cid, name)
    finally:
        engine.run("rm", "-f", cid or name, check=False)
