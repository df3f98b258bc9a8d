from lanner.state.cgroups import ContainerIdResolver, parse_cgroups

HEX64 = "3ad7b26ded6d" + "a" * 52


def test_docker_cri_podman_ids():
    r = ContainerIdResolver()
    assert r.id_for_path(f"/docker/{HEX64}") == "3ad7b26ded6d"
    assert r.id_for_path(f"/system.slice/docker-{HEX64}.scope") == "3ad7b26ded6d"
    assert r.id_for_path(f"/kubepods.slice/x/crio-{HEX64}.scope") == "3ad7b26ded6d"
    assert r.id_for_path(f"/kubepods-burstable-podx.slice:cri-containerd:{HEX64}") == "3ad7b26ded6d"
    assert r.id_for_path(f"/system.slice/libpod-{HEX64}.scope") == "3ad7b26ded6d"
    assert r.id_for_path("/default/test_container") == "test_contain"


def test_host_paths():
    r = ContainerIdResolver()
    for p in ("/user.slice", "/init.scope", "/", "/supervisor/41c117303898db1cf98c4730551d7661"):
        assert r.id_for_path(p) == "", p
    cg = parse_cgroups(["cpu=/", "memory=/supervisor/41c117303898db1cf98c4730551d7661", "0::/"])
    assert r.id_for(cg) == ""


def test_first_matching_cgroup_wins_and_full_id():
    r = ContainerIdResolver()
    cg = parse_cgroups(["cpu_cgroup=/user.slice", f"mem=/docker/{HEX64}"])
    assert cg[0][0] == "cpu" and cg[1][0] == "memory"
    assert r.id_for(cg) == "3ad7b26ded6d"
    assert r.full_id_for(cg) == HEX64
