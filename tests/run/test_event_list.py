"""``--list-events`` against Falco's: the same events, directions, parameters and flag names."""

from __future__ import annotations

import json
import subprocess

import pytest

from lanner.run.event_list import event_list_json, event_list_text
from tests.conftest import shared_path

# Flag tables lanner's event table has no names for yet: Falco lists their flag names, lanner does not.
NO_FLAG_NAMES = {"quotactl", "io_uring_setup", "io_uring_enter", "io_uring_register", "fsconfig", "keyctl",
                 "page_fault"}


def _falco(*args: str) -> str:
    falco = shared_path("falco", "falco-ref")
    r = subprocess.run([str(falco), "--list-events", *args], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        pytest.skip(f"falco-ref does not start here ({r.stderr.strip()[:200]}): run install-deps.sh")
    return r.stdout


def _lines(text: str) -> list[str]:
    """Lines outside the events whose flag names lanner lacks; the generic syscalls, which Falco lists
    in hash-set order, sorted."""
    def name(line: str) -> str:
        if line.startswith(("> ", "< ")):
            return line[2:].partition("(")[0]
        parts = line.split(" | ")
        return parts[2].strip("`") if len(parts) == 4 else ""
    kept = [ln for ln in text.splitlines() if name(ln) not in NO_FLAG_NAMES]
    generic = sorted(ln for ln in kept if "SYSCALLID **ID**" in ln)
    return [ln for ln in kept if "SYSCALLID **ID**" not in ln] + generic


@pytest.mark.parametrize("markdown", [False, True])
def test_list_events_as_falco(markdown: bool) -> None:
    falco = _falco(*(["--format", "markdown"] if markdown else []))
    ours = event_list_text(markdown)
    assert _lines(ours) == _lines(falco)
    assert len(ours.splitlines()) == len(falco.splitlines())


def test_list_events_json_as_falco() -> None:
    falco, ours = json.loads(_falco("--format", "json")), json.loads(event_list_json())
    assert set(falco) == set(ours) and falco["schema_version"] == ours["schema_version"]
    for section, events in falco.items():
        if section == "schema_version":
            continue
        key = lambda e: json.dumps(e, sort_keys=True)  # noqa: E731
        theirs = sorted(key(e) for e in events if e["name"] not in NO_FLAG_NAMES)
        assert theirs == sorted(key(e) for e in ours[section] if e["name"] not in NO_FLAG_NAMES), section


def test_list_events_marks_ignored_io_as_not_default() -> None:
    rows = {ln.split(" | ")[2]: ln.split(" | ")[0] for ln in event_list_text(True).splitlines()
            if ln.count(" | ") == 3 and ln.startswith(("Yes", "No"))}
    assert rows["`read`"] == "No" and rows["`openat`"] == "Yes"
