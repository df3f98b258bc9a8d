"""Live (root): 32-bit syscalls (``int $0x80`` from a static i386 program) raise the same alerts as the
same calls made by its 64-bit twin, under both syscall hooks.

The programs are hand-written assembly (binutils' ``as --32`` / ``ld -m elf_i386``: no multilib C
toolchain needed): open /etc/shadow, ptrace(PTRACE_TRACEME), an AF_PACKET socket (through
``socketcall`` in the 32-bit one), setuid (``setuid32``), exit.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_root
from tests.sources.ebpf.livehelp import LiveRunner

ASM32 = """
	.data
path:	.asciz "/etc/shadow"
sargs:	.long 17, 3, 768
	.text
	.globl _start
_start:
	movl $5, %eax
	leal path, %ebx
	xorl %ecx, %ecx
	int $0x80
	movl $26, %eax
	xorl %ebx, %ebx
	xorl %ecx, %ecx
	xorl %edx, %edx
	xorl %esi, %esi
	int $0x80
	movl $102, %eax
	movl $1, %ebx
	leal sargs, %ecx
	int $0x80
	movl $213, %eax
	xorl %ebx, %ebx
	int $0x80
	movl $1, %eax
	xorl %ebx, %ebx
	int $0x80
"""

ASM64 = """
	.data
path:	.asciz "/etc/shadow"
	.text
	.globl _start
_start:
	movl $2, %eax
	leaq path(%rip), %rdi
	xorl %esi, %esi
	syscall
	movl $101, %eax
	xorl %edi, %edi
	xorl %esi, %esi
	xorl %edx, %edx
	xorq %r10, %r10
	syscall
	movl $41, %eax
	movl $17, %edi
	movl $3, %esi
	movl $768, %edx
	syscall
	movl $105, %eax
	xorl %edi, %edi
	syscall
	movl $60, %eax
	xorl %edi, %edi
	syscall
"""

RULES = """
- rule: ia shadow open
  desc: t
  condition: evt.type in (open, openat, openat2) and fd.name=/etc/shadow and proc.name startswith lanner-ia
  output: "shadow %proc.name %evt.type %fd.name %evt.arg.flags %evt.res"
  priority: WARNING
- rule: ia ptrace traceme
  desc: t
  condition: evt.type=ptrace and evt.arg.request contains PTRACE_TRACEME and proc.name startswith lanner-ia
  output: "ptrace %proc.name %evt.type %evt.arg.request"
  priority: WARNING
- rule: ia packet socket
  desc: t
  condition: evt.type=socket and evt.arg.domain contains AF_PACKET and proc.name startswith lanner-ia
  output: "packet %proc.name %evt.type %evt.arg.domain %evt.arg.type %evt.arg.proto"
  priority: WARNING
- rule: ia setuid
  desc: t
  condition: evt.type=setuid and evt.rawarg.uid=0 and proc.name startswith lanner-ia
  output: "setuid %proc.name %evt.type %evt.rawarg.uid %evt.res"
  priority: WARNING
"""
RULE_NAMES = {"ia shadow open", "ia ptrace traceme", "ia packet socket", "ia setuid"}


def _assemble(tmp: Path, name: str, src: str, as_args: list[str], ld_args: list[str]) -> Path:
    s, o, exe = tmp / f"{name}.s", tmp / f"{name}.o", tmp / name
    s.write_text(src)
    subprocess.run(["as", *as_args, str(s), "-o", str(o)], check=True, capture_output=True)
    subprocess.run(["ld", *ld_args, str(o), "-o", str(exe)], check=True, capture_output=True)
    return exe


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    require_root()
    for tool in ("as", "ld"):
        if shutil.which(tool) is None:
            pytest.skip(f"'{tool}' (binutils) not installed")
    tmp = tmp_path_factory.mktemp("ia32")
    p32 = _assemble(tmp, "lanner-ia32", ASM32, ["--32"], ["-m", "elf_i386"])
    p64 = _assemble(tmp, "lanner-ia64", ASM64, [], [])
    try:
        subprocess.run([str(p32)], check=True, timeout=30)
    except OSError as e:  # ENOEXEC: a kernel without CONFIG_IA32_EMULATION (or ia32_emulation=0)
        pytest.skip(f"this kernel cannot run 32-bit programs (CONFIG_IA32_EMULATION): {e}")
    return p32, p64


def _alerts_of(runner: LiveRunner, name: str) -> dict[str, dict]:
    """rule -> output fields of the alerts raised for process ``name`` (waits for all four)."""
    def got():
        return {a.rule for a in runner.alerts if a.output_fields.get("proc.name") == name}
    runner.wait_alert(lambda a: got() >= RULE_NAMES, timeout=30)
    out = {}
    for a in runner.alerts:
        if a.output_fields.get("proc.name") == name:
            out.setdefault(a.rule, dict(a.output_fields))
    return out


@pytest.mark.parametrize("attach", ["tracepoint", "tp_btf"])
def test_32bit_calls_alert_like_their_64bit_twin(programs, attach):
    p32, p64 = programs
    r = LiveRunner(RULES, {"engine": {"modern_ebpf": {"attach": attach}}}).start()
    try:
        assert r.live_source.probe.mode == attach, r.live_source.probe.mode_reason
        subprocess.run([str(p64)], check=True, timeout=30)
        subprocess.run([str(p32)], check=True, timeout=30)
        a64 = _alerts_of(r, "lanner-ia64")
        a32 = _alerts_of(r, "lanner-ia32")
    finally:
        r.close()
    assert r.error is None, r.error
    assert set(a64) == RULE_NAMES, a64
    assert set(a32) == RULE_NAMES, a32
    for rule in RULE_NAMES:
        f32 = {k: v for k, v in a32[rule].items() if k != "proc.name"}
        f64 = {k: v for k, v in a64[rule].items() if k != "proc.name"}
        assert f32 == f64, (rule, f32, f64)
    assert a32["ia shadow open"]["evt.type"] == "open"
    assert "AF_PACKET" in a32["ia packet socket"]["evt.arg.domain"]
    assert a32["ia setuid"]["evt.res"] == "SUCCESS"
