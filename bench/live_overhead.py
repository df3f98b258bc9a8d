"""Live-capture overhead: workload slowdown with no agent, with lanner's probe+consumer (kernel
filtering on: state events + opens), and with kernel filtering disabled (every syscall emitted).

Workloads: (1) a C loop of N open+close pairs; (2) compiling M small C files with cc. The consumer runs
in its own process (ring drain + decode into SyscallEvent + parameter decoding); its CPU time is read
from /proc when it stops. Run as root: `.venv/bin/python bench/live_overhead.py [pairs] [files]`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOOP_C = r"""
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
int main(int c, char **v) { long n = atol(v[1]);
  for (long i = 0; i < n; i++) { int fd = open("/etc/hostname", O_RDONLY); close(fd); } return 0; }
"""
CONSUMER = r"""
import sys, time, os
sys.path.insert(0, {root!r})
from lanner.sources.ebpf.source import LiveSyscallSource
from lanner.sources.ebpf.filters import KernelFilter
kf = KernelFilter() if {unfiltered} else KernelFilter(events=frozenset())
s = LiveSyscallSource(kf, scan_proc=False).open()
print("ready", flush=True)
n = 0
stop = os.path.exists
while not stop({flag!r}):
    evs = s.poll()
    for e in evs:
        e.params
    n += len(evs)
    if not evs:
        time.sleep(0.01)
for e in s.poll():
    e.params
c = s.counters()
t = os.times()
print(c["events"], c["kernel_drops"], c["kernel_seen"], t.user + t.system, flush=True)
s.close()
"""


def run(cmd, cwd=None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def with_agent(mode: str, work) -> tuple[float, dict]:
    if mode == "none":
        return work(), {}
    flag = tempfile.mktemp(prefix="lanner_bench_stop")
    code = CONSUMER.format(root=ROOT, unfiltered=mode == "unfiltered", flag=flag)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    try:
        dt = work()
    finally:
        open(flag, "w").close()
    ev, drops, seen, cpu = p.stdout.readline().split()
    p.wait()
    os.unlink(flag)
    return dt, {"events": int(ev), "drops": int(drops), "seen": int(seen), "cpu": float(cpu)}


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("run as root")
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    files = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    d = tempfile.mkdtemp(prefix="lanner_bench")
    with open(f"{d}/loop.c", "w") as f:
        f.write(LOOP_C)
    subprocess.run(["cc", "-O2", "-o", f"{d}/loop", f"{d}/loop.c"], check=True)
    for i in range(files):
        with open(f"{d}/f{i}.c", "w") as f:
            f.write(f"#include <stdio.h>\nint f{i}(int x) {{ return printf(\"%d\", x * {i}); }}\n")
    workloads = {
        "open/close loop": lambda: run([f"{d}/loop", str(pairs)]),
        f"compile {files} C files": lambda: run(["sh", "-c", f"for i in $(seq 0 {files - 1}); do cc -O1 -c f$i.c; done"], cwd=d),
    }
    print(f"# {pairs} open+close pairs; {files} C files; median of 3 interleaved rounds")
    for name, work in workloads.items():
        res: dict[str, list] = {"none": [], "filtered": [], "unfiltered": []}
        for _ in range(3):
            for mode in res:
                res[mode].append(with_agent(mode, work))
        base = sorted(r[0] for r in res["none"])[1]
        print(f"\n{name}: no agent {base:.3f}s")
        for mode in ("filtered", "unfiltered"):
            runs = sorted(res[mode], key=lambda r: r[0])
            dt, st = runs[1]
            per_m = st["cpu"] / max(st["seen"], 1) * 1e6
            print(f"  lanner {mode:10s}: {dt:.3f}s ({dt / base:.2f}x)  consumer CPU {st['cpu']:.2f}s  "
                  f"events {st['events']}  kernel drops {st['drops']}  syscalls seen {st['seen']}  "
                  f"CPU per 1M workload syscalls {per_m:.2f}s  delivered rate {st['events'] / dt:,.0f} ev/s")


if __name__ == "__main__":
    main()
