"""Replay of the reference captures: the container id lanner reports for each thread's events is the one
its cgroups imply.

Expected ids are computed here, independently of lanner, from the cgroup paths in each capture's
process list (event-model.md 8.1: cgroups scanned in order, matchers podman, docker, cri, containerd in
that order, the 64-hex rule). Actual ids come from replaying the capture with the CLI and a rule that
reports ``thread.tid`` and ``container.id`` for every event.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from lanner.sources.scap import ScapReader
from tests.conftest import ROOT, shared_path

HEX = re.compile(r"[0-9a-f]+")
PAIRS = {
    "podman": [("/libpod-", ".scope"), ("/libpod-", ".scope/container"), ("/libpod-", ""),
               ("/libpod-payload-", ".scope"), ("/libpod-payload-", ".scope/container"), ("/libpod-payload-", "")],
    "docker": [("/", ""), ("/docker-", ".scope")],
    "cri": [("/", ""), ("/crio-", ""), ("/cri-containerd-", ".scope"), ("/crio-", ".scope"), (":cri-containerd:", ""),
            ("/docker-", ".scope"), ("/nerdctl-", ".scope")],
}
CTR_NAME = re.compile(r"/([A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*)/")

RULE = """
- rule: every event
  desc: one alert per event with its thread and container id
  condition: evt.num > 0
  output: "%evt.num %thread.tid %container.id"
  priority: DEBUG
"""


def _hex64(path: str, prefix: str, suffix: str) -> str | None:
    start = path.rfind(prefix)
    if start < 0:
        return None
    start += len(prefix)
    end = path.rfind(suffix) if suffix else len(path)
    span = path[start:end] if end >= start else ""
    return span[:12] if len(span) == 64 and HEX.fullmatch(span) else None


def _containerd(path: str) -> str | None:
    m = CTR_NAME.match(path)
    if m is None:
        return None
    span = path[m.end():]
    if len(span) == 64 and HEX.fullmatch(span):
        return span[:12]
    if span and len(span) <= 64 and not span.endswith((".service", ".slice", ".scope")):
        return span[:12]
    return None


def expected_id(cgroups: list[str]) -> str:
    """The container id event-model.md 8.1 derives from a thread's ``subsys=path`` cgroup list."""
    for entry in cgroups:
        cut = entry.find("=/")
        path = entry[cut + 1:] if cut >= 0 else entry
        if not path:
            continue
        for engine in ("podman", "docker", "cri"):
            for prefix, suffix in PAIRS[engine]:
                cid = _hex64(path, prefix, suffix)
                if cid:
                    return cid
        cid = _containerd(path)
        if cid:
            return cid
    return "host"


def test_expected_id_rule_itself() -> None:
    h = "3ad7b26ded6d8e7b23da7d48fe889434573036c27ae5a74837233de441c3601e"
    assert expected_id([f"cpu=/docker/{h}"]) == "3ad7b26ded6d"
    assert expected_id([f"name=systemd=/system.slice/docker-{h}.scope"]) == "3ad7b26ded6d"
    assert expected_id([f"cpu=/kubepods-burstable-pod1.slice:cri-containerd:{h}"]) == "3ad7b26ded6d"
    assert expected_id(["cpu=/system.slice/docker.service", "memory=/user.slice", "pids=/"]) == "host"
    assert expected_id(["cpu=/default/test_container"]) == "test_contain"


def _captures() -> list[Path]:
    return sorted(shared_path("captures").glob("*.scap"))


def _replay(cap: Path, rules: Path) -> list[dict]:
    p = subprocess.run([sys.executable, "-m", "lanner", "-e", str(cap), "-r", str(rules), "-o", "json_output=true",
                        "-o", "log_stderr=false"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"{cap.name}: exit {p.returncode}: {p.stderr[-2000:]}"
    return [json.loads(ln) for ln in p.stdout.splitlines() if ln.startswith("{")]


def test_replayed_container_ids_match_process_lists(tmp_path: Path) -> None:
    caps = _captures()
    if not caps:
        pytest.skip("no captures in ../shared/captures")
    rules = tmp_path / "every_event.yaml"
    rules.write_text(RULE)
    seen: Counter[str] = Counter()
    mismatches: list[str] = []
    for cap in caps:
        with ScapReader(cap) as r:
            r.read_metadata()
            expected = {tid: expected_id(list(t.cgroups)) for tid, t in r.threads.items()}
        for a in _replay(cap, rules):
            f = a["output_fields"]
            tid = f.get("thread.tid")
            if tid is None or tid not in expected:
                continue
            want, got = expected[tid], f.get("container.id")
            seen[want] += 1
            if got != want:
                mismatches.append(f"{cap.name} event {f['evt.num']} tid {tid}: expected {want}, got {got}")
        assert not mismatches, "\n".join(mismatches[:20])
    # the check covers real containers, not only host threads
    assert seen["5ea733068030"] + seen["ad64969c62e5"] > 0, seen
    print("events checked per expected container id:", dict(seen))
    assert seen["host"] > 100, seen
