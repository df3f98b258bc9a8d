"""Live capacity: how many events per second lanner (and, with ``--falco``, real Falco) keeps up with.

For each agent, rules set and event mix, one agent runs live (real probe, real rules, JSON alerts on a
pipe, Prometheus metrics on loopback) while a paced C generator produces the mix at rising rates, one
step of ``--step-s`` seconds per rate. Per step the bench reads the agent's own counters
(``falcosecurity_scap_n_evts_total``/``n_drops_total`` from /metrics) and its CPU time
(/proc/<pid>/stat), and times every alert from the event's timestamp to the moment its line reached
the bench. It stops a mix at the first step with drops, or when the generator cannot reach the rate.

Mixes: ``open`` (open/read/close of files under /etc, 1 in 100 of /etc/shadow, which the upstream
stable rules alert on), ``connect`` (connect/accept/close over loopback), ``exec`` (fork+exec of
/bin/true); ``--threads N`` splits the rate over N generator threads (and N acceptors). Printed per
step: target and achieved rate, agent events/s (counted over the generator's run), drops, agent CPU per
100k events, p50/p99 alert latency, the machine's 1-minute load average (others' work skews every
figure); per mix the highest rate with zero drops; the agent's peak RSS.

Run as root: ``.venv/bin/python bench/capacity.py [--rules stable,all] [--mixes open,connect,exec]
[--rates 25000,50000,100000,200000,400000] [--step-s 5] [--threads 1] [--falco ../shared/falco/falco-ref]``.
The upstream rules are read from ../shared/upstream/rules.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from agentstats import cpu_s, metrics, peak_rss_mb  # bench/ is on sys.path when run as a script

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UPSTREAM = os.path.join(os.path.dirname(ROOT), "shared", "upstream", "rules")
RULESETS = {"stable": ["falco_rules.yaml"],
            "all": ["falco_rules.yaml", "falco-incubating_rules.yaml", "falco-sandbox_rules.yaml"]}

GEN = r"""
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static int lfd, nthr = 1;
static const char *mix;
static double rate, secs, t0;
static long n, done[64];
static struct sockaddr_in sa;
static const char *files[] = {"/etc/hostname", "/etc/passwd", "/etc/group", "/etc/hosts", "/etc/os-release"};
static void *acceptor(void *a) { (void)a; for (;;) { int c = accept(lfd, NULL, NULL); if (c >= 0) close(c); } return NULL; }
static void one(long i, char *buf) {
  if (!strcmp(mix, "open")) {
    const char *f = (i % 100 == 0) ? "/etc/shadow" : files[i % 5];
    int fd = open(f, O_RDONLY); if (fd >= 0) { ssize_t r = read(fd, buf, 256); (void)r; close(fd); }
  } else if (!strcmp(mix, "connect")) {
    int s = socket(AF_INET, SOCK_STREAM, 0); connect(s, (struct sockaddr *)&sa, sizeof sa); close(s);
  } else {
    pid_t p = fork(); if (p == 0) { execl("/bin/true", "true", (char *)NULL); _exit(127); }
    waitpid(p, NULL, 0);
  }
}
/* one of nthr paced workers: its share of the rate and of the count */
static void *worker(void *a) {
  long k = (long)a, m = n / nthr, i; double r = rate / nthr; char buf[256];
  for (i = 0; i < m; i++) {
    if ((i & 15) == 0) {  /* ahead of the pace: sleep (a spinning generator starves the agent of CPU) */
      double due = t0 + i / r, t = now();
      if (due - t > 2e-4) { struct timespec ts = {0, (long)((due - t) * 1e9)}; nanosleep(&ts, NULL); }
      while (now() < due) ;
      if (now() - t0 > secs * 1.5) break;
    }
    one(i * nthr + k, buf);
  }
  done[k] = i;
  return NULL;
}
int main(int argc, char **argv) {
  mix = argv[1]; rate = atof(argv[2]); secs = atof(argv[3]); n = (long)(rate * secs);
  if (argc > 4) nthr = atoi(argv[4]);
  if (nthr < 1 || nthr > 64) return 2;
  memset(&sa, 0, sizeof sa); sa.sin_family = AF_INET; sa.sin_addr.s_addr = htonl(0x7f000001);
  if (!strcmp(mix, "connect")) {
    lfd = socket(AF_INET, SOCK_STREAM, 0); int one_ = 1; setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one_, sizeof one_);
    bind(lfd, (struct sockaddr *)&sa, sizeof sa); socklen_t l = sizeof sa; getsockname(lfd, (struct sockaddr *)&sa, &l);
    listen(lfd, 4096);
    for (int k = 0; k < nthr; k++) { pthread_t t; pthread_create(&t, NULL, acceptor, NULL); }
  }
  pthread_t th[64];
  t0 = now();
  for (long k = 1; k < nthr; k++) pthread_create(&th[k], NULL, worker, (void *)k);
  worker((void *)0);
  long total = done[0];
  for (long k = 1; k < nthr; k++) { pthread_join(th[k], NULL); total += done[k]; }
  printf("%ld %.6f\n", total, now() - t0);
  return 0;
}
"""


def build_generator(tmp: str) -> str:
    src, exe = os.path.join(tmp, "capgen.c"), os.path.join(tmp, "capgen")
    with open(src, "w") as f:
        f.write(GEN)
    subprocess.run(["gcc", "-O2", "-pthread", "-o", exe, src], check=True)
    return exe


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port





class Agent:
    """An agent process (lanner or Falco) with metrics on a loopback port and JSON alerts on a pipe."""

    def __init__(self, cmd: list[str], rules: list[str], port: int) -> None:
        args = [*cmd]
        for r in rules:
            args += ["-r", r]
        args += ["-o", "json_output=true", "-o", "metrics.enabled=true", "-o", "metrics.interval=1s",
                 "-o", "webserver.enabled=true", "-o", "webserver.prometheus_metrics_enabled=true",
                 "-o", f"webserver.listen_port={port}", "-o", "webserver.listen_address=127.0.0.1",
                 "-o", "buffered_outputs=false"]
        self.port = port
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.lat: list[tuple[float, float]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        # ready once it counts driver events: /metrics is served before the probe is loaded and /proc read
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if metrics(port).get("falcosecurity_scap_n_evts_total", 0) > 0:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited with {self.proc.returncode}: {' '.join(args)}")
            time.sleep(0.5)
        raise RuntimeError("agent did not count driver events on /metrics within 120 s")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            got = time.time()
            if not line.startswith("{"):
                continue
            try:
                t = json.loads(line)["time"]
                ts = dt.datetime.fromisoformat(t[:26].rstrip("Z") + "+00:00").timestamp()
            except (ValueError, KeyError):
                continue
            with self.lock:
                self.lat.append((got, got - ts))

    def latencies(self, since: float) -> list[float]:
        with self.lock:
            return sorted(v for t, v in self.lat if t >= since)

    def stop(self) -> float:
        rss = peak_rss_mb(self.proc.pid)
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return rss


def start_agent(cmd: list[str], rules: list[str]) -> Agent | None:
    """An agent, retried: on a busy machine the kernel sometimes refuses a BPF load (EAGAIN)."""
    for attempt in range(3):
        try:
            return Agent(cmd, rules, free_port())
        except RuntimeError as e:
            print(f"  agent start failed (attempt {attempt + 1}/3): {e}", flush=True)
            time.sleep(2 + 2 * attempt)
    return None


def pct(vals: list[float], p: float) -> str:
    if not vals:
        return "-"
    return f"{vals[min(len(vals) - 1, int(p * len(vals)))] * 1000:.0f} ms"


def run_mix(agent: Agent, gen: str, mix: str, rates: list[int], step_s: float,
            threads: int = 1) -> tuple[int, list[str]]:
    best, rows = 0, []
    for rate in rates:
        m0, c0, t0 = metrics(agent.port), cpu_s(agent.proc.pid), time.time()
        out = subprocess.run([gen, mix, str(rate), str(step_s), str(threads)], capture_output=True, text=True,
                             check=True)
        done, secs = out.stdout.split()
        achieved = int(done) / float(secs)
        time.sleep(1.5)
        m1, c1 = metrics(agent.port), cpu_s(agent.proc.pid)
        evts = m1.get("falcosecurity_scap_n_evts_total", 0) - m0.get("falcosecurity_scap_n_evts_total", 0)
        drops = m1.get("falcosecurity_scap_n_drops_total", 0) - m0.get("falcosecurity_scap_n_drops_total", 0)
        cpu = c1 - c0
        lat = agent.latencies(t0)
        kinds = ""
        k_rule, k_state = 'falcosecurity_scap_n_drops_kind_total{kind="rule"}', 'falcosecurity_scap_n_drops_kind_total{kind="state"}'
        if k_rule in m1:   # lanner: drops of events a rule can match / of state-only events (shed first)
            kinds = f" (rule {int(m1[k_rule] - m0.get(k_rule, 0))}, state {int(m1[k_state] - m0.get(k_state, 0))})"
        per100k = f"{cpu / evts * 1e5:.3f} s" if evts else "-"
        rows.append(f"  {mix:<8} target {rate:>7}/s achieved {achieved:>9.0f}/s  agent events {evts / float(secs):>9.0f}/s  "
                    f"drops {int(drops):>8}{kinds}  CPU/100k ev {per100k:>8}  alerts {len(lat):>6}  "
                    f"p50 {pct(lat, .5):>7} p99 {pct(lat, .99):>7}  load {os.getloadavg()[0]:.1f}")
        print(rows[-1], flush=True)
        if drops > 0:
            break
        best = max(best, int(achieved))
        if achieved < 0.9 * rate:
            rows.append(f"  {mix}: generator limit reached at {achieved:.0f}/s (this machine cannot produce more)")
            print(rows[-1], flush=True)
            break
    return best, rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rules", default="stable,all", help="rule sets to run, comma separated: stable, all "
                    "(stable + incubating + sandbox)")
    ap.add_argument("--mixes", default="open,connect,exec")
    ap.add_argument("--rates", default="25000,50000,100000,200000,400000")
    ap.add_argument("--exec-rates", default="1000,2000,4000,8000,16000")
    ap.add_argument("--step-s", type=float, default=5.0)
    ap.add_argument("--threads", type=int, default=1, help="generator threads sharing the rate (one core cannot "
                    "make more than ~20k loopback connections/s here; 2 reach further on a 2-core machine)")
    ap.add_argument("--falco", help="path of a Falco binary or wrapper (e.g. ../shared/falco/falco-ref) to run alike")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("capacity: needs root (live probe)", file=sys.stderr)
        return 2
    sets = [x.strip() for x in a.rules.split(",") if x.strip()]
    bad = [x for x in sets if x not in RULESETS]
    if bad:
        print(f"capacity: unknown rule set {', '.join(bad)} (known: {', '.join(RULESETS)})", file=sys.stderr)
        return 2
    missing = [os.path.join(UPSTREAM, f) for x in sets for f in RULESETS[x]
               if not os.path.exists(os.path.join(UPSTREAM, f))]
    if missing:
        print(f"capacity: upstream rules not found: {', '.join(missing)}", file=sys.stderr)
        return 2
    lanner = os.path.join(ROOT, ".venv", "bin", "lanner")
    agents = [("lanner", [lanner if os.path.exists(lanner) else shutil.which("lanner") or "lanner"])]
    if a.falco:
        agents.append(("falco", [a.falco]))
    print(f"capacity: rules={','.join(sets)}, step {a.step_s:.0f} s per rate, {a.threads} generator thread(s), "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; "
          "counters from each agent's /metrics, CPU from /proc/<pid>/stat, latency = alert line received - event "
          "time")
    summary = []
    best_of: dict[tuple[str, str, str], int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        gen = build_generator(tmp)
        for rs in sets:
            rules = [os.path.join(UPSTREAM, f) for f in RULESETS[rs]]
            for name, cmd in agents:
                for mix in a.mixes.split(","):
                    agent = start_agent(cmd, rules)
                    if agent is None:
                        summary.append(f"  {rs:<7} {name:<7} {mix:<8} agent did not start (see above)")
                        continue
                    try:
                        time.sleep(2)
                        rates = [int(x) for x in (a.exec_rates if mix == "exec" else a.rates).split(",")]
                        print(f"{name} / {rs} / {mix}:", flush=True)
                        best, _ = run_mix(agent, gen, mix, rates, a.step_s, a.threads)
                    finally:
                        rss = agent.stop()
                    best_of[(rs, name, mix)] = best
                    ratio = ""
                    if name == "falco" and best_of.get((rs, "lanner", mix)) and best:
                        ratio = f"   lanner/falco {best_of[(rs, 'lanner', mix)] / best:.2f}x"
                    summary.append(f"  {rs:<7} {name:<7} {mix:<8} highest rate with zero drops {best:>9}/s   "
                                   f"peak RSS {rss:.0f} MB{ratio}")
    print("summary (a rate equal to the last one tried means no drop was reached):")
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
