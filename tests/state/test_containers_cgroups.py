"""Container ids from cgroup paths, by container runtime layouts only (lanner.state.cgroups).

The paths are the ones each runtime creates, as seen in /proc/<pid>/cgroup on cgroup v1 (one line per
hierarchy) and v2 (the single ``0::`` line); every path outside those layouts is the host, whatever
prefix a machine gives its own processes, and this machine's processes are checked for that.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lanner.state.cgroups import DEFAULT_ENGINES, KNOWN_ENGINES, ContainerIdResolver, parse_cgroups

H = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e"
OUTER = "9f2c4e1b7a3d" + "0" * 52
UID = "3e41dc6b-08a8-44db-bc2a-3724b18ab19a"
SUID = UID.replace("-", "_")


def proc_cgroup(text: str) -> list[tuple[str, str]]:
    """(controllers, path) pairs of a /proc/<pid>/cgroup file's lines ("id:controllers:path")."""
    out = []
    for line in text.strip().splitlines():
        _hid, controllers, path = line.strip().split(":", 2)
        out.append((controllers, path))
    return out


V1_CONTROLLERS = ("pids", "hugetlb", "net_cls,net_prio", "perf_event", "cpu,cpuacct", "blkio", "freezer",
                  "memory", "devices", "cpuset", "rdma", "name=systemd")


def v1(path: str, unified: str = "/") -> str:
    """A cgroup v1 (hybrid) /proc/<pid>/cgroup with ``path`` in every hierarchy."""
    lines = [f"{12 - i}:{c}:{path}" for i, c in enumerate(V1_CONTROLLERS)]
    return "\n".join(lines + [f"0::{unified}"])


def v2(path: str) -> str:
    return f"0::{path}"


