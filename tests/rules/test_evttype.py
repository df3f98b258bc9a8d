"""Event-type inference (condition-language.md 10) over the real event table."""

from __future__ import annotations

import pytest

from lanner.events import table
from lanner.rules.evttype import EvtTypeError, EvtTypeInference
from lanner.rules.parser import parse

INF = EvtTypeInference(table.codes_for_name, table.all_codes())
ALL = table.all_codes()


def names(*ns: str) -> frozenset[int]:
    out: set[int] = set()
    for n in ns:
        out |= table.codes_for_name(n)
    return frozenset(out)


def infer(cond: str) -> frozenset[int]:
    r = INF.infer(parse(cond))
    return ALL if r is None else r


@pytest.mark.parametrize("cond", ["evt.type=openat", "not evt.type != openat", "not not evt.type=openat",
                                  "evt.type=openat and proc.name=nginx",
                                  "evt.type=openat and not (evt.type=close and proc.name=nginx)"])
def test_only_openat(cond: str) -> None:
    assert infer(cond) == names("openat")


@pytest.mark.parametrize("cond", ["evt.type!=openat", "not evt.type=openat", "evt.type=close or evt.type!=openat"])
def test_all_but_openat(cond: str) -> None:
    assert infer(cond) == ALL - names("openat")


@pytest.mark.parametrize("cond", ["evt.type in (openat, close)",
                                  "evt.type=openat or (evt.type=close and proc.name=nginx)"])
def test_two(cond: str) -> None:
    assert infer(cond) == names("openat", "close")


@pytest.mark.parametrize("cond", ["not evt.type in (openat, close)", "evt.type!=openat and evt.type!=close"])
def test_all_but_two(cond: str) -> None:
    assert infer(cond) == ALL - names("openat", "close")


@pytest.mark.parametrize("cond", ["proc.name=nginx", "evt.type=openat or proc.name=nginx",
                                  "evt.type!=openat or evt.type!=close", "evt.type exists",
                                  "evt.type startswith open", "evt.type = oneof (open, close)", "not evt.num=1",
                                  "not proc.name=nginx"])
def test_all(cond: str) -> None:
    assert infer(cond) == ALL


@pytest.mark.parametrize("cond", ["evt.type=close and evt.type=openat", "(evt.type=mmap and not evt.type=mmap)",
                                  "evt.type in ()", "evt.num=0", "evt.num < 1", "evt.num in (0, 0)",
                                  "not evt.type exists", "not evt.num > 0"])
def test_empty(cond: str) -> None:
    assert infer(cond) == frozenset()


def test_mixed_example() -> None:
    cond = ("evt.type in (connect, execve, accept, mmap, container) and not (proc.name=cat and evt.type=mmap)")
    assert infer(cond) == names("accept", "connect", "container", "execve", "mmap")


def test_generic_syscalls_map_to_generic_codes() -> None:
    assert infer("evt.type = getpid") == names("getpid") == frozenset({0, 1})


def test_errors() -> None:
    with pytest.raises(EvtTypeError, match="right-hand field comparisons"):
        INF.infer(parse("evt.type = val(proc.name)"))
    with pytest.raises(EvtTypeError, match="transformers"):
        INF.infer(parse("tolower(evt.type) = open"))
