"""What the live benches read off a running agent (lanner or Falco): its Prometheus counters on loopback,
its CPU seconds and its peak RSS from /proc. Shared by capacity.py and live_overhead.py."""

from __future__ import annotations

import os
import urllib.request


def metrics(port: int) -> dict[str, float]:
    """``/metrics`` of the agent on 127.0.0.1:``port`` as name (with labels) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, val = line.rsplit(" ", 1)
        try:
            out[name] = float(val)
        except ValueError:
            pass
    return out


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """Peak resident set (VmHWM) of ``pid`` in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0
