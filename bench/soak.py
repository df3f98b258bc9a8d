"""Soak: lanner live for a long time with the upstream rules under a mixed workload and periodic bursts.

What it runs: the real ``lanner`` command (live capture, modern eBPF probe, ../shared/upstream/rules/
falco_rules.yaml, JSON alerts to a file, webserver with Prometheus metrics on 127.0.0.1). Workload, in
this process: every second a shell runs ``ls``/``cat /etc/hostname``/``true``, opens a few files and
reads /etc/shadow with ``cat`` (one alert of "Read sensitive file untrusted" each); every ``--burst-every``
minutes a ``--burst-seconds`` burst of 200 shadow reads and a tight open/close loop in Python.

Reported every minute: lanner's RSS (from /proc/<pid>/status), alerts written so far and in the last
minute, shadow reads done (the alerts owed), kernel drops (``falcosecurity_scap_n_drops_total``) and
output-queue drops (``outputs_queue_num_drops``), events seen. At the end: the RSS slope per hour (least
squares over the minutes after the first two), total drops and alerts, alerts missing vs owed.
Run as root: ``.venv/bin/python bench/soak.py --minutes 60``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RULES = os.path.join(os.path.dirname(ROOT), "shared", "upstream", "rules", "falco_rules.yaml")
LANNER = os.path.join(ROOT, ".venv", "bin", "lanner")
SHADOW_RULE = "Read sensitive file untrusted"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def scrape(port: int) -> dict[str, float]:
    """A few counters from /metrics (sums over labels)."""
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:]+)(\{[^}]*\})?\s+(\S+)", line)
        if not m:
            continue
        out[m.group(1)] = out.get(m.group(1), 0.0) + float(m.group(3))
    return out


def count_alerts(path: str) -> tuple[int, int]:
    total = shadow = 0
    try:
        with open(path, "rb") as f:
            for line in f:
                total += 1
                if SHADOW_RULE.encode() in line:
                    shadow += 1
    except OSError:
        pass
    return total, shadow


def shadow_read() -> None:
    subprocess.run(["cat", "/etc/shadow"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def tick_workload() -> int:
    """One second's mixed work; returns the shadow reads done."""
    subprocess.run(["sh", "-c", "ls / >/dev/null; cat /etc/hostname >/dev/null; true; "
                                "head -c 100 /etc/passwd >/dev/null"], check=False)
    for p in ("/etc/hostname", "/etc/os-release", "/proc/self/status"):
        try:
            with open(p, "rb") as f:
                f.read(64)
        except OSError:
            pass
    shadow_read()
    return 1


def burst(seconds: float) -> int:
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end and n < 200:
        shadow_read()
        n += 1
    while time.monotonic() < end:
        for _ in range(2000):
            fd = os.open("/etc/hostname", os.O_RDONLY)
            os.close(fd)
    return n


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    den = sum((t - mx) ** 2 for t, _ in points)
    if den == 0:
        return 0.0
    return sum((t - mx) * (v - my) for t, v in points) / den * 3600.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--burst-every", type=float, default=5.0, help="minutes between bursts")
    ap.add_argument("--burst-seconds", type=float, default=10.0)
    ap.add_argument("--lanner", default=LANNER, help="the lanner command (default: the project's venv)")
    ap.add_argument("--rules", default=RULES)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("soak: live capture needs root (or the capabilities in README)", file=sys.stderr)
        return 2
    if not os.path.exists(args.rules):
        print(f"soak: upstream rules not found at {args.rules}", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="lanner-soak-")
    alerts_path = os.path.join(tmp, "alerts.json")
    port = free_port()
    cmd = [args.lanner, "-r", args.rules, "-o", "json_output=true", "-o", "stdout_output.enabled=false",
           "-o", "file_output.enabled=true", "-o", f"file_output.filename={alerts_path}",
           "-o", "file_output.keep_alive=true", "-o", "webserver.enabled=true",
           "-o", "webserver.listen_address=127.0.0.1", "-o", f"webserver.listen_port={port}",
           "-o", "webserver.prometheus_metrics_enabled=true", "-o", "metrics.enabled=true",
           "-o", "metrics.interval=1m", "-o", "metrics.output_rule=false"]
    log_path = os.path.join(tmp, "lanner.log")
    with open(log_path, "wb") as logf:
        proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
    print(f"soak: lanner pid {proc.pid}, rules {args.rules}, alerts {alerts_path}, log {log_path}", flush=True)
    print(f"soak: {args.minutes:g} min, burst of {args.burst_seconds:g} s every {args.burst_every:g} min; "
          "RSS from /proc/<pid>/status, drops and events from /metrics, alerts from the JSON file", flush=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not scrape(port).get("falcosecurity_scap_n_evts_total"):
        if proc.poll() is not None:
            print(f"soak: lanner exited with {proc.returncode}; see {log_path}", file=sys.stderr)
            return 1
        time.sleep(0.5)
    t0 = time.monotonic()
    owed = 0
    last_alerts = 0
    rss_points: list[tuple[float, float]] = []
    minute = 0
    next_report = t0 + 60
    next_burst = t0 + args.burst_every * 60
    end = t0 + args.minutes * 60
    rows = []
    try:
        while time.monotonic() < end:
            if proc.poll() is not None:
                print(f"soak: lanner exited early with {proc.returncode}; see {log_path}", flush=True)
                break
            start = time.monotonic()
            if start >= next_burst:
                owed += burst(args.burst_seconds)
                next_burst += args.burst_every * 60
            else:
                owed += tick_workload()
            if time.monotonic() >= next_report:
                minute += 1
                next_report += 60
                time.sleep(0.5)            # let the last alerts reach the file
                m = scrape(port)
                total, shadow = count_alerts(alerts_path)
                rss = rss_kib(proc.pid) / 1024.0
                if minute > 2:
                    rss_points.append((time.monotonic() - t0, rss))
                row = {"minute": minute, "rss_mib": round(rss, 1), "alerts": total, "alerts_last_min": total - last_alerts,
                       "shadow_alerts": shadow, "shadow_reads": owed,
                       "kernel_drops": int(m.get("falcosecurity_scap_n_drops_total", 0)),
                       "queue_drops": int(m.get("falcosecurity_falco_outputs_queue_num_drops_total", 0)),
                       "events": int(m.get("falcosecurity_scap_n_evts_total", 0))}
                rows.append(row)
                last_alerts = total
                print("soak: " + json.dumps(row), flush=True)
            spent = time.monotonic() - start
            if spent < 1.0:
                time.sleep(1.0 - spent)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    total, shadow = count_alerts(alerts_path)
    last = rows[-1] if rows else {}
    summary = {"minutes": minute, "rss_start_mib": rows[0]["rss_mib"] if rows else 0,
               "rss_end_mib": last.get("rss_mib", 0), "rss_slope_mib_per_hour": round(slope_per_hour(rss_points), 2),
               "alerts": total, "shadow_alerts": shadow, "shadow_reads": owed,
               "shadow_alerts_missing": owed - shadow, "kernel_drops": last.get("kernel_drops", 0),
               "queue_drops": last.get("queue_drops", 0), "events": last.get("events", 0),
               "lanner_exit": proc.returncode}
    print("soak summary: " + json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
