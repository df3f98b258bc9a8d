"""Graceful overload (root, real probe): with the consumer stalled and a 2 MB ring, a flood of
state-only events (chdir, which no rule reads) with a few rule events among them. The kernel side
never waits (the workload ends while nothing is consumed), the state-only events are shed above the
ring watermark so every rule event still arrives and alerts, every drop is counted by kind and family,
Falco's drop alert is raised with the per-category fields, and the agent's memory stays bounded."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from lanner.run.drops import DROP_RULE
from tests.conftest import require_root
from tests.sources.ebpf.livehelp import LiveRunner

# failed opens only: the probe keeps relative paths of the rule's classes unresolved, and the other
# processes' successful relative opens must not compete with the markers for the ring's last quarter
RULES = """
- rule: overload marker
  desc: t
  condition: evt.type in (open, openat) and evt.failed = true and fd.name startswith /etc/lanner-overload-
  output: "marker %fd.name"
  priority: WARNING
"""

N_RULE = 1000
WORKLOAD = r"""
import os, sys
n = int(sys.argv[1])
for i in range(n):
    for _ in range(200):
        os.chdir("/")
    try:
        os.open("/etc/lanner-overload-%d" % i, os.O_RDONLY)
    except OSError:
        pass
"""


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_overload_sheds_state_only_events_first_and_counts_every_drop():
    require_root()
    cfg = {"engine": {"modern_ebpf": {"buf_size_preset": 2}},
           "syscall_event_drops": {"actions": ["alert"], "threshold": 0.1}}
    live = LiveRunner(RULES, cfg).start()
    src = live.live_source
    gate = threading.Event()
    gate.set()
    orig = src.next_batch              # what the live loop takes its events from

    def stalled_next_batch():
        gate.wait()
        return orig()

    src.next_batch = stalled_next_batch
    try:
        time.sleep(1.5)                 # the drop monitor takes its first reading
        before = src.counters()
        rss0 = _rss_kb()
        gate.clear()                    # the consumer stalls from its next poll on
        time.sleep(0.3)
        p = subprocess.Popen([sys.executable, "-c", WORKLOAD, str(N_RULE)])
        assert p.wait(120) == 0         # the kernel side never waited for the stalled consumer
        mid = src.counters()
        gate.set()
        want = {f"/etc/lanner-overload-{i}" for i in range(N_RULE)}

        def got():
            return {a.output_fields["fd.name"] for a in list(live.alerts) if a.rule == "overload marker"}

        end = time.monotonic() + 60
        while got() != want and time.monotonic() < end:
            time.sleep(0.05)
        assert got() == want            # every rule event survived the overload
        d = {k: mid[k] - before[k] for k in mid}
        assert d["drops_state"] >= 10000, d            # 200k chdirs do not fit a 2 MB ring
        assert d["kernel_shed"] > 0 and d["kernel_dropped_file"] > 0, d
        assert d["drops_rule"] == 0, d
        end = time.monotonic() + 30
        msgs = []
        while not msgs and time.monotonic() < end:
            msgs = [m for m in live.pipeline.messages if m[0] == DROP_RULE]
            time.sleep(0.1)
        assert msgs, "no drop alert"
        fields = msgs[0][3]
        assert int(fields["n_drops"]) > 0 and int(fields["n_drops_buffer_dir_file_exit"]) > 0
        assert int(fields["n_drops_buffer_open_exit"]) == 0
        # memory: the ring is the only buffer; a drained batch is at most a few MB of events
        assert _rss_kb() - rss0 < 64 * 1024
        assert live.stats.extra["drops_state"] >= d["drops_state"]
    finally:
        gate.set()
        live.close()
