"""Live-capture overhead of lanner and, with ``--falco PATH``, of real Falco measured alike.

Without ``--falco`` the Falco figures printed are references, not measurements: the bar Falco 0.44.1
(modern eBPF, stable rules) set on this kind of machine in issue 4, labelled as such.

Modes: no agent; lanner (probe + state engine + the real rules engine with the upstream stable rules,
kernel filter and open push-down derived from them), once per syscall hook named by ``--attach``
(``engine.modern_ebpf.attach``: auto, tp_btf, tracepoint; comma-separated, default auto); lanner with
kernel filtering disabled (every syscall emitted). The agent runs in its own process (``run_live`` with the real Engine/StateEngine)
and reports its CPU time, peak RSS and the probe counters when told to stop.

Workloads: open/close loop (C, N pairs of /etc/hostname), getppid loop (C, no rule needs it: the
pure hook cost), shell loop (``true; ls; cat`` K times), compiling M small C files with cc.
Figures: median wall time of R rounds and its ratio to no agent; each workload runs once unmeasured
first (warm caches), then every round runs the modes in a rotated order (round r starts with mode r), so
no mode always runs first. Agent CPU seconds per million syscalls run through the probe (its ``seen`` counter: every syscall with the global tp_btf
hook, only the attached ones with per-syscall tracepoints); agent peak RSS; alert latency (``cat
/etc/shadow`` started -> alert in the agent); highest open rate of a rule-matched file sustained with
zero drops. ``--falco PATH`` (e.g. ../shared/falco/falco-ref) adds a mode running that Falco live with
the same rules: wall time, its CPU seconds per million events it counted, peak RSS and drops (from its
/metrics). Run as root: ``.venv/bin/python bench/live_overhead.py [--quick] [--rounds=N] [--only=open]
[--attach=tp_btf,tracepoint] [--falco=PATH]``.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

from agentstats import cpu_s as _cpu_s  # bench/ is on sys.path when run as a script
from agentstats import metrics as _metrics
from agentstats import peak_rss_mb as _peak_rss_mb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = os.path.join(os.path.dirname(ROOT), "shared", "upstream", "rules", "falco_rules.yaml")
# Reference figures, not measured by this script: Falco 0.44.1's slowdowns on this machine kind (issue 4).
FALCO_REFERENCE = {"open/close loop": 1.88, "getppid loop": 1.64, "shell loop": 1.20, "compile C files": 1.14}
FALCO_REFERENCE_RSS_MB = 69
FALCO_REFERENCE_SOURCE = "Falco 0.44.1 reference figures from issue 4 (not measured in this run)"

PROGS = {
    "openloop": r"""
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
int main(int c, char **v) { long n = atol(v[1]);
  for (long i = 0; i < n; i++) { int fd = open("/etc/hostname", O_RDONLY); close(fd); } return 0; }
""",
    "ppidloop": r"""
#include <unistd.h>
#include <stdlib.h>
int main(int c, char **v) { long n = atol(v[1]); for (long i = 0; i < n; i++) getppid(); return 0; }
""",
    # paced open+close pairs: argv = total pairs, pairs per second, path, "r" or "w"
    "rateopen": r"""
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int c, char **v) { long n = atol(v[1]); double rate = atof(v[2]); double t0 = now();
  int fl = v[4][0] == 'w' ? O_WRONLY | O_CREAT : O_RDONLY;
  for (long i = 0; i < n; i++) {
    if ((i & 63) == 0) { double due = t0 + i / rate; while (now() < due) ; }
    int fd = open(v[3], fl, 0600); close(fd); }
  return 0; }
""",
}

AGENT = r"""
import os, sys, threading, time, resource, json
sys.path.insert(0, {root!r})
from lanner.config import Config
from lanner.engine import Engine
from lanner.fields import registry as reg, container, k8s
from lanner.fields.syscall_classes import syscall_field_classes, generic_field_classes
from lanner.state.engine import StateEngine, proc_alive
from lanner.run.runner import LoopStats
from lanner.run.live import run_live

