"""deploy/install.sh (the README's host install) and the image build scripts: syntax, a dry run that
changes nothing, a staged install under a temporary root (configuration, rules, unit, command link),
upgrades that keep the user's configuration and local rules, and a full install into a venv."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from lanner.config import load_config
from tests.deploy.podspec import ROOT

INSTALL = ROOT / "deploy" / "install.sh"
SCRIPTS = [INSTALL, ROOT / "deploy" / "docker" / "build-base.sh", ROOT / "deploy" / "docker" / "build-image.sh"]


def install(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    p = subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"install.sh {' '.join(args)} failed:\n{p.stdout}\n{p.stderr}"
    return p


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_syntax(script):
    assert os.access(script, os.X_OK), f"{script} is not executable"
    p = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr


def test_unknown_option_is_an_error():
    p = subprocess.run(["bash", str(INSTALL), "--frobnicate"], capture_output=True, text=True, timeout=10)
    assert p.returncode != 0 and "unknown option '--frobnicate'" in p.stderr


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path):
    out = install("--dry-run", "--root", str(tmp_path)).stdout
    assert tree(tmp_path) == set()
    steps = [ln[2:] for ln in out.splitlines() if ln.startswith("+ ")]
    assert any(s.startswith("/usr/bin/python3 -m venv") and s.endswith("/opt/lanner") for s in steps)
    assert any(" -m pip install " in s and s.endswith(str(ROOT)) for s in steps)
    assert f"ln -sfn /opt/lanner/bin/lanner {tmp_path}/usr/local/bin/lanner" in steps
    assert any(s.endswith(f"{tmp_path}/etc/lanner/lanner.yaml") for s in steps)
    assert any(s.endswith(f"{tmp_path}/etc/systemd/system/lanner.service") for s in steps)
    assert not any(s.startswith("apt-get") for s in steps)        # --root implies --no-apt


WANTED = ["python3", "python3-venv", "libbpf1", "ca-certificates", "clang", "llvm", "libbpf-dev", "bpftool", "gcc",
          "libc6-dev"]


def planned_packages(out: str) -> list[str] | None:
    """The packages of the dry run's apt-get install line (None when it plans none)."""
    lines = [ln for ln in out.splitlines() if ln.startswith("+ ") and " apt-get install " in ln]
    if not lines:
        return None
    assert len(lines) == 1, lines
    return lines[0].split("--no-install-recommends", 1)[1].split()


