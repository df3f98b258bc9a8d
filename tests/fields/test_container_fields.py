"""container.* and k8s.* fields over a ContainerManager: host, pending look-up, metadata, pod sandbox."""

from __future__ import annotations

import pytest

from lanner.fields import container as cf
from lanner.fields import k8s as kf
from lanner.fields.registry import SUGGESTED, FieldError, FieldRegistry
from lanner.state.container_info import ContainerInfo, Mount
from lanner.state.containers import ContainerManager
from lanner.state.threads import ThreadInfo

H = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e"
S = "63060edc2d3aa803ab559f2393776b151f99fc5b05035b21db66b3b62246ad6a"


class Ev:
    def __init__(self, thread, ts=2_000):
        self.num, self.ts, self.source, self.type, self.cache, self.thread = 1, ts, "syscall", 0, {}, thread


def thread(cid="", start=0):
    t = ThreadInfo(100)
    t.container_id = cid
    t.pidns_init_start_ts = start
    return t


@pytest.fixture
def mgr():
    return ContainerManager()


@pytest.fixture
def reg(mgr):
    return FieldRegistry([cf.field_class(mgr), kf.field_class(mgr)])


def get(reg, name, e, arg=None):
    return reg.resolve("syscall", name, arg).bind()(e)


def test_host_process(reg, mgr):
    e = Ev(thread(""))
    assert get(reg, "container.id", e) == "host"
    assert get(reg, "container.name", e) == "host"
    assert get(reg, "container.type", e) == "host"
    assert get(reg, "container.full_id", e) == "host"
    assert get(reg, "container.image.repository", e) == ""
    assert get(reg, "container.privileged", e) is False
    assert get(reg, "k8s.pod.name", e) is None and get(reg, "k8s.ns.name", e) is None
    assert get(reg, "container.start_ts", e) is None
    assert mgr.pending() == []


def test_no_thread_is_missing(reg):
    e = Ev(None)
    assert get(reg, "container.id", e) is None and get(reg, "container.name", e) is None


def test_pending_lookup_gives_only_id_and_times(reg, mgr):
    e = Ev(thread(H[:12], start=500), ts=2_000)
    assert get(reg, "container.id", e) == H[:12]
    assert get(reg, "container.start_ts", e) == 500
    assert get(reg, "container.duration", e) == 1500
    for n in ("container.name", "container.image", "container.type", "container.labels", "k8s.pod.name"):
        assert get(reg, n, e) is None, n
    assert mgr.pending() == [H[:12]]


def _docker_pod_container() -> ContainerInfo:
    return ContainerInfo(
        id=H[:12], full_id=H, type="docker", name="k8s_app_web_shop", image="reg:5000/shop/web:2.1",
        image_repo="reg:5000/shop/web", image_tag="2.1", image_id="ab" * 32, image_digest="sha256:" + "cd" * 32,
        mounts=[Mount("/proc", "/host/proc", "", False, "rprivate"), Mount("/var/run/docker.sock",
                                                                          "/var/run/docker.sock", "", True, "")],
        labels={"io.kubernetes.pod.name": "web", "io.kubernetes.pod.namespace": "shop",
                "io.kubernetes.pod.uid": "u-1", "io.kubernetes.sandbox.id": S, "annotation.x": "1",
                "team": "a", "app.kubernetes.io/name": "web", "flag": ""},
        pod_sandbox_id=S, host_network=True)