st = StateEngine(alive=proc_alive)
r = reg.FieldRegistry()
for c in generic_field_classes() + syscall_field_classes(st) + [container.field_class(), k8s.field_class()]:
    r.add(c)
config = Config({cfg!r})
eng = Engine(config, registry=r)
assert eng.load_rules_files([{rules!r}])
eng.state = st
class Runner: pass
run = Runner(); run.config = config; run.engine = eng; run.stop = threading.Event(); run.duration_ns = None
run.pipeline = None
latency = []
def on_alert(a):
    if a.rule == "Read sensitive file untrusted" and "proc.cmdline" in a.output_fields:
        latency.append((time.time_ns(), a.output_fields.get("proc.cmdline")))
eng.on_alert = on_alert
stats = LoopStats("syscall")
th = threading.Thread(target=run_live, args=(run, stats)); th.start()
while not getattr(run, "live_source", None):
    time.sleep(0.05)
hook = run.live_source.probe.mode
time.sleep(0.5)
t0 = os.times()
print("ready", flush=True)
sys.stdin.readline()
run.stop.set(); th.join()
t1 = os.times()
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"cpu": t1.user + t1.system - t0.user - t0.system, "rss_mb": rss, "events": stats.events,
                  "extra": stats.extra, "alerts": latency, "hook": hook}}), flush=True)