def with_dpkg_query(tmp_path: Path, installed: bool) -> dict[str, str]:
    """An environment whose dpkg-query reports every package installed, or none."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    status = "install ok installed" if installed else "unknown ok not-installed"
    (bin_dir / "dpkg-query").write_text(f"#!/bin/sh\necho '{status}'\n")
    (bin_dir / "dpkg-query").chmod(0o755)
    return dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")


def install_env(env: dict[str, str], *args: str) -> str:
    p = subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def test_dry_run_plans_every_debian_package_when_none_is_installed(tmp_path):
    env = with_dpkg_query(tmp_path, installed=False)
    out = install_env(env, "--dry-run", "--prefix", str(tmp_path / "venv"))
    assert planned_packages(out) == WANTED
    assert "+ apt-get update -q" in out.splitlines()
    out = install_env(env, "--dry-run", "--no-build-probe", "--prefix", str(tmp_path / "venv"))
    assert planned_packages(out) == WANTED[:4]


def test_dry_run_plans_nothing_when_every_package_is_installed(tmp_path):
    out = install_env(with_dpkg_query(tmp_path, installed=True), "--dry-run", "--prefix", str(tmp_path / "venv"))
    assert planned_packages(out) is None
    assert f"Debian packages already installed: {' '.join(WANTED)}" in out
    assert not any(ln.startswith("+ apt-get") for ln in out.splitlines())


def test_dry_run_on_this_host_plans_exactly_the_missing_packages(tmp_path):
    def missing(p: str) -> bool:
        q = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True)
        return q.stdout.strip() != "install ok installed"
    out = install("--dry-run", "--prefix", str(tmp_path / "venv")).stdout
    need = [p for p in WANTED if missing(p)]
    assert planned_packages(out) == (need or None)


def test_staged_install_lays_out_config_rules_unit_and_command(tmp_path):
    install("--root", str(tmp_path), "--no-venv")
    etc = tmp_path / "etc" / "lanner"
    for f in ("lanner.yaml", "lanner.yaml.dist", "lanner_rules.local.yaml"):
        assert (etc / f).is_file(), f
    assert (etc / "rules.d").is_dir() and (etc / "config.d").is_dir()
    shipped = sorted(p.name for p in (ROOT / "lanner" / "rules" / "default").glob("*.yaml"))
    audit = [n for n in shipped if n.startswith("k8s_audit")]
    assert audit, "the k8s audit rules ship with the package"
    # loaded by default: the syscall rules; the audit rules need the k8saudit plugin, so they wait beside
    assert sorted(p.name for p in (tmp_path / "usr/share/lanner/rules").iterdir()) == \
        [n for n in shipped if n not in audit]
    assert sorted(p.name for p in (etc / "rules.available").iterdir()) == audit
    link = tmp_path / "usr" / "local" / "bin" / "lanner"
    assert os.readlink(link) == "/opt/lanner/bin/lanner"
    unit = (tmp_path / "etc/systemd/system/lanner.service").read_text()
    assert "ExecStart=/opt/lanner/bin/lanner " in unit and "@PREFIX@" not in unit
    assert "WantedBy=multi-user.target" in unit
    # the installed config is the packaged one with the rules files filled in
    cfg = yaml.safe_load((etc / "lanner.yaml").read_text())
    packaged = yaml.safe_load((ROOT / "lanner" / "data" / "lanner.yaml").read_text())
    assert cfg["rules_files"] == ["/usr/share/lanner/rules", "/etc/lanner/lanner_rules.local.yaml",
                                  "/etc/lanner/rules.d"]
    assert {k: v for k, v in cfg.items() if k != "rules_files"} == \
        {k: v for k, v in packaged.items() if k != "rules_files"}
    assert load_config(str(etc / "lanner.yaml")).list("rules_files") == cfg["rules_files"]
    assert yaml.safe_load((etc / "lanner_rules.local.yaml").read_text()) == []


def test_upgrade_keeps_local_config_and_rules(tmp_path):
    install("--root", str(tmp_path), "--no-venv")
    etc = tmp_path / "etc" / "lanner"
    (etc / "lanner.yaml").write_text("priority: warning\nrules_files: [/etc/lanner/rules.d]\n")
    (etc / "lanner_rules.local.yaml").write_text("- list: mine\n  items: [a]\n")
    (etc / "rules.d" / "team.yaml").write_text("- list: team\n  items: [b]\n")
    stale = tmp_path / "usr/share/lanner/rules/removed_upstream.yaml"
    stale.write_text("[]\n")
    out = install("--root", str(tmp_path), "--no-venv").stdout
    assert "keeping existing /etc/lanner/lanner.yaml" in out
    assert "keeping existing /etc/lanner/lanner_rules.local.yaml" in out
    assert (etc / "lanner.yaml").read_text().startswith("priority: warning")
    assert (etc / "lanner_rules.local.yaml").read_text() == "- list: mine\n  items: [a]\n"
    assert (etc / "rules.d" / "team.yaml").exists()
    assert not stale.exists()                                # built-in rules are replaced as a whole
    assert "rules_files:\n  - /usr/share/lanner/rules" in (etc / "lanner.yaml.dist").read_text()


def test_full_install_into_a_venv_runs_lanner(tmp_path):
    """pip-installs the checkout into a fresh venv (as on a host, staged): the command works and the
    package carries its default config, rules and probe object."""
    if not Path("/usr/bin/python3").exists():
        pytest.skip("needs Debian's /usr/bin/python3")
    probe = subprocess.run(["/usr/bin/python3", "-c", "import venv, ensurepip"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("python3-venv is not installed")
    install("--root", str(tmp_path), "--no-systemd", timeout=240)
    lanner = tmp_path / "opt" / "lanner" / "bin" / "lanner"
    p = subprocess.run([str(lanner), "--version"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("lanner version: "), p.stdout + p.stderr
    py = tmp_path / "opt" / "lanner" / "bin" / "python"
    pkg = subprocess.run([str(py), "-c", "import os, lanner; print(os.path.dirname(lanner.__file__))"],
                         capture_output=True, text=True, timeout=30, cwd=tmp_path).stdout.strip()
    assert pkg.startswith(str(tmp_path))
    for rel in ("data/lanner.yaml", "data/lanner_rules.local.yaml", "sources/ebpf/probe.bpf.o"):
        assert os.path.isfile(os.path.join(pkg, rel)), rel
    # the staged configuration loads the staged rules
    etc = tmp_path / "etc" / "lanner"
    cfg = (etc / "lanner.yaml").read_text().replace("/usr/share/lanner/rules", str(tmp_path / "usr/share/lanner/rules"))
    cfg = cfg.replace("/etc/lanner/", f"{etc}/")
    (tmp_path / "test.yaml").write_text(cfg)
    p = subprocess.run([str(lanner), "-c", str(tmp_path / "test.yaml"), "--dry-run"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"{tmp_path}/usr/share/lanner/rules/lanner_rules.yaml" in p.stdout + p.stderr