CONTAINERS = [
    # docker: cgroupfs driver (v1, v2), systemd driver (v1, v2), rootless, --cgroup-parent
    ("docker v1 cgroupfs", v1(f"/docker/{H}", "/system.slice/containerd.service"), H),
    ("docker v2 cgroupfs", v2(f"/docker/{H}"), H),
    ("docker v1 systemd", v1(f"/system.slice/docker-{H}.scope"), H),
    ("docker v2 systemd", v2(f"/system.slice/docker-{H}.scope"), H),
    ("docker v2 rootless", v2(f"/user.slice/user-1000.slice/user@1000.service/user.slice/docker-{H}.scope"), H),
    ("docker --cgroup-parent", v2(f"/ci-runners/{H}"), H),
    # Kubernetes on containerd (CRI): cgroupfs (v1, v2), systemd (v1, v2), the colon form, kind (nested)
    ("cri-containerd v1 cgroupfs", v1(f"/kubepods/besteffort/pod{UID}/{H}"), H),
    ("cri-containerd v1 cgroupfs guaranteed", v1(f"/kubepods/pod{UID}/{H}"), H),
    ("cri-containerd v2 cgroupfs", v2(f"/kubepods/burstable/pod{UID}/{H}"), H),
    ("cri-containerd v1 systemd", v1(f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{SUID}.slice/"
                                     f"cri-containerd-{H}.scope"), H),
    ("cri-containerd v2 systemd", v2(f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{SUID}.slice/"
                                     f"cri-containerd-{H}.scope"), H),
    ("cri-containerd colon form", v2(f"/kubepods-burstable-pod{SUID}.slice:cri-containerd:{H}"), H),
    ("kind node in docker", v2(f"/system.slice/docker-{OUTER}.scope/kubelet.slice/kubelet-kubepods.slice/"
                               f"kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod{SUID}.slice/"
                               f"cri-containerd-{H}.scope"), H),
    # CRI-O: systemd (v1, v2, with the container sub-cgroup), cgroupfs
    ("cri-o v1 systemd", v1(f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{SUID}.slice/"
                            f"crio-{H}.scope"), H),
    ("cri-o v2 systemd", v2(f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{SUID}.slice/"
                            f"crio-{H}.scope/container"), H),
    ("cri-o v1 cgroupfs", v1(f"/kubepods/burstable/pod{UID}/crio-{H}"), H),
    ("cri-o v2 cgroupfs", v2(f"/kubepods/burstable/pod{UID}/crio-{H}"), H),
    # podman / libpod: systemd (v2 rootful, split container cgroup, rootless, in a pod), cgroupfs (v1)
    ("podman v2 systemd", v2(f"/machine.slice/libpod-{H}.scope"), H),
    ("podman v2 systemd split", v2(f"/machine.slice/libpod-{H}.scope/container"), H),
    ("podman v2 rootless", v2(f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{H}.scope"), H),
    ("podman v2 pod", v2(f"/machine.slice/machine-libpod_pod_{OUTER}.slice/libpod-{H}.scope"), H),
    ("podman v1 systemd", v1(f"/machine.slice/libpod-{H}.scope"), H),
    ("podman v1 cgroupfs", v1(f"/libpod_parent/libpod-{H}"), H),
    ("podman payload", v2(f"/libpod_parent/libpod-payload-{H}"), H),
    # containerd without Kubernetes: ctr (any container name) and nerdctl (cgroupfs, systemd)
    ("ctr v1", v1("/default/redis-cache"), "redis-cache"),
    ("ctr v2 k8s.io namespace", v2(f"/k8s.io/{H}"), H),
    ("nerdctl v1 cgroupfs", v1(f"/default/{H}"), H),
    ("nerdctl v2 systemd", v2(f"/system.slice/nerdctl-{H}.scope"), H),
]


@pytest.mark.parametrize("name, text, full", CONTAINERS, ids=[c[0] for c in CONTAINERS])
def test_runtime_layouts_are_containers(name: str, text: str, full: str) -> None:
    r = ContainerIdResolver()
    cg = proc_cgroup(text)
    assert r.id_for(cg) == full[:12]
    assert r.full_id_for(cg) == (full if len(full) == 64 else full[:12])


LXC = [
    ("lxc v1", v1("/lxc/web01"), "web01"),
    ("lxc 4 v1", v1("/lxc.payload/web01"), "web01"),
    ("lxc 4 v2", v2("/lxc.payload.web01"), "web01"),
    ("lxd v2 systemd inside", v2("/lxc.payload.web01/init.scope"), "web01"),
    ("lxd v2 service inside", v2("/lxc.payload.web01/system.slice/ssh.service"), "web01"),
    ("docker in lxd", v2(f"/lxc.payload.web01/system.slice/docker-{H}.scope"), H[:12]),
]


@pytest.mark.parametrize("name, text, cid", LXC, ids=[c[0] for c in LXC])
def test_lxc_layouts_when_enabled(name: str, text: str, cid: str) -> None:
    assert ContainerIdResolver((*DEFAULT_ENGINES, "lxc")).id_for(proc_cgroup(text)) == cid


def test_lxc_is_off_by_default() -> None:
    assert ContainerIdResolver().id_for(proc_cgroup(v2("/lxc.payload.web01/init.scope"))) == ""
    assert ContainerIdResolver().id_for(proc_cgroup(v1("/lxc/web01"))) == ""


HOSTS = [
    # plain systemd services, v1 and v2
    ("sshd v1", v1("/system.slice/ssh.service")),
    ("sshd v2", v2("/system.slice/ssh.service")),
    ("journald v2", v2("/system.slice/systemd-journald.service")),
    ("getty v2", v2("/system.slice/system-getty.slice/getty@tty1.service")),
    ("dockerd v2", v2("/system.slice/docker.service")),
    ("containerd v1", v1("/system.slice/containerd.service")),
    ("crio v2", v2("/system.slice/crio.service")),
    ("kubelet v2", v2("/system.slice/kubelet.service")),
    ("lxd daemon v2", v2("/system.slice/snap.lxd.daemon.service")),
    ("init v2", v2("/init.scope")),
    ("init v1", v1("/init.scope")),
    # user sessions and user managers
    ("login session v1", v1("/user.slice/user-1000.slice/session-3.scope")),
    ("login session v2", v2("/user.slice/user-0.slice/session-c1.scope")),
    ("user manager v2", v2("/user.slice/user-1000.slice/user@1000.service/init.scope")),
    ("desktop app v2", v2("/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/"
                          "vte-spawn-5f1c.scope")),
    ("user dbus v2", v2("/user.slice/user-1000.slice/user@1000.service/app.slice/dbus.socket")),
    # the runtimes' own monitors and parents are not containers
    ("podman conmon", v2(f"/machine.slice/libpod-conmon-{H}.scope")),
    ("cri-o conmon systemd", v2(f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{SUID}.slice/"
                                f"crio-conmon-{H}.scope")),
    ("cri-o conmon cgroupfs", v1(f"/kubepods/besteffort/pod{UID}/crio-conmon-{H}")),
    ("pod cgroup", v1(f"/kubepods/besteffort/pod{UID}")),
    ("kubepods slice", v2("/kubepods.slice/kubepods-burstable.slice")),
    ("podman pod slice", v2(f"/machine.slice/machine-libpod_pod_{OUTER}.slice")),
    ("lxc monitor", v2("/lxc.monitor.web01")),
    ("docker parent", v1("/docker")),
    ("containerd namespace", v2("/k8s.io")),
    # systemd-nspawn machines have no runtime here (as in Falco)
    ("nspawn", v2("/machine.slice/systemd-nspawn@deb.service/payload")),
    # two-level host cgroups a supervisor or an agent may create: no runtime's layout
    ("agent cgroup", v1("/system/agent")),
    ("sandbox with a 32-hex id", "9:name=systemd:/\n4:memory:/sandbox/9da2ee97439aa0286a9aec1002afe98a\n0::/"),
    ("name under a non-containerd namespace", v2("/payments/api-server")),
    ("63 hex digits", v2(f"/docker/{H[:63]}")),
    ("65 hex digits", v2(f"/docker/{H}0")),
    ("scope without a runtime prefix", v2(f"/system.slice/run-{H}.scope")),
    ("docker mount unit", v2(f"/system.slice/docker-{H}.mount")),
    ("nested below a ctr name", v2("/default/redis-cache/sub")),
    ("unit name in a containerd namespace", v2("/default/cron.service")),
    ("root", v2("/")),
]


@pytest.mark.parametrize("name, text", HOSTS, ids=[h[0] for h in HOSTS])
def test_everything_else_is_the_host(name: str, text: str) -> None:
    cg = proc_cgroup(text)
    for engines in (None, KNOWN_ENGINES):
        r = ContainerIdResolver() if engines is None else ContainerIdResolver(engines)
        assert r.id_for(cg) == "" and r.full_id_for(cg) == ""


def _same_namespaces(pid: str) -> bool:
    try:
        return all(os.readlink(f"/proc/{pid}/ns/{ns}") == os.readlink(f"/proc/self/ns/{ns}") for ns in ("pid", "mnt"))
    except OSError:
        return False


def test_this_machines_processes_are_the_host() -> None:
    """Every process sharing this test's pid and mount namespaces runs on the host, whatever cgroup the
    machine puts it in; containers (own namespaces) are left out."""
    seen = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or not _same_namespaces(d.name):
            continue
        try:
            text = (d / "cgroup").read_text()
        except OSError:
            continue
        cg = proc_cgroup(text)
        r = ContainerIdResolver(KNOWN_ENGINES)
        assert r.id_for(cg) == "", (d.name, text)
        event_form = parse_cgroups(f"{c.split(',')[0].removeprefix('name=')}={p}" for c, p in cg)   # as the probe reports them
        assert r.id_for(event_form) == "", (d.name, text)
        seen += 1
    assert seen >= 1
    # systemd's own units on this machine, where it runs systemd (every hierarchy mounted here)
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"):
        for top in ("system.slice", "user.slice"):
            for dirpath, _dirs, _files in os.walk(os.path.join(base, top)):
                rel = "/" + os.path.relpath(dirpath, base)
                if all(c.endswith((".service", ".slice")) for c in rel[1:].split("/")):
                    assert ContainerIdResolver(KNOWN_ENGINES).id_for_path(rel) == "", rel


def test_first_container_line_wins_v1() -> None:
    cg = parse_cgroups(["cpuset=/", "cpu=/", f"memory=/docker/{H}", f"pids=/docker/{'a' * 64}"])
    r = ContainerIdResolver()
    assert r.id_for(cg) == H[:12]
    assert r.full_id_for(cg) == H


def test_v2_single_hierarchy_event_form() -> None:
    assert parse_cgroups([f"=/system.slice/docker-{H}.scope"]) == [("", f"/system.slice/docker-{H}.scope")]
    assert ContainerIdResolver().id_for(parse_cgroups([f"=/system.slice/docker-{H}.scope"])) == H[:12]


@pytest.mark.parametrize("engines, path, cid", [
    (("docker",), f"/machine.slice/libpod-{H}.scope", ""),
    (("podman",), f"/machine.slice/libpod-{H}.scope", H[:12]),
    (("podman",), f"/docker/{H}", ""),
    (("cri",), f"/kubepods/besteffort/pod{UID}/crio-{H}", H[:12]),
    (("docker",), f"/kubepods/besteffort/pod{UID}/crio-{H}", ""),
    (("containerd",), "/default/redis-cache", "redis-cache"[:12]),
    (("docker",), "/default/redis-cache", ""),
    (("libvirt_lxc",), "/machine/web01.libvirt-lxc", "web01"),
    (("libvirt_lxc",), "/machine.slice/machine-lxc\\x2dweb01.scope", "web01"),
    (("bpm",), "/bpm-7f3a", "7f3a"),
])
def test_each_engine_owns_its_layouts(engines: tuple[str, ...], path: str, cid: str) -> None:
    assert ContainerIdResolver(engines).id_for_path(path) == cid


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown container engine.*: rkt"):
        ContainerIdResolver(("docker", "rkt"))
