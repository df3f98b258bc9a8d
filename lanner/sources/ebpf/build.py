"""Build the eBPF probe object and the ring-drain helper shipped in this package directory.

Run as ``python -m lanner.sources.ebpf.build``. Steps: ``vmlinux.h`` from the running kernel's BTF
(``bpftool btf dump``), falling back to a committed copy ``vmlinux_<arch>.h`` when
``/sys/kernel/btf/vmlinux`` is absent; ``clang -target bpf`` compiles ``probe.bpf.c`` into
``probe.bpf.o``; ``cc -shared`` compiles ``drain.c`` into ``_drain.so``. A missing tool is named with the
Debian package that provides it.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from lanner.core.errors import LannerError

HERE = Path(__file__).resolve().parent
BTF = Path("/sys/kernel/btf/vmlinux")
TOOLS = {"clang": "clang", "bpftool": "bpftool", "cc": "gcc"}
ARCHES = {"x86_64": "x86", "aarch64": "arm64"}


class BuildError(LannerError):
    """The probe could not be built; the message names the missing tool or the failing step."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path and name == "bpftool":
        for cand in ("/usr/sbin/bpftool", "/sbin/bpftool"):
            if os.access(cand, os.X_OK):
                return cand
    if not path:
        raise BuildError(f"'{name}' not found on PATH: install the Debian package '{TOOLS[name]}'")
    return path


def _run(cmd: list[str], what: str, stdout=None) -> None:
    r = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise BuildError(f"{what} failed ({' '.join(cmd)}):\n{r.stderr.strip()}")


def vmlinux_header(out_dir: Path, arch: str) -> Path:
    """Generate vmlinux.h from the running kernel's BTF, else use the committed copy for ``arch``."""
    dest = out_dir / "vmlinux.h"
    if BTF.exists():
        with open(dest, "w") as f:
            _run([_tool("bpftool"), "btf", "dump", "file", str(BTF), "format", "c"], "bpftool btf dump", f)
        return dest
    committed = HERE / f"vmlinux_{arch}.h"
    if not committed.exists():
        raise BuildError(f"{BTF} is absent and no committed {committed.name} exists for arch {arch}")
    shutil.copyfile(committed, dest)
    return dest


def build(out_dir: Path = HERE, keep_header: bool = False) -> tuple[Path, Path]:
    machine = platform.machine()
    arch = ARCHES.get(machine)
    if arch is None:
        raise BuildError(f"unsupported architecture {machine} (supported: {', '.join(ARCHES)})")
    if not Path("/usr/include/bpf/bpf_helpers.h").exists():
        raise BuildError("/usr/include/bpf/bpf_helpers.h missing: install the Debian package 'libbpf-dev'")
    clang = _tool("clang")
    cc = shutil.which("cc") or _tool("cc")
    build_dir = out_dir / "_build"
    build_dir.mkdir(exist_ok=True)
    vmlinux_header(build_dir, arch)
    obj = out_dir / "probe.bpf.o"
    # build next to the target and rename: a failed build leaves the previous object in place
    _run([clang, "-O2", "-g", "-target", "bpf", f"-D__TARGET_ARCH_{arch}", "-I", str(build_dir),
          "-Wno-incompatible-pointer-types-discards-qualifiers",
          "-c", str(HERE / "probe.bpf.c"), "-o", str(build_dir / obj.name)], "clang (probe.bpf.c)")
    so = out_dir / "_drain.so"
    _run([cc, "-O2", "-shared", "-fPIC", "-o", str(build_dir / so.name), str(HERE / "drain.c")], "cc (drain.c)")
    os.replace(build_dir / obj.name, obj)
    os.replace(build_dir / so.name, so)
    if keep_header and arch:
        shutil.copyfile(build_dir / "vmlinux.h", HERE / f"vmlinux_{arch}.h")
    shutil.rmtree(build_dir, ignore_errors=True)
    return obj, so


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        obj, so = build(keep_header="--save-header" in args)
    except BuildError as e:
        print(f"lanner ebpf build: {e}", file=sys.stderr)
        return 1
    print(f"built {obj} and {so}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
