"""Build the eBPF probe object and the ring-drain helper shipped in this package directory.

Run as ``python -m lanner.sources.ebpf.build`` (``--if-changed``: only when the inputs changed). Steps:
``vmlinux.h`` from the running kernel's BTF (``bpftool btf dump``), falling back to a committed copy
``vmlinux_<arch>.h`` when ``/sys/kernel/btf/vmlinux`` is absent; ``clang -target bpf`` compiles
``probe.bpf.c`` into ``probe.bpf.o``; ``cc -shared`` compiles ``drain.c`` into ``_drain.so``. A missing
tool is named with the Debian package that provides it.

A built object must match its source: the build records, beside the objects, a hash of the project's
inputs (``probe.bpf.c``, ``drain.c``, the committed ``vmlinux_<arch>.h``, the compiler flags).
:func:`stale` compares it with the inputs as they are now, and :func:`ensure_built` rebuilds when they
differ, so an edited probe is never run from an old object. The host's libbpf headers and kernel BTF
are left out on purpose: the object is CO-RE (relocated at load for the running kernel), so a host with
another kernel, or without the build headers, runs it as it is.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
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


BPF_HEADERS = Path("/usr/include/bpf")
OBJ_NAME, SO_NAME, HASH_NAME = "probe.bpf.o", "_drain.so", "probe.bpf.hash"
CLANG_FLAGS = ("-O2", "-g", "-target", "bpf", "-Wno-incompatible-pointer-types-discards-qualifiers")
CC_FLAGS = ("-O2", "-shared", "-fPIC")


def _arch() -> str:
    machine = platform.machine()
    arch = ARCHES.get(machine)
    if arch is None:
        raise BuildError(f"unsupported architecture {machine} (supported: {', '.join(ARCHES)})")
    return arch


def input_hash(arch: str | None = None) -> str:
    """sha256 over the project inputs the objects are built from: sources, committed header, flags."""
    arch = arch or _arch()
    h = hashlib.sha256()

    def part(label: str, data: bytes) -> None:
        h.update(f"{label}\0{len(data)}\0".encode())
        h.update(data)

    part("flags", " ".join(CLANG_FLAGS + (f"-D__TARGET_ARCH_{arch}",) + CC_FLAGS).encode())
    for name in ("probe.bpf.c", "drain.c", f"vmlinux_{arch}.h"):
        f = HERE / name
        part(name, f.read_bytes() if f.exists() else b"")
    return h.hexdigest()


def stale(out_dir: Path = HERE) -> str | None:
    """Why the objects in ``out_dir`` must be rebuilt (missing, no recorded hash, inputs changed), or
    None when they match their inputs."""
    for name in (OBJ_NAME, SO_NAME):
        if not (out_dir / name).exists():
            return f"{name} is missing"
    rec = out_dir / HASH_NAME
    if not rec.exists():
        return f"{OBJ_NAME} has no recorded input hash ({HASH_NAME})"
    try:
        now = input_hash()
    except (BuildError, OSError) as e:
        return f"its inputs cannot be read ({e})"
    if rec.read_text().strip() != now:
        return "its sources, header or build flags changed since it was built"
    return None


def ensure_built(out_dir: Path = HERE) -> str | None:
    """Build when :func:`stale` says so; returns the reason it rebuilt, None when it was up to date."""
    why = stale(out_dir)
    if why is not None:
        build(out_dir)
    return why


def build(out_dir: Path = HERE, keep_header: bool = False) -> tuple[Path, Path]:
    arch = _arch()
    if not (BPF_HEADERS / "bpf_helpers.h").exists():
        raise BuildError(f"{BPF_HEADERS / 'bpf_helpers.h'} missing: install the Debian package 'libbpf-dev'")
    clang = _tool("clang")
    cc = shutil.which("cc") or _tool("cc")
    out_dir.mkdir(parents=True, exist_ok=True)
    digest = input_hash(arch)
    # a private directory: agents starting together may rebuild at the same time
    build_dir = Path(tempfile.mkdtemp(prefix="_build", dir=out_dir))
    vmlinux_header(build_dir, arch)
    obj = out_dir / OBJ_NAME
    # build next to the target and rename: a failed build leaves the previous object in place
    _run([clang, *CLANG_FLAGS, f"-D__TARGET_ARCH_{arch}", "-I", str(build_dir),
          "-c", str(HERE / "probe.bpf.c"), "-o", str(build_dir / obj.name)], "clang (probe.bpf.c)")
    so = out_dir / SO_NAME
    _run([cc, *CC_FLAGS, "-o", str(build_dir / so.name), str(HERE / "drain.c")], "cc (drain.c)")
    (build_dir / HASH_NAME).write_text(digest + "\n")
    os.replace(build_dir / obj.name, obj)
    os.replace(build_dir / so.name, so)
    os.replace(build_dir / HASH_NAME, out_dir / HASH_NAME)
    if keep_header and arch:
        shutil.copyfile(build_dir / "vmlinux.h", HERE / f"vmlinux_{arch}.h")
    shutil.rmtree(build_dir, ignore_errors=True)
    return obj, so


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        if "--if-changed" in args:
            why = stale()
            if why is None:
                print(f"{HERE / OBJ_NAME} is up to date")
                return 0
            print(f"rebuilding: {why}")
        obj, so = build(keep_header="--save-header" in args)
    except (BuildError, OSError) as e:
        print(f"lanner ebpf build: {e}", file=sys.stderr)
        return 1
    print(f"built {obj} and {so}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
