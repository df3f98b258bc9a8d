"""``lanner -o engine.kind=userspace -- CMD``: the command runs traced, its output and exit status pass
through unchanged, alerts go to lanner's outputs (a JSON file here). A small rules file of our own, so
this runs without ../shared; the upstream-rules scenarios are in tests/sources/userspace/."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

RULES = """
- rule: Shell spawned
  desc: a shell started
  condition: evt.type in (execve, execveat) and evt.arg.res = 0 and proc.name in (sh, bash, dash)
  output: shell spawned (proc=%proc.name parent=%proc.pname cmdline=%proc.cmdline exe=%proc.exepath cwd=%proc.cwd)
  priority: WARNING
- rule: Hidden file created
  desc: a dot file created
  condition: evt.type in (open, openat, openat2, creat) and evt.arg.flags contains O_CREAT and fd.name contains "/."
  output: hidden file (file=%fd.name proc=%proc.name flags=%evt.arg.flags)
  priority: NOTICE
- rule: Hidden file deleted
  desc: a dot file deleted
  condition: evt.type in (unlink, unlinkat) and evt.arg.res = 0 and fs.path.name contains "/."
  output: hidden file deleted (file=%fs.path.name proc=%proc.name)
  priority: NOTICE
- rule: Loopback connect
  desc: a connection to 127.0.0.1
  condition: evt.type = connect and evt.arg.res = 0 and fd.sip = 127.0.0.1
  output: connect (proc=%proc.name conn=%fd.name rport=%fd.rport)
  priority: NOTICE
- rule: True started
  desc: /bin/true ran
  condition: evt.type = execve and evt.arg.res = 0 and proc.name = true
  output: true ran (pid=%proc.pid ppid=%proc.ppid parent=%proc.pname)
  priority: INFO
"""


def lanner_cmd(tmp_path: Path, *args: str, rules: str = RULES) -> tuple[list[str], Path]:
    """The command of lanner under the userspace driver with ``rules``, its JSON alerts written to the
    returned file."""
    rf = tmp_path / "rules.yaml"
    rf.write_text(rules)
    out = tmp_path / "alerts.json"
    return [sys.executable, "-m", "lanner", "-r", str(rf), "-o", "engine.kind=userspace",
            "-o", "stdout_output.enabled=false", "-o", "file_output.enabled=true",
            "-o", f"file_output.filename={out}", "-o", "json_output=true",
            "-o", "json_include_output_fields_property=true", "-o", "webserver.enabled=false",
            "-o", "log_stderr=false", *args], out


def run_traced(tmp_path: Path, *cmd: str, rules: str = RULES, extra: tuple[str, ...] = (),
               timeout: float = 120) -> tuple[subprocess.CompletedProcess, list[dict]]:
    args, out = lanner_cmd(tmp_path, *extra, "--", *cmd, rules=rules)
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    alerts = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return r, alerts


def by_rule(alerts: list[dict], rule: str) -> list[dict]:
    return [a for a in alerts if a["rule"] == rule]


def test_command_output_exit_code_and_alerts(tmp_path):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    port = srv.getsockname()[1]
    script = tmp_path / "script.sh"
    script.write_text(f"""echo to-stdout
