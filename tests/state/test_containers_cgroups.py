"""Container ids from cgroup paths of every runtime layout (v1 and v2), via lanner.state.cgroups."""

from __future__ import annotations

import pytest

from lanner.state.cgroups import ContainerIdResolver, parse_cgroups

H = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e"


@pytest.mark.parametrize("path,expected", [
    # docker, cgroup v1 (cgroupfs driver) and v2 (systemd driver)
    (f"/docker/{H}", H[:12]),
    (f"/system.slice/docker-{H}.scope", H[:12]),
    # kubernetes on containerd / CRI-O, cgroupfs and systemd drivers
    (f"/kubepods/besteffort/pod3e41dc6b-08a8-44db-bc2a-3724b18ab19a/{H}", H[:12]),
    (f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3e41.slice/cri-containerd-{H}.scope",
     H[:12]),
    (f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/crio-{H}.scope", H[:12]),
    (f"/kubepods/burstable/pod1/crio-{H}", H[:12]),
    (f"/kubepods-burstable-pod3e41.slice:cri-containerd:{H}", H[:12]),
    # podman (v2, systemd) and its conmon payload layout
    (f"/machine.slice/libpod-{H}.scope", H[:12]),
    (f"/machine.slice/libpod-{H}.scope/container", H[:12]),
    (f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{H}.scope", H[:12]),
    # containerd native (ctr): /<namespace>/<id>, any id up to 64 chars, truncated to 12
    ("/default/test_container", "test_contain"),
    (f"/k8s.io/{H}", H[:12]),
    # host layouts
    ("/", ""), ("/user.slice", ""), ("/init.scope", ""), ("/system.slice/sshd.service", ""),
    ("/user.slice/user-0.slice/session-3.scope", ""),
    # the supervisor cgroup of these machines: not a container
    ("/process_api/bd4f7cc3d1be6eb85f8dedfe296c8dfc", ""),
    # systemd-nspawn machines: no runtime matcher in Falco, host
    ("/machine.slice/systemd-nspawn@deb.service/payload", ""),
    ("/machine.slice/machine-deb.scope/payload", ""),
    # a 63-char id is no docker id, but the containerd matcher accepts any name up to 64 chars (as Falco);
    # longer ones never match
    (f"/docker/{H[:63]}", H[:12]),
    (f"/docker/{H}0", ""),
])
def test_default_engines(path, expected):
    assert ContainerIdResolver().id_for_path(path) == expected


@pytest.mark.parametrize("path,expected", [
    ("/lxc/web01", "web01"),
    ("/lxc.payload/web01", "web01"),
    ("/lxc.payload.web01/init.scope", "web01"),
    ("/lxc/web01/sub", "web01"),
])
def test_lxc_when_enabled(path, expected):
    assert ContainerIdResolver(("podman", "docker", "cri", "containerd", "lxc")).id_for_path(path) == expected


def test_lxc_disabled_by_default():
    # lxc is off by default; the containerd matcher still must not take "/lxc/web01" for a 12-char id
    # of a path ending in a known unit suffix, but a bare name is a ctr-style id.
    assert ContainerIdResolver().id_for_path("/lxc.payload.web01/init.scope") == ""


def test_first_matching_subsystem_wins_v1_list():
    lines = ["cpuset=/", "cpu=/", f"memory=/docker/{H}", f"pids=/docker/{'a' * 64}"]
    cg = parse_cgroups(lines)
    r = ContainerIdResolver()
    assert r.id_for(cg) == H[:12]
    assert r.full_id_for(cg) == H


def test_v2_single_hierarchy():
    assert ContainerIdResolver().id_for(parse_cgroups([f"=/system.slice/docker-{H}.scope"])) in ("", H[:12])
    assert ContainerIdResolver().id_for([("", f"/system.slice/docker-{H}.scope")]) == H[:12]


def test_process_api_host_in_full_list():
    cg = parse_cgroups(["name=systemd=/", "memory=/process_api/bd4f7cc3d1be6eb85f8dedfe296c8dfc", "cpu=/"])
    assert ContainerIdResolver().id_for(cg) == ""
