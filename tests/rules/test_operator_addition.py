"""Adding an operator is one row in lanner/rules/operators.py: a test-only ``iendswith`` (case-insensitive
suffix; Falco 0.44 has no operator lanner lacks) registered here, and nothing else, works in a condition and
in a rule exception through the whole engine, fused matching and the plain reference loop alike, on a
shared capture (/tmp/file-1 ... /tmp/file-13 opened)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from lanner.config import engine_defaults
from lanner.engine import Engine
from lanner.rules import operators, values
from lanner.rules.operators import STRING, Literal, Operator, Rhs, Template
from lanner.run.loop import LoopStats, replay_batches, run_loop
from lanner.sources.scap.reader import ScapReader
from tests.conftest import shared_path

IENDSWITH = Operator("iendswith", Rhs.VALUE, frozenset({STRING}),
                     Template("_lower({v}).endswith({c})", field="_lower({v}).endswith(_lower({c}))",
                              prepare=values.ascii_lower), Literal.TEXT, blank_after=True)

RULES = """
- rule: upper-case suffix
  desc: the new operator in a condition
  condition: evt.type in (open, openat) and fd.name iendswith FILE-1
  output: "opened %fd.name"
  priority: INFO
- rule: suffix excepted
  desc: the new operator in an exception
  condition: evt.type in (open, openat) and fd.name contains file-1
  output: "kept %fd.name"
  priority: INFO
  exceptions:
    - name: not_twelve
      fields: [fd.name]
      comps: [iendswith]
      values: [[FILE-12]]
"""


@pytest.fixture
def iendswith() -> Iterator[Operator]:
    operators.register(IENDSWITH, before="endswith")
    try:
        yield IENDSWITH
    finally:
        operators.unregister("iendswith")


@pytest.mark.parametrize("fast", [True, False], ids=["fused", "plain"])
def test_a_registered_operator_runs_through_the_engine(iendswith: Operator, fast: bool, tmp_path) -> None:
    capture = shared_path("captures", "open-multiple-files.scap")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    eng = Engine(engine_defaults())
    eng.fast = fast
    assert eng.load_rules_files([str(rules)])
    got: list[tuple[str, str]] = []
    eng.on_alert = lambda a: got.append((a.rule, a.output_fields["fd.name"]))
    with ScapReader(str(capture), on_section=eng.state.seed_from_capture) as r:
        run_loop(eng, replay_batches(r), threading.Event(), LoopStats("syscall"))
    assert sorted(got) == [("suffix excepted", "/tmp/file-10"), ("suffix excepted", "/tmp/file-11"),
                           ("suffix excepted", "/tmp/file-13"), ("upper-case suffix", "/tmp/file-1")]


def test_without_the_row_the_operator_does_not_exist(tmp_path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    assert not Engine(engine_defaults()).load_rules_files([str(rules)])
