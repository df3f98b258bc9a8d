"""ka.* extraction over every audit file of ../shared/k8s_audit, with concrete expected values."""

from __future__ import annotations

import os

import orjson
import pytest

from lanner.events.base import PluginEvent
from lanner.fields import json as json_fields
from lanner.fields import k8saudit
from lanner.fields.registry import DEPRECATED, FieldError, FieldRegistry
from lanner.sources.k8saudit.files import read_file
from tests.conftest import shared_path

REG = FieldRegistry([k8saudit.field_class(), json_fields.field_class(("k8s_audit",))])


def get(evt: PluginEvent, name: str, arg: str | None = None):
    return REG.resolve("k8s_audit", name, arg).bind()(evt)


def load(name: str) -> list[PluginEvent]:
    path = shared_path("k8s_audit", name)
    errors: list[str] = []
    recs = list(read_file(str(path), 1 << 20, errors.append))
    assert not errors
    # raw payload only (obj None): the fields must parse it themselves
    return [PluginEvent(i, r.ts, "k8s_audit", r.data, "k8saudit") for i, r in enumerate(recs, 1)]


def one(name: str) -> PluginEvent:
    evts = load(name)
    assert len(evts) == 1
    return evts[0]


# file -> expected (verb, user, resource, subresource, namespace, response code)
BASICS = {
    "anonymous_creates_namespace_foo.json": ("create", "system:anonymous", "namespaces", None, None, "201"),
    "attach_pod.json": ("create", "minikube-user", "pods", "attach", "default", "101"),
    "exec_pod.json": ("create", "minikube-user", "pods", "exec", "default", "101"),
    "create_kube_system_secret.json": ("create", "admin", "secrets", None, "kube-system", "201"),
    "delete_namespace_foo.json": ("delete", "minikube-user", "namespaces", None, "foo", "200"),
    "create_nginx_pod_unsensitive_mount.json": ("get", "system:node:minikube", "pods", None, "default", "200"),
    "modify_cluster_role_node_problem_detector.json": ("patch", "minikube-user", "clusterroles", None, None, "200"),
    "create_serviceaccount_kube_system_namespace.json": ("create", "minikube-user", "serviceaccounts", None,
                                                         "kube-system", "201"),
}


@pytest.mark.parametrize("fname", sorted(BASICS))
def test_basic_fields(fname: str) -> None:
    e = one(fname)
    verb, user, res, sub, ns, code = BASICS[fname]
    assert get(e, "ka.verb") == verb
    assert get(e, "ka.user.name") == user
    assert get(e, "ka.target.resource") == res
    assert get(e, "ka.target.subresource") == sub
    assert get(e, "ka.target.namespace") == ns
    assert get(e, "ka.response.code") == code


def test_every_file_extracts_without_error() -> None:
    d = shared_path("k8s_audit")
    n = 0
    for fname in sorted(os.listdir(d)):
        if fname == "fal_01_003.json":
            continue
        for e in load(fname):
            n += 1
            for _cls, f in REG.all_fields("k8s_audit"):
                arg = None
                if f.arg == "required":
                    arg = "/verb" if f.name.endswith(".value") else "command"
                v = REG.resolve("k8s_audit", f.name, arg).bind()(e)
                assert v is None or isinstance(v, str | list), (fname, f.name, v)
                if isinstance(v, list):
                    assert v and all(isinstance(x, str) for x in v)
            assert get(e, "ka.auditid")
            assert get(e, "ka.verb") in ("create", "delete", "get", "patch")
    assert n == 51     # 45 single-event files + the 6 events of the JSON-lines configmap file


def test_privileged_lists() -> None:
    assert get(one("create_nginx_pod_privileged.json"), "ka.req.pod.containers.privileged") == ["true"]
    two = one("create_nginx_pod_privileged_2nd_container.json")
    assert get(two, "ka.req.pod.containers.privileged") == ["false", "true"]
    assert get(two, "ka.req.pod.containers.privileged", "1") == ["true"]
    assert get(two, "ka.req.pod.containers.privileged", "5") is None
    assert get(two, "ka.req.container.privileged") == "true"
    nosec = one("create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json")
    assert get(nosec, "ka.req.pod.containers.privileged") == ["true"]     # first container sets nothing
    unpriv = one("create_nginx_pod_unprivileged.json")
    assert get(unpriv, "ka.req.pod.containers.privileged") is None      # securityContext: {} sets nothing
    assert get(unpriv, "ka.req.container.privileged") == "false"
    assert get(unpriv, "ka.req.pod.initContainers.privileged") is None


def test_images_and_hostpaths() -> None:
    e = one("create_nginx_pod_sensitive_mount.json")
    assert get(e, "ka.req.pod.volumes.hostpath") == ["/etc"]
    assert get(e, "ka.req.volume.hostpath", "/etc") == "true"
    assert get(e, "ka.req.volume.hostpath", "/e*") == "true"
    assert get(e, "ka.req.volume.hostpath", "/var") == "false"
    assert get(e, "ka.req.pod.volumes.volume_type") == ["hostPath"]
    p = one("create_nginx_pod_privileged.json")
    assert get(p, "ka.req.pod.containers.image") == ["nginx"]
    assert get(p, "ka.req.pod.containers.image.repository") == ["nginx"]
    assert get(p, "ka.req.container.image") == "nginx"
    assert get(p, "ka.req.pod.containers.name") == ["nginx"]
    assert get(p, "ka.req.pod.containers.eff_run_as_user") == ["0"]
    assert get(p, "ka.req.pod.volumes.hostpath") is None
    hn = one("create_nginx_pod_hostnetwork.json")
    assert get(hn, "ka.req.pod.host_network") == "true"
    assert get(hn, "ka.req.container.host_network") == "true"
    assert get(one("create_nginx_pod_nohostnetwork.json"), "ka.req.pod.host_network") is None  # no hostNetwork key


