"""``lanner tune ALERTS... -r RULES... --out OVERRIDE.yaml``: propose exceptions for noisy rules, refuse
those that would silence a must-fire test case, write the rest as an override file.

Exit status: 0 when the override was written, 1 when some alerts stay uncovered or some proposals were
refused (the file is still written, with what was accepted), 2 for bad input (unreadable alerts, rules
that do not load, no test cases to check against without ``--no-verify``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lanner.core.errors import LannerError
from lanner.tune.alerts import AlertSet, TuneError, read_alerts, read_live, read_store
from lanner.tune.override import render
from lanner.tune.propose import propose
from lanner.tune.report import render_report
from lanner.tune.rules import load_rules


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lanner tune", description=(
        "Propose the narrowest Falco exceptions that silence the given alerts, check them against the rules' "
        "test cases, and write them as an override file."))
    p.add_argument("alerts", nargs="*", metavar="ALERTS", help="JSON alert files (lanner/Falco json_output)")
    p.add_argument("--store", action="append", default=[], metavar="URL",
                   help="also read the alerts of a console store (SQLite file or postgresql:// URL)")
    p.add_argument("--since", type=float, default=0.0, metavar="SECONDS", help="with --store: only the last seconds")
    p.add_argument("--live", type=int, default=0, metavar="SECONDS",
                   help="also run lanner live that long with the rules (root) and tune its alerts")
    p.add_argument("-c", dest="config", default="", help="configuration file for --live")
    p.add_argument("-r", "--rules", action="append", required=True, metavar="RULES",
                   help="rules file(s) or directories that raised the alerts, in load order")
    p.add_argument("--out", required=True, metavar="OVERRIDE.yaml", help="override file to write")
    p.add_argument("--cases", action="append", default=[], metavar="PATH",
                   help="lanner test case files/directories (default: tests/rules/default/cases of a source tree)")
    p.add_argument("--no-verify", action="store_true", help="write without replaying test cases (unsafe)")
    p.add_argument("--allow-unverified", action="store_true",
                   help="keep proposals whose must-fire cases cannot run here (e.g. not root)")
    p.add_argument("--max-values", type=int, default=10, help="most value tuples per exception before a broader shape")
    p.add_argument("--report", metavar="OUT.html", help="also write a static HTML report")
    return p


def default_cases() -> list[str]:
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        d = base / "tests" / "rules" / "default" / "cases"
        if d.is_dir():
            return [str(d)]
    return []


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    say = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    try:
        if not (args.alerts or args.store or args.live):
            raise TuneError("give alert files, --store URL or --live SECONDS")
        alerts = read_alerts(args.alerts) if args.alerts else AlertSet()
        for extra in [read_store(u, args.since) for u in args.store] + \
                ([read_live(args.rules, args.live, args.config)] if args.live else []):
            alerts.alerts += extra.alerts
            alerts.files += extra.files
            alerts.skipped_lines += extra.skipped_lines
        rules = load_rules(args.rules)
        proposals, notes = propose(alerts.by_rule(), rules, max_values=max(1, args.max_values))
        case_paths = args.cases or default_cases()
        if not args.no_verify and not case_paths:
            raise TuneError("no test cases to check the proposals against: give --cases (or --no-verify)")
        if alerts.skipped_lines:
            notes.append(f"{alerts.skipped_lines} non-alert line(s) skipped in the alert files")
        if not args.no_verify:
            from lanner.tune.verify import load_cases, verify
            cases = load_cases(case_paths)
            with tempfile.TemporaryDirectory(prefix="lanner-tune-") as work:
                ver = verify(proposals, cases, work, allow_unverified=args.allow_unverified, progress=say)
            notes += ver.notes
            say(f"checked against {ver.cases_run} must-fire case(s): {ver.cases_passed} ran, {ver.refused} "
                "exception value(s) refused")
        else:
            notes.append("proposals not checked against any test case (--no-verify)")
    except LannerError as e:  # TuneError, or the rules/case/store error as its module raised it
        sys.stderr.write(f"Error: {e}\n")
        return 2
    by_rule = alerts.by_rule()
    removed: dict[str, int] = {}
    for p in proposals:
        removed[p.rule] = removed.get(p.rule, 0) + sum(v.removes for v in p.accepted)
    header = f"From {len(alerts.alerts)} alerts in {', '.join(alerts.files)}; rules: {', '.join(args.rules)}"
    try:
        Path(args.out).write_text(render(proposals, header), encoding="utf-8")
        if args.report:
            Path(args.report).write_text(render_report(
                by_rule_counts={r: len(a) for r, a in by_rule.items()}, proposals=proposals, removed=removed,
                notes=notes, sources=alerts.files, override_path=os.path.abspath(args.out)), encoding="utf-8")
    except OSError as e:
        sys.stderr.write(f"Error: cannot write {e.filename}: {e.strerror}\n")
        return 2
    total = len(alerts.alerts)
    gone = sum(removed.values())
    print(f"{total} alerts from {len(by_rule)} rule(s); the override removes {gone} "
          f"({100.0 * gone / total if total else 0:.0f}%)")
    for p in proposals:
        for v in p.values:
            mark = "REFUSED" if v.refused else "ok     "
            print(f"  {mark} {p.rule}: {p.describe(v)}  (removes {v.removes})" + (f"\n          {v.refused}" if v.refused else ""))
    for n in notes:
        print(f"  note: {n}")
    print(f"wrote {args.out}" + (f" and {args.report}" if args.report else ""))
    refused = any(v.refused for p in proposals for v in p.values)
    return 1 if refused or gone < total else 0
