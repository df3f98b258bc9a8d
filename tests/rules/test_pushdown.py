"""Open-family push-down analysis: which predicates each condition lets the probe test."""

from __future__ import annotations

from dataclasses import dataclass

from lanner.events import table as T
from lanner.rules.parser import parse
from lanner.rules.pushdown import (
    ALL_CLASSES,
    ANY,
    ERR,
    EXACT,
    NONNORM,
    OK,
    PREFIX,
    READ,
    TOP,
    WRITE,
    OpenPred,
    OpenPushdown,
)

OPEN_CODES = frozenset().union(*(T.codes_for_name(n) for n in ("open", "openat", "openat2", "creat")))
PD = OpenPushdown(OPEN_CODES, T.codes_for_name)
OPEN_READ = "evt.type in (open,openat,openat2) and evt.is_open_read=true and fd.typechar='f' and fd.num>=0"


def an(cond: str):
    return PD.analyse(parse(cond))


@dataclass
class FakeRule:
    name: str
    tree: object
    evttypes: frozenset | None = OPEN_CODES
    source: str = "syscall"
    fields: tuple = ()


def rule(name: str, cond: str, evttypes=OPEN_CODES) -> FakeRule:
    return FakeRule(name, parse(cond), evttypes)


def test_read_of_exact_files():
    s = an(f"{OPEN_READ} and fd.name in (/etc/shadow, /etc/sudoers)")
    assert s == {OpenPred(READ | OK, EXACT, "/etc/shadow"), OpenPred(READ | OK, EXACT, "/etc/sudoers")}


def test_directory_and_prefix_and_glob():
    assert an("fd.directory in (/etc/pam.d)") == {OpenPred(ALL_CLASSES, PREFIX, "/etc/pam.d/")}
    assert an("fd.name startswith /var/log") == {OpenPred(ALL_CLASSES, PREFIX, "/var/log")}
    assert an("fd.name glob '/home/*/.ssh/*'") == {OpenPred(ALL_CLASSES, PREFIX, "/home/")}


def test_and_keeps_the_narrower_path():
    s = an(f"{OPEN_READ} and fd.name startswith /etc and fd.name = /etc/shadow")
    assert s == {OpenPred(READ | OK, EXACT, "/etc/shadow")}
    assert an("fd.name startswith /etc and fd.name startswith /var") == set()   # contradiction


def test_unrecognised_checks_widen():
    assert an("fd.name contains id_rsa") == TOP
    assert an("not fd.name startswith /etc") == TOP
    assert an("proc.name = cat") == TOP
    assert an("tolower(fd.name) startswith /etc") == TOP


def test_failed_opens_and_results():
    s = an("evt.type=openat and fd.num=-1 and evt.res startswith E")
    assert s == {OpenPred(7 | ERR)}
    assert an("evt.res != SUCCESS") == {OpenPred(7 | ERR)}
    assert an("not evt.res = SUCCESS") == {OpenPred(7 | ERR)}
    # a read open may fail: is_open_read alone keeps both results
    assert an("evt.is_open_read=true and fd.num = -1") == {OpenPred(READ | ERR)}


def test_non_open_branches_vanish():
    s = an("(evt.type = execve and proc.name = sh) or (evt.type = openat and fd.name = /etc/shadow)")
    assert s == {OpenPred(ALL_CLASSES, EXACT, "/etc/shadow")}
    assert an("evt.type = connect") == set()
    assert an("not evt.type in (open, openat, openat2, creat)") == set()


def test_traversal_needs_non_normalised_paths():
    s = an(f"{OPEN_READ} and fd.nameraw contains '../' and fd.name startswith /etc/")
    assert s == {OpenPred(READ | OK, NONNORM)}


def test_plan_merges_and_reports_per_rule():
    plan = PD.plan([rule("shadow", f"{OPEN_READ} and fd.name = /etc/shadow"),
                    rule("logs", "evt.type=openat and evt.is_open_write=true and fd.name startswith /var/log/"),
                    rule("exec only", "evt.type=execve and proc.name=sh", frozenset(T.codes_for_name("execve")))])
    assert plan.entries == (OpenPred(READ | OK, EXACT, "/etc/shadow"), OpenPred(WRITE | OK | ERR, PREFIX, "/var/log/"))
    rep = "\n".join(plan.rule_report())
    assert "shadow: read ok & path = /etc/shadow" in rep
    assert "logs: write & path startswith /var/log/" in rep
    assert "exec only" not in rep


def test_one_unconstrained_rule_disables_pushdown():
    plan = PD.plan([rule("shadow", f"{OPEN_READ} and fd.name = /etc/shadow"),
                    rule("any open", "evt.type=openat and proc.name=cat")])
    assert plan.entries is None
    assert any("any open: no open predicate recognised" in x for x in plan.rule_report())


def test_file_fields_on_fd_events_disable_pushdown():
    plan = PD.plan([rule("shadow", f"{OPEN_READ} and fd.name = /etc/shadow"),
                    rule("dup of tmp", "evt.type=dup and fd.name startswith /tmp", frozenset(T.codes_for_name("dup")))])
    assert plan.entries is None and plan.blockers


def test_file_fields_on_fd_events_disable_pushdown_without_open_rules():
    plan = PD.plan([rule("tmp writes", "evt.type=write and fd.name startswith /tmp",
                         frozenset(T.codes_for_name("write")))])
    assert plan.entries is None and plan.blockers


def test_no_open_rules_means_drop_every_open():
    plan = PD.plan([rule("exec only", "evt.type=execve", frozenset(T.codes_for_name("execve")))])
    assert plan.entries == ()


def test_class_only_pushdown():
    plan = PD.plan([rule("writes", "evt.type in (open, openat) and evt.is_open_write=true")])
    assert plan.entries == (OpenPred(WRITE | OK | ERR, ANY),)
