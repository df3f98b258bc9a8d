"""The seccomp program: TRACE exactly for the wanted native calls, TRACE for every other ABI."""

from __future__ import annotations

import random

import pytest

from lanner.sources.userspace.ptrace import AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT
from lanner.sources.userspace.seccomp import RET_ALLOW, RET_TRACE, build_program, run_program


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 17, 64, 300, 460])
def test_verdict_per_syscall(size: int) -> None:
    rng = random.Random(size)
    wanted = set(rng.sample(range(470), size))
    prog = build_program(wanted)
    assert len(prog) < 4096
    for nr in range(480):
        assert run_program(prog, nr) == (RET_TRACE if nr in wanted else RET_ALLOW), nr


def test_other_abis_are_traced() -> None:
    prog = build_program({257, 59})
    assert run_program(prog, 20, AUDIT_ARCH_I386) == RET_TRACE
    assert run_program(prog, 39, AUDIT_ARCH_I386) == RET_TRACE
    assert run_program(prog, X32_SYSCALL_BIT | 2, AUDIT_ARCH_X86_64) == RET_TRACE
    assert run_program(prog, 39, AUDIT_ARCH_X86_64) == RET_ALLOW


def test_long_branches_use_ja() -> None:
    prog = build_program(range(0, 900, 2))
    assert any(code == 0x05 for code, *_ in prog)
    assert all(jt <= 255 and jf <= 255 for _, jt, jf, _ in prog)
    assert run_program(prog, 898) == RET_TRACE and run_program(prog, 897) == RET_ALLOW
