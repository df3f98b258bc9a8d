"""lanner as the entrypoint of an unprivileged container: ``docker run --cap-drop ALL --user 1000`` with
``lanner -o engine.kind=userspace -- CMD`` as the command, and a shell spawned inside raises the alert.

The image is the Debian rootfs lanner's image is built on (deploy/docker/build-base.sh caches it in
/var/cache/lanner; imported here, no registry), with this worktree and its virtualenv mounted read-only
at the same path (the editable install then resolves): the container gets no capability at all, runs as
uid 1000, under Docker's default seccomp profile, and only ptraces its own children."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.docker.infra import docker_engine  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[3]
RULES = """
- rule: Shell in workload
  desc: a shell started by the traced workload
  condition: evt.type in (execve, execveat) and evt.arg.res = 0 and proc.name in (sh, bash, dash)
  output: shell in workload (user=%user.uid proc=%proc.name parent=%proc.pname cmdline=%proc.cmdline)
  priority: WARNING
"""


@pytest.fixture(scope="module")
def base_image(docker_engine):  # noqa: F811
    tars = sorted(Path("/var/cache/lanner").glob("debian-*-lanner-base-*.tar"))
    if not tars:
        pytest.skip("no cached Debian base rootfs (deploy/docker/build-base.sh makes it)")
    if sys.prefix != str(ROOT / ".venv"):
        pytest.skip("needs the worktree's .venv (mounted into the container)")
    ref = "lanner-test/userspace-base:1.0"
    docker_engine.run("import", "--change", 'CMD ["/bin/sh"]', str(tars[-1]), ref, timeout=300)
    docker_engine.images.append(ref)
    return ref


def test_entrypoint_of_unprivileged_container(docker_engine, base_image, tmp_path):  # noqa: F811
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    tmp_path.chmod(0o755)
    rules.chmod(0o644)
    p = docker_engine.run(
        "run", "--rm", "--network", "none", "--cap-drop", "ALL", "--user", "1000:1000",
        "--security-opt", "no-new-privileges", "-e", "HOME=/tmp",
        "-v", f"{ROOT}:{ROOT}:ro", "-v", f"{tmp_path}:/rules:ro", base_image,
        f"{ROOT}/.venv/bin/python", "-m", "lanner", "-r", "/rules/rules.yaml", "-o", "engine.kind=userspace",
        "-o", "json_output=true", "-o", "webserver.enabled=false", "-o", "log_stderr=false",
        "--", "sh", "-c", "echo workload-says-hi; sh -c 'id -u'; exit 5",
        check=False, timeout=300)
    out = p.stdout.decode()
    err = p.stderr.decode()
    assert p.returncode == 5, (out, err)
    lines = out.splitlines()
    assert "workload-says-hi" in lines and "1000" in lines, out
    alerts = [json.loads(x) for x in lines if x.startswith("{")]
    shells = [a for a in alerts if a["rule"] == "Shell in workload"]
    assert [a["output_fields"]["proc.cmdline"] for a in shells] == ["sh -c echo workload-says-hi; sh -c 'id -u'; exit 5",
                                                                    "sh -c id -u"], alerts
    assert {a["output_fields"]["user.uid"] for a in shells} == {1000}
    assert shells[1]["output_fields"]["proc.pname"] == "sh"


def test_seccomp_profile_without_ptrace_is_one_clear_line(docker_engine, base_image, tmp_path):  # noqa: F811
    profile = tmp_path / "no-ptrace.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                   "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ERRNO"}]}))
    p = docker_engine.run(
        "run", "--rm", "--network", "none", "--cap-drop", "ALL", "--user", "1000:1000",
        "--security-opt", f"seccomp={profile}", "-e", "HOME=/tmp", "-v", f"{ROOT}:{ROOT}:ro", base_image,
        f"{ROOT}/.venv/bin/python", "-m", "lanner", "-o", "engine.kind=userspace", "-o", "webserver.enabled=false",
        "-o", "log_stderr=false", "--", "sh", "-c", "echo must-not-run",
        check=False, timeout=300)
    out, err = p.stdout.decode(), p.stderr.decode()
    assert p.returncode == 1, (out, err)
    assert "must-not-run" not in out
    errors = [x for x in err.splitlines() if x.startswith("Error: ")]
    assert len(errors) == 1 and "seccomp" in errors[0] and "ptrace" in errors[0], err
    assert "Traceback" not in err
