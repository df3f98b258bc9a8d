"""End to end: upstream k8s_audit_rules.yaml on every ../shared/k8s_audit file, from files and through the
live webhook; both must give the alerts a Falco user expects."""

from __future__ import annotations

import http.client
import os

import pytest

import lanner.engine as engine_mod  # noqa: E402
from lanner.config import Config
from lanner.sources.k8saudit import K8sAuditPlugin
from tests.conftest import shared_path

EXPECTED = {
    "anonymous_creates_namespace_foo.json": ["Anonymous Request Allowed"],
    "attach_cluster_admin_role.json": ["Attach to cluster-admin Role"],
    "attach_pod.json": ["Attach/Exec Pod"],
    "create_cluster_role_pod_exec.json": ["ClusterRole With Pod Exec Created"],
    "create_cluster_role_wildcard_resources.json": ["ClusterRole With Wildcard Created"],
    "create_cluster_role_wildcard_verbs.json": ["ClusterRole With Wildcard Created"],
    "create_cluster_role_write_privileges.json": ["ClusterRole With Write Privileges Created"],
    "create_clusterrole.json": ["K8s ClusterRole Created"],
    "create_clusterrolebinding.json": ["K8s ClusterRoleBinding Created"],
    "create_configmap.json": ["K8s ConfigMap Created"],
    "create_configmap_no_sensitive_values.json": ["K8s ConfigMap Created"],
    "create_configmap_sensitive_values.json": ["Create/Modify Configmap With Private Credentials"] * 6,
    "create_deployment.json": ["K8s Deployment Created"],
    "create_kube_system_secret.json": [],
    "create_nginx_pod_hostnetwork.json": ["Create HostNetwork Pod"],
    "create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json": ["Create Privileged Pod"],
    "create_nginx_pod_nohostnetwork.json": [],
    "create_nginx_pod_privileged.json": ["Create Privileged Pod"],
    "create_nginx_pod_privileged_2nd_container.json": ["Create Privileged Pod"],
    "create_nginx_pod_sensitive_mount.json": ["Create Sensitive Mount Pod"],
    "create_nginx_pod_sensitive_mount_2nd_container.json": ["Create Sensitive Mount Pod"],
    "create_nginx_pod_unprivileged.json": [],
    "create_nginx_pod_unsensitive_mount.json": [],
    "create_nginx_service_nodeport.json": ["Create NodePort Service"],
    "create_nginx_service_nonodeport.json": ["K8s Service Created"],
    "create_pod_kube_public_namespace.json": ["Pod Created in Kube Namespace"],
    "create_pod_kube_system_namespace.json": ["Pod Created in Kube Namespace"],
    "create_secret.json": ["K8s Secret Created"],
    "create_service.json": ["K8s Service Created"],
    "create_service_account_token_secret.json": [],
    "create_serviceaccount.json": ["K8s Serviceaccount Created"],
    "create_serviceaccount_kube_public_namespace.json": ["Service Account Created in Kube Namespace"],
    "create_serviceaccount_kube_system_namespace.json": ["Service Account Created in Kube Namespace"],
    "delete_cluster_role_kube_aggregator.json": ["System ClusterRole Modified/Deleted"],
    "delete_clusterrole.json": ["K8s ClusterRole Deleted"],
    "delete_clusterrolebinding.json": ["K8s ClusterRoleBinding Deleted"],
    "delete_configmap.json": ["K8s ConfigMap Deleted"],
    "delete_deployment.json": ["K8s Deployment Deleted"],
    "delete_namespace_foo.json": ["K8s Namespace Deleted"],
    "delete_secret.json": ["K8s Secret Deleted"],
    "delete_service.json": ["K8s Service Deleted"],
    "delete_serviceaccount.json": ["K8s Serviceaccount Deleted"],
    "exec_pod.json": ["Attach/Exec Pod"],
    "fal_01_003.json": [],
    "minikube_creates_namespace_foo.json": ["Create Disallowed Namespace"],
    "modify_cluster_role_node_problem_detector.json": ["System ClusterRole Modified/Deleted"],
    "some-user_creates_namespace_foo.json": ["Disallowed K8s User"],
}


@pytest.fixture(scope="module")
def engine():
    rules = shared_path("upstream", "rules", "k8s_audit_rules.yaml")
    eng = engine_mod.Engine(Config({}), sources=["k8s_audit", "syscall"])
    assert eng.load_rules_files([str(rules)])
    return eng


def test_replay_each_file(engine) -> None:
    d = shared_path("k8s_audit")
    assert sorted(os.listdir(d)) == sorted(EXPECTED)
    for fname, expected in EXPECTED.items():
        p = K8sAuditPlugin()
        p.init({})
        fired = [a.rule for e in p.open(str(d / fname)) if e is not None for a in engine.process(e)]
        assert fired == expected, fname
        assert bool(p.errors) == (fname == "fal_01_003.json")


def test_privileged_pod_alert_text(engine) -> None:
    p = K8sAuditPlugin()
    e = next(iter(p.open(str(shared_path("k8s_audit", "create_nginx_pod_privileged.json")))))
    (a,) = engine.process(e)
    assert a.source == "k8s_audit" and a.priority.name == "WARNING"
    assert "user=system:serviceaccount:kube-system:replicaset-controller" in a.message
    assert "images=(nginx)" in a.message or "images=nginx" in a.message


def test_same_alerts_through_live_webhook(engine) -> None:
    d = shared_path("k8s_audit")
    p = K8sAuditPlugin()
    p.init({})
    it = p.open("http://127.0.0.1:0/k8s-audit")
    port = p.webhook.bound_port
    try:
        statuses = {}
        for fname in EXPECTED:
            for line in filter(bytes.strip, (d / fname).read_bytes().splitlines()):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("POST", "/k8s-audit", body=line, headers={"Content-Type": "application/json"})
                statuses.setdefault(fname, []).append(c.getresponse().status)
                c.close()
        assert statuses["fal_01_003.json"] == [400]
        assert all(s == [200] * len(s) for f, s in statuses.items() if f != "fal_01_003.json")
        want = [r for f, rules in EXPECTED.items() for r in rules]
        got: list[str] = []
        n = 0
        for e in it:
            if e is None:
                break
            n += 1
            got += [a.rule for a in engine.process(e)]
        assert n == 51 and got == want
    finally:
        p.close()
