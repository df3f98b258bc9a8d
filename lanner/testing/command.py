"""``lanner test PATH...``: run rule test cases and report pass/fail per case and coverage per rule.

Exit status: 0 when every case passed (skips allowed unless ``--fail-on-skip``; an error, such as a
scenario that did not run as written, is never allowed) and, with
``--require-coverage``, every rule has a passing must-fire and must-not-fire case; 1 otherwise;
2 for usage errors or unreadable case files.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from lanner.config import ConfigError, engine_defaults
from lanner.testing.cases import Case, CaseError, find_case_files, load_case_file
from lanner.testing.runner import ERROR, FAIL, PASS, PENDING, SKIP, CaseResult, CaseRunner, text

_MARK = {PASS: "PASS", FAIL: "FAIL", SKIP: "SKIP", ERROR: "ERROR", PENDING: "PEND"}


@dataclass
class RuleCoverage:
    name: str
    files: tuple[str, ...]
    fire: dict[str, int] = field(default_factory=lambda: {PASS: 0, FAIL: 0, SKIP: 0, ERROR: 0, PENDING: 0})
    quiet: dict[str, int] = field(default_factory=lambda: {PASS: 0, FAIL: 0, SKIP: 0, ERROR: 0, PENDING: 0})

    @property
    def status(self) -> str:
        if self.fire[FAIL] + self.fire[ERROR] + self.quiet[FAIL] + self.quiet[ERROR]:
            return "FAIL"
        if not self.fire[PASS]:
            if self.fire[PENDING]:
                return "pending"
            if self.fire[SKIP]:
                return "skipped"
            return "not covered"
        if not self.quiet[PASS]:
            return "no near-miss" if not self.quiet[SKIP] else "near-miss skipped"
        return "covered"


def coverage(runner: CaseRunner, results: list[CaseResult]) -> list[RuleCoverage]:
    rules: dict[str, RuleCoverage] = {}
    for paths, info in runner.rules_info.items():
        for name in info.rules:
            rules.setdefault(name, RuleCoverage(name, paths))
    for r in results:
        for e in r.case.expect:
            if e.rule in rules:
                rules[e.rule].fire[r.status] += 1
        for name in r.case.forbid:
            if name in rules:
                rules[name].quiet[r.status] += 1
    return list(rules.values())


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lanner test", description=(
        "Run rule test cases: live scenarios (host or throwaway container), capture files or Kubernetes "
        "audit logs, each with the alerts that must and must not fire."))
    p.add_argument("paths", nargs="+", metavar="PATH", help="test-case file(s) or directories of *.yaml cases")
    p.add_argument("-k", dest="select", default="", help="run only cases whose name contains this text")
    p.add_argument("-o", dest="options", action="append", default=[], metavar="KEY=VALUE",
                   help="engine configuration option (as lanner -o), e.g. rule_matching=all")
    p.add_argument("--docker-host", default=None, help="Docker engine for container scenarios (default DOCKER_HOST "
                   "or /var/run/docker.sock)")
    p.add_argument("--json", action="store_true", help="print one JSON report instead of text")
    p.add_argument("--require-coverage", action="store_true",
                   help="fail unless every loaded rule has a passing must-fire and must-not-fire case")
    p.add_argument("--fail-on-skip", action="store_true", help="count skipped and pending cases as failures")
    p.add_argument("-v", "--verbose", action="store_true", help="print every alert each case raised")
    return p


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(list(argv))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        files = find_case_files(args.paths)
        cases: list[Case] = []
        for f in files:
            cases.extend(load_case_file(f))
    except CaseError as e:
        sys.stderr.write(f"Error: {e}\n")
        return 2
    if args.select:
        cases = [c for c in cases if args.select in c.name]
    if not cases:
        sys.stderr.write("Error: no test cases found\n")
        return 2
    try:
        config = engine_defaults(args.options)
    except (ConfigError, TypeError) as e:
        sys.stderr.write(f"Error: {e}\n")
        return 2

    def show(r: CaseResult) -> None:
        if args.json:
            return
        line = f"{_MARK[r.status]:<5} {r.case.name}  [{r.case.file}:{r.case.kind}, {r.seconds:.1f}s]"
        print(line)
        for p in r.problems:
            print(f"      - {p}")
        if r.note and (r.status != PASS or args.verbose):
            print(f"      {r.note}")
        if args.verbose:
            for f in r.fired:
                vals = " ".join(f"{k}={text(v)}" for k, v in f.values.items())
                print(f"      alert: {f.rule}: {f.message}" + (f" [{vals}]" if vals else ""))
        sys.stdout.flush()

    runner = CaseRunner(config, args.docker_host, on_result=show)
    results = runner.run(cases)
    cov = coverage(runner, results)
    counts = {s: sum(1 for r in results if r.status == s) for s in (PASS, FAIL, SKIP, ERROR, PENDING)}
    load_errors = [i for i in runner.rules_info.values() if i.error]
    covered = sum(1 for c in cov if c.status == "covered")
    ok = counts[FAIL] == 0 and counts[ERROR] == 0 and not load_errors
    if args.fail_on_skip and (counts[SKIP] or counts[PENDING]):
        ok = False
    if args.require_coverage and covered != len(cov):
        ok = False
    if args.json:
        print(orjson.dumps({
            "cases": [{"name": r.case.name, "file": r.case.file, "input": r.case.kind, "status": r.status,
                       "problems": r.problems, "note": r.note, "seconds": round(r.seconds, 3),
                       "exit_status": r.exit_status,
                       "expect_exit": (None if not r.case.live else
                                       "any" if r.case.exit_codes is None else list(r.case.exit_codes)),
                       "alerts": [{"rule": f.rule, "message": f.message,
                                   "fields": {k: text(v) for k, v in f.values.items()}} for f in r.fired]}
                      for r in results],
            "rules": [{"rule": c.name, "status": c.status, "must_fire": c.fire, "must_not_fire": c.quiet,
                       "files": list(c.files)} for c in cov],
            "summary": {**counts, "rules": len(cov), "rules_covered": covered, "ok": ok},
        }, option=orjson.OPT_INDENT_2).decode())
        return 0 if ok else 1
    print("\nRule coverage:")
    width = max((len(c.name) for c in cov), default=10)
    for c in sorted(cov, key=lambda c: (c.status == "covered", c.name)):
        print(f"  {c.name:<{width}}  {c.status:<17} must-fire {c.fire[PASS]} passed/{sum(c.fire.values())}, "
              f"must-not-fire {c.quiet[PASS]} passed/{sum(c.quiet.values())}")
    untested = [c.name for c in cov if not sum(c.fire.values()) and not sum(c.quiet.values())]
    if untested:
        print(f"\nRules with no test ({len(untested)}): " + ", ".join(untested))
    for i in load_errors:
        print(f"\nRules failed to load ({', '.join(i.paths)}):\n{i.error}")
    pct = 100.0 * covered / len(cov) if cov else 0.0
    print(f"\n{len(results)} cases: {counts[PASS]} passed, {counts[FAIL]} failed, {counts[ERROR]} errors, "
          f"{counts[SKIP]} skipped, {counts[PENDING]} pending; {covered}/{len(cov)} rules covered ({pct:.0f}%)")
    return 0 if ok else 1
