"""Plugin versions are one fact: ``--list-plugins``, ``/versions`` of a running lanner and the
``required_plugin_versions`` check report the same version for every plugin."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import orjson
import yaml

ROOT = Path(__file__).resolve().parents[2]


def lanner(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lanner", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listed(config: Path) -> dict[str, str]:
    r = lanner("-c", str(config), "--list-plugins")
    assert r.returncode == 0, r.stderr
    return dict(re.findall(r"^Name: (\S+)\n(?:.*\n)*?Version: (\S+)$", r.stdout, re.M))


def config(tmp_path: Path, port: int = 0, hook: int = 0) -> Path:
    """A configuration loading every plugin lanner provides natively."""
    (tmp_path / "ct").mkdir(exist_ok=True)
    cfg = {"engine": {"kind": "nodriver"}, "rules_files": [], "stdout_output": {"enabled": True},
           "webserver": {"enabled": True, "listen_address": "127.0.0.1", "listen_port": port},
           "plugins": [{"name": "k8saudit", "open_params": f"http://127.0.0.1:{hook}/k8s-audit"},
                       {"name": "json"}, {"name": "cloudtrail", "open_params": str(tmp_path / "ct")},
                       {"name": "container"}],
           "load_plugins": ["k8saudit", "json", "cloudtrail", "container"]}
    (tmp_path / "lanner.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "lanner.yaml"


def served(tmp_path: Path) -> dict[str, str]:
    port, hook = free_port(), free_port()
    config(tmp_path, port, hook)
    rules = tmp_path / "audit.yaml"
    rules.write_text("- rule: get\n  desc: d\n  condition: ka.verb=get\n  output: o\n  priority: INFO\n"
                     "  source: k8s_audit\n")
    p = subprocess.Popen([sys.executable, "-m", "lanner", "-c", str(tmp_path / "lanner.yaml"), "-r", str(rules)],
                         cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/versions", timeout=2) as resp:
                    return orjson.loads(resp.read())["plugin_versions"]
            except OSError:
                assert p.poll() is None, p.stderr.read()
                assert time.monotonic() < end, "webserver did not answer"
                time.sleep(0.2)
    finally:
        p.terminate()
        p.wait(10)


def required(tmp_path: Path, versions: dict[str, str]) -> subprocess.CompletedProcess:
    rules = tmp_path / "req.yaml"
    rules.write_text(yaml.safe_dump([{"required_plugin_versions": [{"name": n, "version": v}
                                                                   for n, v in versions.items()]}]))
    # as in Falco, only the plugins the configuration loads satisfy requirements (container is lanner's core)
    names = [n for n in versions if n != "container"]
    conf = tmp_path / "req-falco.yaml"
    conf.write_text(yaml.safe_dump({"stdout_output": {"enabled": True}, "load_plugins": names,
                                    "plugins": [{"name": n, "library_path": f"lib{n}.so"} for n in names]}))
    return lanner("--dry-run", "-c", str(conf), "-r", str(rules), "-o", "log_stderr=false")


def bump(v: str) -> str:
    major, minor, patch = v.split(".")
    return f"{major}.{minor}.{int(patch) + 1}"


def test_list_plugins_versions_endpoint_and_requirements_agree(tmp_path):
    lst, web = listed(config(tmp_path)), served(tmp_path)
    assert {"k8saudit", "json", "cloudtrail"} <= set(lst) and {"container", "cloudtrail"} <= set(web)
    for name in set(lst) & set(web):
        assert lst[name] == web[name], name
    every = {**web, **lst}
    assert every["cloudtrail"] == "0.14.0"
    ok = required(tmp_path, every)
    assert ok.returncode == 0, ok.stderr
    r = required(tmp_path, {name: bump(v) for name, v in every.items()})
    assert r.returncode != 0
    for name, v in every.items():
        assert re.search(rf"\b{re.escape(name)}\b.*{re.escape(bump(v))}", r.stderr), (name, r.stderr)
