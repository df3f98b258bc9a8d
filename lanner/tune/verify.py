"""The safety net: replay the rules' ``lanner test`` cases and refuse every proposed exception value
that would stop a must-fire case from firing.

Two runs. The first runs the cases as they are, capturing the proposals' fields of every alert they
raise, and refuses each value tuple that matches an alert a must-fire expectation needs (said with
the case and the alert's values). The second runs them again with the remaining override loaded; a
must-fire case failing there refuses all of that rule's values. A live case that misses its alert on a
busy machine would look like either, so a failing case is run once more and only a repeated failure counts. Refusing only removes exceptions, so a
case that passed the second run cannot fail with the final file.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from lanner.config import Config
from lanner.testing.cases import Case, Expectation, find_case_files, load_case_file
from lanner.testing.runner import PASS, SKIP, CaseResult, CaseRunner, default_rules_paths, value_matches
from lanner.tune.override import render
from lanner.tune.propose import Proposal


@dataclass
class Verification:
    cases_run: int = 0
    cases_passed: int = 0
    notes: list[str] = field(default_factory=list)
    refused: int = 0


def _relevant(cases: list[Case], rules: set[str]) -> list[Case]:
    return [c for c in cases if not c.pending and any(e.rule in rules for e in c.expect)]


def load_cases(paths: list[str]) -> list[Case]:
    """Every case of the case files under ``paths``; CaseError names a bad file."""
    cases: list[Case] = []
    for f in find_case_files(paths):
        cases.extend(load_case_file(f))
    return cases


def _refuse_rule(props: list[Proposal], rule: str, why: str) -> int:
    n = 0
    for p in props:
        if p.rule == rule:
            for v in p.accepted:
                v.refused = why
                n += 1
    return n


def verify(proposals: list[Proposal], cases: list[Case], workdir: str, *, allow_unverified: bool = False,
           config: Config | None = None, progress: Callable[[str], None] = lambda s: None) -> Verification:
    out = Verification()
    rules = {p.rule for p in proposals if p.accepted}
    chosen = _relevant(cases, rules)
    uncovered = sorted(rules - {e.rule for c in chosen for e in c.expect})
    if uncovered:
        out.notes.append("no must-fire test case for: " + ", ".join(uncovered) + " (their exceptions are unchecked)")
    if not chosen:
        return out
    by_rule: dict[str, list[Proposal]] = {}
    for p in proposals:
        by_rule.setdefault(p.rule, []).append(p)

    # run 1: the cases as they are, capturing the proposals' fields ("*" matches any value)
    probe = []
    for c in chosen:
        exp = []
        for e in c.expect:
            extra = {f: "*" for p in by_rule.get(e.rule, []) for f in p.fields if f not in e.fields}
            exp.append(Expectation(e.rule, {**e.fields, **extra}, e.count))
        probe.append(dataclasses.replace(c, expect=exp))
    progress(f"replaying {len(probe)} must-fire case(s) without the override")
    runner = CaseRunner(config or Config())
    results = runner.run(probe)
    flaky = [r.case for r in results if r.status not in (PASS, SKIP)]
    if flaky:          # a live case can miss its alert on a busy machine: one more try before giving up on it
        progress(f"running {len(flaky)} case(s) that did not pass once more")
        again = {id(r.case): r for r in CaseRunner(config or Config()).run(flaky)}
        results = [again.get(id(r.case), r) for r in results]
    originals = {id(p): c for p, c in zip(probe, chosen, strict=True)}
    out.cases_run = len(results)
    for r in results:
        case = originals.get(id(r.case), r.case)
        if r.status != PASS:
            why = "; ".join(r.problems) or r.note or r.status
            if r.status == SKIP and allow_unverified:
                out.notes.append(f"case '{case.name}' ({case.file}) skipped here ({why}): not checked")
                continue
            msg = (f"cannot be checked: must-fire case '{case.name}' ({case.file}) did not pass even without "
                   f"the override ({r.status}: {why})")
            for e in case.expect:
                out.refused += _refuse_rule(proposals, e.rule, msg)
            out.notes.append(f"case '{case.name}': {r.status} without the override: {why}")
            continue
        out.cases_passed += 1
        _attribute(r, case, by_rule, out)

    # run 2: the cases again with what is left loaded after their rules
    groups: dict[tuple[str, ...], list[Case]] = {}
    for c in chosen:
        groups.setdefault(c.rules or default_rules_paths(), []).append(c)
    second = []
    for i, (paths, group) in enumerate(groups.items()):
        info = runner.rules_info.get(paths)
        present = set(info.rules) if info else set()
        text = render(proposals, "verification copy", only_rules=present)
        path = os.path.join(workdir, f"lanner-tune-verify-{i}.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        second += [dataclasses.replace(c, rules=(*paths, path)) for c in group]
    if any(p.accepted for p in proposals):
        progress(f"replaying {len(second)} must-fire case(s) with the override loaded")
        results = CaseRunner(config or Config()).run(second)
        failed = [r.case for r in results if r.status not in (PASS, SKIP)]
        if failed:     # the same second chance as above: only a failure that repeats refuses
            progress(f"running {len(failed)} case(s) that failed with the override once more")
            results = CaseRunner(config or Config()).run(failed)
        for r in results:
            if r.status in (PASS, SKIP):
                continue
            why = "; ".join(r.problems) or r.note
            for e in r.case.expect:
                out.refused += _refuse_rule(proposals, e.rule, f"must-fire case '{r.case.name}' ({r.case.file}) "
                                                               f"fails with the override loaded: {why}")
    return out


def _attribute(r: CaseResult, case: Case, by_rule: dict[str, list[Proposal]], out: Verification) -> None:
    for e in case.expect:
        good = [f for f in r.fired if f.rule == e.rule
                and all(value_matches(f.values.get(k), v) for k, v in e.fields.items())]
        for p in by_rule.get(e.rule, []):
            for v in p.accepted:
                hit = next((f for f in good if p.matches(f.values, v)), None)
                if hit is not None:
                    seen = ", ".join(f"{k}={hit.values.get(k)}" for k in p.fields)
                    v.refused = (f"would stop must-fire case '{case.name}' ({case.file}) from firing: "
                                 f"its alert has {seen}")
                    out.refused += 1