def test_metadata_fields(reg, mgr):
    mgr.add(_docker_pod_container())
    e = Ev(thread(H[:12]))
    assert get(reg, "container.name", e) == "k8s_app_web_shop"
    assert get(reg, "container.image.repository", e) == "reg:5000/shop/web"
    assert get(reg, "container.image.tag", e) == "2.1"
    assert get(reg, "container.image.digest", e) == "sha256:" + "cd" * 32
    assert get(reg, "container.labels", e) == "app.kubernetes.io/name:web, flag, team:a"
    assert get(reg, "container.label", e, "team") == "a"
    assert get(reg, "container.label.app.kubernetes.io/name", e) == "web"      # dotted form
    assert get(reg, "container.label", e, "nope") is None
    assert get(reg, "container.mounts", e) == "/proc:/host/proc::false:rprivate,/var/run/docker.sock:/var/run/docker.sock::true:"
    assert get(reg, "container.mount.dest", e, "/proc*") == "/host/proc"
    assert get(reg, "container.mount.dest", e, "/var/run/docker.sock") == "/var/run/docker.sock"
    assert get(reg, "container.mount.dest", e, "/etc") is None
    assert get(reg, "container.mount.source", e, "/host/*") == "/proc"
    assert get(reg, "container.mount", e, "1") == "/var/run/docker.sock:/var/run/docker.sock::true:"
    assert get(reg, "container.mount", e, "7") is None
    assert get(reg, "container.mount.rdwr", e, "0") == "false"
    assert get(reg, "container.host_network", e) is True
    assert get(reg, "k8s.pod.name", e) == "web" and get(reg, "k8s.ns.name", e) == "shop"
    assert get(reg, "k8s.pod.uid", e) == "u-1"
    assert get(reg, "k8s.pod.sandbox_id", e) == S[:12] and get(reg, "k8s.pod.full_sandbox_id", e) == S
    assert get(reg, "k8s.pod.labels", e) == ""
    assert get(reg, "k8s.pod.ip", e) is None
    assert get(reg, "container.healthcheck", e) is None and get(reg, "k8s.rc.name", e) is None


def test_pod_labels_and_ip_from_cached_sandbox(reg, mgr):
    mgr.add(_docker_pod_container())
    mgr.add(ContainerInfo(id=S[:12], full_id=S, name="k8s_POD_web_shop", ip="10.1.2.3", is_pod_sandbox=True,
                          pod_sandbox_id=S, pod_sandbox_labels={"app": "web", "io.kubernetes.pod.name": "web"}))
    e = Ev(thread(H[:12]))
    assert get(reg, "k8s.pod.label", e, "app") == "web"
    assert get(reg, "k8s.pod.label.app", e) == "web"
    assert get(reg, "k8s.pod.labels", e) == "app:web"
    assert get(reg, "k8s.pod.ip", e) == "10.1.2.3"


def test_cri_style_pod_fields_without_sandbox_entry(reg, mgr):
    mgr.add(ContainerInfo(id=H[:12], full_id=H, type="containerd", ip="10.0.0.9", cni_json='[{"name":"eth0"}]',
                          pod_sandbox_id=S, pod_sandbox_labels={"app": "api"},
                          labels={"io.kubernetes.pod.name": "api-0"}))
    e = Ev(thread(H[:12]))
    assert get(reg, "k8s.pod.ip", e) == "10.0.0.9"
    assert get(reg, "k8s.pod.cni.json", e) == '[{"name":"eth0"}]'
    assert get(reg, "k8s.pod.label", e, "app") == "api"


def test_fields_fill_in_when_metadata_arrives(reg, mgr):
    t = thread(H[:12])
    assert get(reg, "container.name", Ev(t)) is None
    mgr.add(_docker_pod_container())
    assert get(reg, "container.name", Ev(t)) == "k8s_app_web_shop"


def test_suggested_fields_in_falco_order(reg):
    sugg = [f.name for _, f in reg.all_fields("syscall") if SUGGESTED in f.flags]
    assert sugg == ["container.id", "container.name", "container.image.repository", "container.image.tag",
                    "k8s.pod.name", "k8s.ns.name"]


def test_argument_rules(reg):
    with pytest.raises(FieldError):
        reg.resolve("syscall", "container.mount.dest", None)
    with pytest.raises(FieldError):
        reg.resolve("syscall", "container.label", None)
    with pytest.raises(FieldError):
        reg.resolve("syscall", "container.name", "x")
    assert not reg.classes_for("k8s_audit")
