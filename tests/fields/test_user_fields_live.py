"""user.* and group.* values of live events, beyond user.uid: a file opened by root and by
nobody:nogroup (setpriv), every value checked against the machine's own user database (pwd/grp) and the
process's audit login uid. Needs root (the probe)."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess

import pytest

from tests.conftest import require_root, require_tool
from tests.sources.ebpf.livehelp import LiveRunner

FIELDS = ("user.uid", "user.name", "user.homedir", "user.shell", "user.loginuid", "user.loginname",
          "group.gid", "group.name")
RULES = f"""
- rule: marker opened
  desc: t
  condition: evt.type in (open, openat, openat2) and evt.dir=< and fd.name startswith /tmp/lanner-user-
  output: "opened (file=%fd.name pid=%proc.pid {' '.join(f'{f}=%{f}' for f in FIELDS)})"
  priority: NOTICE
"""


@pytest.fixture(scope="module")
def live():
    require_root()
    r = LiveRunner(RULES).start()
    yield r
    r.close()
    assert r.error is None, r.error


def expected(uid: int, gid: int) -> dict:
    """What the fields must say, from the user database and this process's login uid."""
    pw, gr = pwd.getpwuid(uid), grp.getgrgid(gid)
    with open("/proc/self/loginuid") as f:
        raw = int(f.read())
    loginuid = -1 if raw == 0xFFFFFFFF else raw
    try:                                   # Falco's text for a login user it cannot name is "<NA>"
        loginname = pwd.getpwuid(loginuid).pw_name if loginuid >= 0 else "<NA>"
    except KeyError:
        loginname = "<NA>"
    return {"user.uid": uid, "user.name": pw.pw_name, "user.homedir": pw.pw_dir, "user.shell": pw.pw_shell,
            "user.loginuid": loginuid, "user.loginname": loginname, "group.gid": gid, "group.name": gr.gr_name}


def opened_by(live: LiveRunner, tmp: str, argv: list[str]) -> dict:
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    assert p.wait() == 0
    a = live.wait_alert(lambda a: a.rule == "marker opened" and a.output_fields.get("fd.name") == tmp
                        and a.output_fields.get("proc.pid") == p.pid)
    assert a is not None, [x.output_fields for x in live.alerts]
    return {k: a.output_fields[k] for k in FIELDS}


def test_user_and_group_of_root(live: LiveRunner, tmp_path) -> None:
    tmp = f"/tmp/lanner-user-{os.getpid()}-root"
    with open(tmp, "w") as f:
        f.write("x\n")
    try:
        assert opened_by(live, tmp, ["cat", tmp]) == expected(0, 0)
    finally:
        os.unlink(tmp)


def test_user_and_group_of_nobody(live: LiveRunner) -> None:
    setpriv = require_tool("setpriv")
    try:
        nobody, nogroup = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    except KeyError:
        pytest.skip("no nobody user or nogroup group on this machine")
    tmp = f"/tmp/lanner-user-{os.getpid()}-nobody"
    with open(tmp, "w") as f:
        f.write("x\n")
    os.chmod(tmp, 0o644)
    try:
        got = opened_by(live, tmp, [setpriv, f"--reuid={nobody}", f"--regid={nogroup}", "--clear-groups",
                                    shutil.which("cat") or "/bin/cat", tmp])
        assert got == expected(nobody, nogroup)
    finally:
        os.unlink(tmp)
