"""Audit events/s through the k8saudit webhook -> parse -> field extraction / rules -> JSON output.

Method: the ../shared/k8s_audit events (malformed file excluded) are sent as EventList batches of
BATCH events over keep-alive HTTP connections from CLIENTS client threads to the webhook on 127.0.0.1;
the consumer thread takes events from the source iterator, runs the upstream k8s_audit_rules.yaml
(when lanner.engine exists; else extracts every ka.* field the rules use) and renders each alert as
Falco JSON. Reported: events/s end to end (first POST to last event processed), and the stages alone
(HTTP ingest only; rules+output only, on pre-parsed events).

    .venv/bin/python bench/k8saudit_webhook.py [--events 20000] [--batch 50] [--clients 2]
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import threading
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lanner.config import Config  # noqa: E402
from lanner.fields import json as jf  # noqa: E402
from lanner.fields import k8saudit as ka  # noqa: E402
from lanner.fields.registry import FieldRegistry  # noqa: E402
from lanner.outputs.format import AlertFormatter  # noqa: E402
from lanner.sources.k8saudit import K8sAuditPlugin  # noqa: E402

SHARED = Path(os.environ.get("LANNER_SHARED", Path(__file__).resolve().parent.parent.parent / "shared"))


def load_events() -> list[dict]:
    out = []
    for f in sorted((SHARED / "k8s_audit").iterdir()):
        for line in f.read_bytes().splitlines():
            if line.strip():
                doc = orjson.loads(line)
                if isinstance(doc, dict) and doc.get("kind") == "Event":
                    out.append(doc)
    return out


def make_processor():
    """(process(event) -> n_alerts, description)."""
    fmt = AlertFormatter(json_output=True)
    rules = SHARED / "upstream" / "rules" / "k8s_audit_rules.yaml"
    try:
        from lanner.engine import Engine
    except ImportError:
        Engine = None
    if Engine is not None and rules.exists():
        eng = Engine(Config({}), sources=["k8s_audit", "syscall"])
        eng.load_rules_files([str(rules)])
        sink = []

        def process(e) -> int:
            alerts = eng.process(e)
            for a in alerts:
                sink.append(fmt.line(a))
            if len(sink) > 1000:
                sink.clear()
            return len(alerts)
        return process, f"rules ({len(eng.loader.rules)} from k8s_audit_rules.yaml) + JSON output"
    reg = FieldRegistry([ka.field_class(), jf.field_class()])
    exs = [reg.resolve("k8s_audit", f.name, "command" if f.arg == "required" else None).bind()
           for f in ka.FIELDS if f.arg != "required" or f.name == "ka.uri.param"]

    def extract(e) -> int:
        for x in exs:
            x(e)
        return 0
    return extract, f"extraction of {len(exs)} ka.* fields (engine not available)"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--clients", type=int, default=2)
    args = ap.parse_args()
    base = load_events()
    events = [base[i % len(base)] for i in range(args.events)]
    batches = [orjson.dumps({"kind": "EventList", "apiVersion": "audit.k8s.io/v1",
                             "items": events[i:i + args.batch]}) for i in range(0, len(events), args.batch)]
    process, what = make_processor()

    plugin = K8sAuditPlugin()
    plugin.init({})
    it = plugin.open("http://127.0.0.1:0/k8s-audit")
    port = plugin.webhook.bound_port

    def client(mine: list[bytes]) -> None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for b in mine:
            c.request("POST", "/k8s-audit", body=b, headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            assert r.status == 200, r.status
        c.close()

    threads = [threading.Thread(target=client, args=(batches[i::args.clients],)) for i in range(args.clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    n = alerts = 0
    for e in it:
        if e is None:
            continue
        alerts += process(e)
        n += 1
        if n == len(events):
            break
    t_all = time.perf_counter() - t0
    for t in threads:
        t.join()
    plugin.close()

    # stage: rules + output alone, on events already parsed (what the consumer does per event)
    plugin2 = K8sAuditPlugin()
    plugin2.init({})
    from lanner.events.base import PluginEvent
    pre = [PluginEvent(i, 1, "k8s_audit", orjson.dumps(ev), "k8saudit", ev) for i, ev in enumerate(events, 1)]
    t1 = time.perf_counter()
    for e in pre:
        e.cache = {}
        process(e)
    t_proc = time.perf_counter() - t1

    print(f"k8saudit webhook bench: {len(events)} events in {len(batches)} EventList POSTs of {args.batch}, "
          f"{args.clients} keep-alive clients, 127.0.0.1, {os.cpu_count()} CPUs")
    print(f"  consumer stage: {what}")
    print(f"  end to end (POST -> parse -> queue -> {what.split(' (')[0]}): {n / t_all:,.0f} events/s "
          f"({t_all:.2f} s, {alerts} alerts)")
    print(f"  consumer stage alone: {len(pre) / t_proc:,.0f} events/s")


if __name__ == "__main__":
    main()
