"""Push-down beyond the open family: result classes and ptrace requests each condition lets the probe
test, and what the kernel filter keeps once the state engine's needs are added."""

from __future__ import annotations

from dataclasses import dataclass

from lanner.events import table as T
from lanner.rules.parser import parse
from lanner.rules.pushdown_calls import (
    ANY_RESULT,
    ERR,
    FAILED,
    INPROG,
    OK,
    TOP,
    CallPred,
    CallPushdown,
    _ptrace_requests,
    plan_calls,
)

PTRACE = {n: v for v, n in _ptrace_requests().items()}


def an(name: str, cond: str):
    return CallPushdown(name, T.codes_for_name).analyse(parse(cond))


@dataclass
class FakeRule:
    name: str
    tree: object
    evttypes: frozenset | None
    source: str = "syscall"


def rule(name: str, cond: str) -> FakeRule:
    return FakeRule(name, parse(cond), None)


def test_results():
    assert an("execve", "evt.type = execve and evt.res = SUCCESS") == {CallPred(OK)}
    assert an("execve", "evt.type = execve and evt.failed = true") == {CallPred(FAILED)}
    assert an("setuid", "evt.type = setuid and evt.rawres < 0") == {CallPred(FAILED)}
    assert an("setuid", "evt.type = setuid and not evt.rawres < 0") == {CallPred(OK)}
    assert an("connect", "evt.type = connect and (evt.rawres >= 0 or evt.res = EINPROGRESS)") == {
        CallPred(OK), CallPred(INPROG)}
    assert an("connect", "evt.type = connect and evt.res != SUCCESS") == {CallPred(FAILED)}
    assert an("execve", "evt.type = execve and proc.name = sh") == TOP


def test_other_event_types_vanish():
    assert an("setuid", "evt.type = execve and proc.name = sh") == set()
    assert an("setuid", "not evt.type in (setuid, setgid)") == set()
    assert an("setuid", "evt.type != setuid") == set()
    assert an("setuid", "(evt.type = setuid and evt.res = SUCCESS) or (evt.type = execve)") == {CallPred(OK)}


def test_ptrace_requests():
    s = an("ptrace", "evt.type = ptrace and (evt.arg.request contains PTRACE_POKETEXT or "
                     "evt.arg.request contains PTRACE_ATTACH)")
    assert s == {CallPred(ANY_RESULT, frozenset({PTRACE["PTRACE_POKETEXT"]})),
                 CallPred(ANY_RESULT, frozenset({PTRACE["PTRACE_ATTACH"]}))}
    s = an("ptrace", "evt.type = ptrace and evt.arg.request = PTRACE_TRACEME and evt.res = SUCCESS")
    assert s == {CallPred(OK, frozenset({PTRACE["PTRACE_TRACEME"]}))}
    # numbers are compared with the PPM code too (an over-approximation)
    assert an("ptrace", "evt.arg.request in (11, 20)") == {CallPred(ANY_RESULT, frozenset({11, 20}))}
    assert an("ptrace", "not evt.arg.request = PTRACE_ATTACH") == TOP
    assert an("ptrace", "evt.arg.request contains NOPE") == set()


def test_plan_merges_rules_and_reports():
    rules = [rule("ok exec", "evt.type = execve and evt.res = SUCCESS and proc.name = sh"),
             rule("attach", "evt.type = ptrace and evt.arg.request contains PTRACE_ATTACH"),
             rule("any setuid", "evt.type = setuid")]
    p = plan_calls(rules, ["execve", "ptrace", "setuid", "connect"], T.codes_for_name, lambda c: T.EVENTS[c].name)
    assert p.results == {"execve": OK, "ptrace": ANY_RESULT, "setuid": ANY_RESULT, "connect": 0}
    assert p.requests["ptrace"] == frozenset({PTRACE["PTRACE_ATTACH"]})
    rep = p.rule_report()
    assert any(line.startswith("attach: ptrace: any result & request in (PTRACE_ATTACH)") for line in rep)
    assert any(line.startswith("ok exec: execve: ok") for line in rep)
    # the rest of the condition stays in userspace, and the report says which fields and why
    rep = p.rule_report(lambda ev: f"why {ev}")
    assert any(line.startswith("ok exec: execve: ok | not pushed down: proc.name (why execve)") for line in rep)
    assert ERR & p.results["setuid"]