"""


def sh(cmd, cwd=None) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


class Agent:
    def __init__(self, mode: str) -> None:
        ebpf = {"kernel_filter": mode != "unfiltered"}
        if mode in ("auto", "tp_btf", "tracepoint"):
            ebpf["attach"] = mode
        cfg = {"engine": {"kind": "modern_ebpf", "modern_ebpf": ebpf}}
        code = AGENT.format(root=ROOT, cfg=cfg, rules=RULES)
        self.p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        line = self.p.stdout.readline().strip()
        if line != "ready":
            raise SystemExit(f"agent failed to start ({mode}): {line!r}")

    def stop(self) -> dict:
        self.p.stdin.write("\n")
        self.p.stdin.flush()
        out = json.loads(self.p.stdout.readline())
        self.p.wait()
        return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]





class FalcoAgent:
    """Real Falco, live, with the same rules; its counters come from its /metrics endpoint."""

    def __init__(self, path: str) -> None:
        for attempt in range(3):       # a busy machine sometimes makes the kernel refuse the BPF load (EAGAIN)
            try:
                self._start(path)
                return
            except RuntimeError as e:
                why = e
                time.sleep(1 + attempt)
        raise SystemExit(f"falco did not start ({path}): {why}")

    def _start(self, path: str) -> None:
        self.port = _free_port()
        self.p = subprocess.Popen(
            [path, "-r", RULES, "-o", "json_output=true", "-o", "metrics.enabled=true", "-o", "metrics.interval=1s",
             "-o", "webserver.enabled=true", "-o", "webserver.prometheus_metrics_enabled=true",
             "-o", f"webserver.listen_port={self.port}", "-o", "webserver.listen_address=127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while True:
            try:
                self.m0 = _metrics(self.port)
                break
            except OSError:
                if self.p.poll() is not None or time.monotonic() > deadline:
                    if self.p.poll() is None:
                        self.p.kill()
                    raise RuntimeError(f"exit {self.p.wait()}") from None
                time.sleep(0.25)
        time.sleep(0.5)
        self.m0, self.c0 = _metrics(self.port), _cpu_s(self.p.pid)

    def stop(self) -> dict:
        m1, c1, rss = _metrics(self.port), _cpu_s(self.p.pid), _peak_rss_mb(self.p.pid)
        self.p.terminate()
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()

        def delta(k: str) -> float:
            return m1.get(k, 0) - self.m0.get(k, 0)
        evts = delta("falcosecurity_scap_n_evts_total")
        return {"cpu": c1 - self.c0, "rss_mb": rss, "events": int(evts), "hook": "falco",
                "extra": {"kernel_seen": int(evts), "kernel_drops": int(delta("falcosecurity_scap_n_drops_total"))}}


FALCO_PATH = ""


def measure(mode: str, work) -> tuple[float, dict]:
    if mode == "none":
        return work(), {}
    a = FalcoAgent(FALCO_PATH) if mode == "falco" else Agent(mode)
    try:
        dt = work()
        time.sleep(0.1)
    finally:
        st = a.stop()
    return dt, st


def latency_probe(mode: str) -> float | None:
    a = Agent(mode)
    tag = f"/etc/shadow lanner-latency-{os.getpid()}"
    t0 = time.time_ns()
    subprocess.run(["cat", *tag.split()], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    st = a.stop()
    hits = [t for t, cmd in st["alerts"] if cmd and tag.split()[1] in cmd]
    return (hits[0] - t0) / 1e9 if hits else None


def max_rate(d: str, quick: bool, path: str, mode: str, attach: str) -> tuple[int, list[str]]:
    """Highest offered rate (open+close events per second, 3 s per step) with zero drops."""
    best, lines = 0, []
    steps = [20_000, 40_000, 80_000] if quick else [10_000, 20_000, 30_000, 40_000, 60_000, 80_000, 120_000]
    for rate in steps:
        secs = 3
        a = Agent(attach)
        sh([f"{d}/rateopen", str(rate * secs), str(rate), path, mode])
        time.sleep(0.5)
        st = a.stop()
        ex = st["extra"]
        drops = ex.get("kernel_drops", 0) + ex.get("userspace_drops", 0)
        lines.append(f"  {2 * rate:>8,} ev/s offered: delivered {st['events']:,}, drops {drops}")
        if drops:
            break
        best = 2 * rate
    return best, lines


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("run as root")
    quick = "--quick" in sys.argv
    pairs, ppids, shells, files, rounds = ((100_000, 1_000_000, 100, 20, 1) if quick else
                                           (300_000, 3_000_000, 1000, 40, 3))
    rounds = next((int(a.split("=", 1)[1]) for a in sys.argv[1:] if a.startswith("--rounds=")), rounds)
    d = tempfile.mkdtemp(prefix="lanner_bench")
    for name, src in PROGS.items():
        with open(f"{d}/{name}.c", "w") as f:
            f.write(src)
        subprocess.run(["cc", "-O2", "-o", f"{d}/{name}", f"{d}/{name}.c"], check=True)
    for i in range(files):
        with open(f"{d}/f{i}.c", "w") as f:
            f.write(f"#include <stdio.h>\n#include <string.h>\nint f{i}(int x) {{ return printf(\"%d\", x * {i}); }}\n")
    workloads = {
        "open/close loop": lambda: sh([f"{d}/openloop", str(pairs)]),
        "getppid loop": lambda: sh([f"{d}/ppidloop", str(ppids)]),
        "shell loop": lambda: sh(["sh", "-c", f"for i in $(seq {shells}); do true; ls / >/dev/null; "
                                              "cat /etc/hostname >/dev/null; done"]),
        "compile C files": lambda: sh(["sh", "-c", f"for i in $(seq 0 {files - 1}); do cc -O1 -c f$i.c; done"],
                                      cwd=d),
    }
    print(f"# lanner live overhead, {time.strftime('%Y-%m-%d %H:%M')}, kernel {os.uname().release}, "
          f"{os.cpu_count()} CPUs; rules {RULES}")
    print(f"# {pairs} open+close pairs, {ppids} getppid, {shells} x (true; ls; cat), {files} C files; "
          f"median of {rounds} interleaved round(s)")
    only = [a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--only=")]
    attaches = next((a.split("=", 1)[1].split(",") for a in sys.argv[1:] if a.startswith("--attach=")), ["auto"])
    if any(m not in ("auto", "tp_btf", "tracepoint") for m in attaches):
        sys.exit("--attach takes auto, tp_btf, tracepoint (comma-separated)")
    global FALCO_PATH
    FALCO_PATH = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--falco=")), "")
    if FALCO_PATH and not os.access(FALCO_PATH, os.X_OK):
        sys.exit(f"--falco: {FALCO_PATH} is not an executable")
    modes = ["none", *attaches, "unfiltered", *(["falco"] if FALCO_PATH else [])]
    if only:
        workloads = {k: v for k, v in workloads.items() if any(o in k for o in only)}
    table = []
    for name, work in workloads.items():
        work()                                      # warm-up, not measured
        res: dict[str, list] = {m: [] for m in modes}
        orders = []
        for r in range(rounds):
            order = modes[r % len(modes):] + modes[:r % len(modes)]
            orders.append(",".join(order))
            for mode in order:
                res[mode].append(measure(mode, work))
        base = sorted(r[0] for r in res["none"])[len(res["none"]) // 2]
        print(f"\n{name}: no agent {base:.3f}s  (round orders: {' / '.join(orders)})")
        row = [name, base]
        for mode in modes[1:]:
            runs = sorted(res[mode], key=lambda r: r[0])
            dt, st = runs[len(runs) // 2]
            ex = st["extra"]
            seen = max(ex.get("kernel_seen", 0), 1)
            drops = ex.get("kernel_drops", 0) + ex.get("userspace_drops", 0)
            label = f"{mode} [{st.get('hook')}]"
            who, per = ("falco ", "events counted") if mode == "falco" else ("lanner", "syscalls")
            print(f"  {who} {label:24s}: {dt:.3f}s ({dt / base:.2f}x)  agent CPU {st['cpu']:.2f}s = "
                  f"{st['cpu'] / seen * 1e6:.2f}s per 1M {per}  events {st['events']:,}  "
                  f"kernel-filtered {ex.get('kernel_filtered', 0):,}  drops {drops:,}  "
                  f"syscalls seen {seen:,}  RSS {st['rss_mb']:.0f} MB")
            row += [dt / base, st["cpu"] / seen * 1e6, drops, st["rss_mb"]]
        table.append(row)
    lat = latency_probe(attaches[0])
    rate, lines = (0, []) if only else max_rate(d, quick, "/etc/shadow", "r", attaches[0])
    print("\nhighest rate with zero drops, every open raising an alert (paced opens of /etc/shadow):")
    print("\n".join(lines))
    rate2, lines = (0, []) if only else max_rate(d, quick, f"{d}/written.tmp", "w", attaches[0])
    print("\nhighest rate with zero drops, events kept for rules but no alert (paced write-opens in /tmp):")
    print("\n".join(lines))
    measured = [*attaches, "unfiltered", *(["falco"] if FALCO_PATH else [])]
    names = {"unfiltered": "lanner, no kernel filter", "falco": f"Falco measured ({FALCO_PATH})"}
    cols = " | ".join(names.get(m, f"lanner ({m})") for m in measured)
    pad = " |" * len(measured)
    print(f"\nMeasured in this run: {', '.join(names.get(m, 'lanner ' + m) for m in measured)}."
          f"\nReference column (not measured): {FALCO_REFERENCE_SOURCE}"
          + ("" if FALCO_PATH else "; give --falco=PATH to measure a Falco binary side by side"))
    print(f"\n| workload | {cols} | lanner CPU s / 1M probed syscalls | reference: Falco 0.44.1 (issue 4) |")
    print("|---|" + "---|" * (len(measured) + 2))
    for row in table:
        vals = " | ".join(f"{row[2 + 4 * i]:.2f}x" for i in range(len(measured)))
        print(f"| {row[0]} | {vals} | {row[3]:.2f} | {FALCO_REFERENCE[row[0]]:.2f}x |")
    rss = " | ".join(f"{max(r[5 + 4 * i] for r in table):.0f} MB" for i in range(len(measured))) if table else ""
    print(f"| agent peak RSS | {rss} | | {FALCO_REFERENCE_RSS_MB} MB |")
    print(f"| alert latency (lanner {attaches[0]}) | {lat:.3f} s{pad} | ~0.1 s |" if lat is not None
          else f"| alert latency (lanner {attaches[0]}) | no alert{pad} | ~0.1 s |")
    if not only:
        print(f"| max zero-drop rate, alert per open (lanner {attaches[0]}) | {rate:,} ev/s{pad} | |")
        print(f"| max zero-drop rate, no alerts (lanner {attaches[0]}) | {rate2:,} ev/s{pad} | |")


if __name__ == "__main__":
    main()