echo to-stderr >&2
touch {tmp_path}/.hidden
rm {tmp_path}/.hidden
{sys.executable} -c "import socket; socket.create_connection(('127.0.0.1', {port})).close()"
exit 7
""")
    try:
        r, alerts = run_traced(tmp_path, "sh", str(script))
    finally:
        srv.close()
    assert r.returncode == 7, r.stderr
    assert r.stdout == "to-stdout\n"
    assert r.stderr.startswith("to-stderr\n"), r.stderr
    sh = by_rule(alerts, "Shell spawned")
    assert len(sh) == 1, alerts
    f = sh[0]["output_fields"]
    assert f["proc.name"] == "sh" and f["proc.cmdline"] == f"sh {script}" and f["proc.exepath"] == "/usr/bin/dash"
    assert f["proc.pname"] == "lanner" or f["proc.pname"].startswith("python")
    hid = by_rule(alerts, "Hidden file created")
    assert [a["output_fields"]["fd.name"] for a in hid] == [f"{tmp_path}/.hidden"]
    assert hid[0]["output_fields"]["proc.name"] == "touch"
    assert "O_F_CREATED" in hid[0]["output_fields"]["evt.arg.flags"]
    gone = by_rule(alerts, "Hidden file deleted")
    assert [a["output_fields"]["fs.path.name"] for a in gone] == [f"{tmp_path}/.hidden"]
    conn = by_rule(alerts, "Loopback connect")
    assert len(conn) == 1 and conn[0]["output_fields"]["fd.rport"] == port
    assert conn[0]["output_fields"]["fd.name"].endswith(f"->127.0.0.1:{port}")


def test_fifty_children_are_followed(tmp_path):
    script = tmp_path / "fork50.sh"
    script.write_text("i=0\nwhile [ $i -lt 50 ]; do /bin/true & i=$((i+1)); done\nwait\n")
    r, alerts = run_traced(tmp_path, "sh", str(script))
    assert r.returncode == 0, r.stderr
    runs = by_rule(alerts, "True started")
    assert len(runs) == 50, len(runs)
    pids = {a["output_fields"]["proc.pid"] for a in runs}
    assert len(pids) == 50
    assert {a["output_fields"]["proc.pname"] for a in runs} == {"sh"}


def test_killed_command_status_and_missing_command(tmp_path):
    r, _ = run_traced(tmp_path, "sh", "-c", "kill -TERM $$")
    assert r.returncode == 128 + 15
    r, _ = run_traced(tmp_path, "no-such-command-h15ev")
    assert r.returncode == 127 and "no-such-command-h15ev" in r.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["-o", "engine.kind=modern_ebpf", "--", "true"], "add -o engine.kind=userspace"),
    (["-o", "engine.kind=userspace"], "needs a command to run"),
    (["-o", "engine.kind=userspace", "-o", "engine.userspace.pids=1", "--", "true"], "not both"),
    (["-o", "engine.kind=userspace", "-o", "engine.userspace.pids=abc"], "'abc' is not a process id"),
    (["-o", "engine.kind=userspace", "--"], "'--' must be followed by a command to run"),
    (["--userspace"], "use -o engine.kind=userspace -- CMD"),
    (["-o", "engine.kind=userspace", "-o", "engine.userspace.pids=3999999"],
     "cannot attach to pid 3999999: ptrace failed (ESRCH)"),
])
def test_usage_errors(args, message):
    r = subprocess.run([sys.executable, "-m", "lanner", "-o", "webserver.enabled=false", *args],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def lanner_popen(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, Path]:
    cmd, out = lanner_cmd(tmp_path, *args)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    return p, out


def wait_for(pred, timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_signals_are_forwarded_to_the_command(tmp_path):
    mark = tmp_path / "started"
    p, _ = lanner_popen(tmp_path, "--", "sh", "-c",
                        f"trap 'echo got-term; exit 9' TERM; touch {mark}; while :; do sleep 0.1; done")
    try:
        assert wait_for(mark.exists), p.stderr.read() if p.poll() is not None else "command did not start"
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 9, err
    assert out == "got-term\n"


def test_attach_to_running_process_and_detach(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("attaching to another process needs CAP_SYS_PTRACE")
    target = subprocess.Popen(["sh", "-c", "while :; do sh -c true; /bin/true; sleep 0.2; done"])
    try:
        p, out = lanner_popen(tmp_path, "-M", "4", "-o", f"engine.userspace.pids={target.pid}")
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        alerts = [json.loads(x) for x in out.read_text().splitlines()]
        shells = by_rule(alerts, "Shell spawned")
        assert shells and {a["output_fields"]["proc.cmdline"] for a in shells} == {"sh -c true"}
        trues = by_rule(alerts, "True started")
        assert trues and {a["output_fields"]["proc.ppid"] for a in trues} == {target.pid}
        assert {a["output_fields"]["proc.pname"] for a in trues} == {"sh"}
        time.sleep(0.5)
        assert target.poll() is None            # detached, still running
        status = Path(f"/proc/{target.pid}/status").read_text()
        assert "TracerPid:\t0" in status
    finally:
        target.kill()
        target.wait()


def test_no_root_needed():
    """A plain user (uid 1000, no capabilities) traces its own command."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("needs root (to become uid 1000) and setpriv")
    with tempfile.TemporaryDirectory(dir="/tmp") as d:     # pytest's tmp_path is private to root
        os.chmod(d, 0o777)
        _as_user_1000(setpriv, Path(d))


def _as_user_1000(setpriv: str, tmp_path: Path) -> None:
    rf = tmp_path / "rules.yaml"
    rf.write_text(RULES)
    rf.chmod(0o644)
    out = tmp_path / "alerts.json"
    r = subprocess.run([setpriv, "--reuid", "1000", "--regid", "1000", "--clear-groups", "--inh-caps=-all",
                        sys.executable, "-m", "lanner", "-r", str(rf), "-o", "engine.kind=userspace",
                        "-o", "stdout_output.enabled=false", "-o", "file_output.enabled=true",
                        "-o", f"file_output.filename={out}", "-o", "json_output=true",
                        "-o", "json_include_output_fields_property=true", "-o", "webserver.enabled=false",
                        "-o", "log_stderr=false", "--", "sh", "-c", "id -u; sh -c true; exit 4"],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, cwd=tmp_path)
    assert r.returncode == 4, r.stderr
    assert r.stdout == "1000\n"
    shells = by_rule([json.loads(x) for x in out.read_text().splitlines()], "Shell spawned")
    assert [a["output_fields"]["proc.cmdline"] for a in shells] == ["sh -c id -u; sh -c true; exit 4", "sh -c true"]
