"""Replay captures with lanner and with real Falco (the oracle) and compare their alerts field by field.

Used by ``test_falco_differential.py``; run as a script to refresh the golden expectations from the
reference Falco build in ``../shared/falco``::

    python -m tests.fields.falco_oracle --write-golden
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, SHARED

DATA = Path(__file__).resolve().parent / "data"
RULES = DATA / "falco_diff_rules.yaml"
GOLDEN = DATA / "falco_golden.jsonl.gz"
FALCO_REF = SHARED / "falco" / "falco-ref"
REPLAY_OPTS = ("-o", "json_output=true", "-o", "rule_matching=all", "-o", "priority=debug")


def _alerts(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def replay(cmd: list[str], capture: Path, rules: list[Path]) -> list[dict]:
    """JSON alerts of a Falco-compatible command replaying ``capture`` with ``rules``."""
    argv = [*cmd, "-o", "engine.kind=replay", "-o", f"engine.replay.capture_file={capture}", *REPLAY_OPTS]
    for r in rules:
        argv += ["-r", str(r)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {p.returncode}: {p.stderr[-2000:]}")
    return _alerts(p.stdout)


def lanner_cmd() -> list[str]:
    return [sys.executable, "-m", "lanner"]


def falco_usable() -> str | None:
    """None when the reference Falco runs here, else the reason it cannot."""
    if not FALCO_REF.exists():
        return f"reference Falco not available: {FALCO_REF}"
    try:
        p = subprocess.run([str(FALCO_REF), "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"reference Falco does not start: {e}"
    if p.returncode != 0:
        return f"reference Falco does not start (run ../shared/falco/install-deps.sh): {p.stderr[-300:]}"
    return None


def compact(alert: dict) -> list:
    """What an alert is compared on: time, rule, priority and every output field."""
    fields = {k: v for k, v in alert.get("output_fields", {}).items() if k != "evt.time"}
    return [alert.get("time"), alert.get("rule"), alert.get("priority"), fields]


def differences(expected: list[list], got: list[list], limit: int = 20) -> list[str]:
    """Field-by-field differences: expected alerts missing or differing, and alerts not expected."""
    pool: dict[tuple, list[list]] = {}
    for g in got:
        pool.setdefault((g[0], g[1]), []).append(g)
    out = []
    for e in expected:
        cands = pool.get((e[0], e[1]), [])
        best, best_bad = None, None
        for g in cands:
            bad = [f"{k}: falco={v!r} lanner={g[3].get(k, '<absent>')!r}" for k, v in e[3].items()
                   if g[3].get(k, "<absent>") != v]
            if g[2] != e[2]:
                bad.append(f"priority: falco={e[2]} lanner={g[2]}")
            if best_bad is None or len(bad) < len(best_bad):
                best, best_bad = g, bad
        if best is not None and not best_bad:
            cands.remove(best)
            continue
        what = "missing" if best is None else "; ".join(best_bad)
        out.append(f"{e[1]} @ {e[0]}: {what}")
    for rest in pool.values():
        out.extend(f"{g[1]} @ {g[0]}: raised by lanner only" for g in rest)
    return out[:limit] + ([f"... {len(out) - limit} more"] if len(out) > limit else [])


def load_golden() -> dict[str, list[list]]:
    """capture file name -> the alerts Falco raised on it (one line per capture)."""
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as f:
        return dict(json.loads(line) for line in f if line.strip())


def write_golden(captures: list[Path]) -> None:
    reason = falco_usable()
    if reason:
        raise SystemExit(reason)
    rows, n = [], 0
    for cap in captures:
        alerts = [compact(a) for a in replay([str(FALCO_REF)], cap, [RULES])]
        n += len(alerts)
        rows.append(json.dumps([cap.name, alerts], sort_keys=True, separators=(",", ":")))
    with gzip.GzipFile(GOLDEN, "wb", mtime=0) as f:
        f.write(("\n".join(rows) + "\n").encode())
    print(f"wrote {n} alerts of {len(captures)} captures to {GOLDEN}")


def synthetic_capture(directory: Path) -> Path:
    """The state-walk capture (see ``synthetic_capture``), written into ``directory``."""
    from tests.fields import synthetic_capture as S

    return S.build(directory / S.NAME)


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--write-golden"]:
        raise SystemExit(__doc__)
    with tempfile.TemporaryDirectory() as d:
        write_golden([*sorted((SHARED / "captures").glob("*.scap")), synthetic_capture(Path(d))])