def test_rbac_fields() -> None:
    b = one("attach_cluster_admin_role.json")
    assert get(b, "ka.req.binding.role") == "cluster-admin"
    subs = get(b, "ka.req.binding.subjects")
    assert len(subs) == 1 and orjson.loads(subs[0])["name"] == "minikube"
    assert get(b, "ka.req.binding.subjects.user_names") == ["minikube"]
    assert get(b, "ka.req.binding.subjects.group_names") is None
    assert get(b, "ka.req.binding.subject.has_name", "anything") == "true"
    w = one("create_cluster_role_wildcard_verbs.json")
    assert get(w, "ka.req.role.rules.verbs") == ["*", "get"]
    assert get(w, "ka.req.role.rules.verbs", "1") == ["get"]
    assert get(w, "ka.req.role.rules.resources") == ["pods"]
    assert "/healthz" in get(w, "ka.req.role.rules.nonResourceURLs")
    assert len(get(w, "ka.req.role.rules")) == 2
    assert get(one("create_cluster_role_wildcard_resources.json"), "ka.req.role.rules.resources") == ["*"]
    assert "pods/exec" in get(one("create_cluster_role_pod_exec.json"), "ka.req.role.rules.resources")


def test_service_configmap_uri_auth() -> None:
    s = one("create_nginx_service_nodeport.json")
    assert get(s, "ka.req.service.type") == "NodePort"
    ports = get(s, "ka.req.service.ports")
    assert [orjson.loads(p)["nodePort"] for p in ports] == [30080]
    cms = load("create_configmap_sensitive_values.json")
    assert len(cms) == 6
    objs = [get(c, "ka.req.configmap.obj") for c in cms]
    assert "aws_access_key_id" in objs[0]
    assert get(cms[0], "ka.req.configmap.name") == "my-config"
    x = one("exec_pod.json")
    assert get(x, "ka.uri.param", "command") == "bash"
    assert get(x, "ka.uri.param", "container") == "nginx1"
    assert get(x, "ka.uri.param", "nope") is None
    assert get(x, "ka.auth.decision") == "allow"
    assert get(x, "ka.auth.reason") == ""
    assert get(x, "ka.target.pod.name") == "nginx-deployment-7998647bdf-phvq7"
    assert get(x, "ka.stage") == "ResponseStarted"
    assert get(x, "ka.user.groups") == ["system:masters", "system:authenticated"]
    assert get(x, "ka.sourceips") == ["192.168.99.1"]
    assert get(x, "ka.resp.name") is None


def test_not_an_audit_event_is_missing() -> None:
    e = PluginEvent(1, 5, "k8s_audit", b'{"kind": 0}', "k8saudit")
    assert get(e, "ka.verb") is None
    assert get(e, "ka.req.pod.containers.image") is None
    assert get(e, "jevt.value", "/kind") == "0"        # json fields still see it
    bad = PluginEvent(2, 5, "k8s_audit", b'{"auditID": ', "k8saudit")
    assert get(bad, "ka.auditid") is None and get(bad, "json.obj") is None


def test_bad_arguments_rejected_at_bind() -> None:
    with pytest.raises(FieldError):
        REG.resolve("k8s_audit", "ka.req.pod.containers.image", "x")
    with pytest.raises(FieldError):
        REG.resolve("k8s_audit", "ka.verb", "1")
    with pytest.raises(FieldError):
        REG.resolve("k8s_audit", "ka.uri.param", None)
    with pytest.raises(FieldError):
        REG.resolve("syscall", "ka.verb", None)     # ka.* only serves k8s_audit


def test_table_shape() -> None:
    names = {f.name for f in k8saudit.FIELDS}
    referenced = ["ka.auth.decision", "ka.auth.reason", "ka.req.binding.role", "ka.req.binding.subjects", "ka.req.configmap.name", "ka.req.configmap.obj", "ka.req.pod.containers.image", "ka.req.pod.containers.image.repository", "ka.req.pod.containers.privileged", "ka.req.pod.ephemeralContainers.image", "ka.req.pod.ephemeralContainers.privileged", "ka.req.pod.host_ipc", "ka.req.pod.host_network", "ka.req.pod.host_pid", "ka.req.pod.initContainers.image", "ka.req.pod.initContainers.privileged", "ka.req.pod.volumes.hostpath", "ka.req.role.rules", "ka.req.role.rules.resources", "ka.req.role.rules.verbs", "ka.req.service.ports", "ka.req.service.type", "ka.resp.name", "ka.response.code", "ka.response.reason", "ka.target.name", "ka.target.namespace", "ka.target.resource", "ka.target.subresource", "ka.uri", "ka.uri.param", "ka.user.name", "ka.verb"]
    assert len(referenced) == 33 and set(referenced) <= names
    assert "ka.req.pod.ephemeralContainers.host_port" not in names
    deprecated = {f.name for f in k8saudit.FIELDS if DEPRECATED in f.flags}
    assert {"ka.req.container.image", "ka.req.volume.hostpath", "ka.req.binding.subject.has_name"} <= deprecated
