"""Events/s with container enrichment on vs off.

Synthetic stream: 90 % of events come from threads in 50 containers, 10 % from host threads; every
event gets a fresh ``cache`` (as a source does). Per event we extract what a rule with the default
``append_output: suggested_output`` needs: a condition on ``container.id`` plus the six suggested output
fields (container.id, container.name, container.image.repository, container.image.tag, k8s.pod.name,
k8s.ns.name).

- off:   only ``container.id`` (cgroup-derived, no runtime metadata) - what lanner does without engines
- on:    all seven extractions, metadata cached in the ContainerManager for all 50 containers
- cold:  all seven extractions while every look-up is still pending (manager without engines)

Run: .venv/bin/python bench/containers_enrichment.py [events]
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lanner.fields import container as cf  # noqa: E402
from lanner.fields import k8s as kf  # noqa: E402
from lanner.fields.registry import FieldRegistry  # noqa: E402
from lanner.state.container_info import ContainerInfo  # noqa: E402
from lanner.state.containers import ContainerManager  # noqa: E402
from lanner.state.threads import ThreadInfo  # noqa: E402


class Ev:
    __slots__ = ("num", "ts", "source", "type", "cache", "thread")

    def __init__(self, num, thread):
        self.num, self.ts, self.source, self.type, self.cache, self.thread = num, num * 1000, "syscall", 0, {}, thread


def make_stream(n: int):
    rnd = random.Random(7)
    ids = [f"{i:012x}" for i in range(0xA0000, 0xA0000 + 50)]
    threads = []
    for i, cid in enumerate(ids):
        t = ThreadInfo(1000 + i)
        t.container_id = cid
        t.pidns_init_start_ts = 1
        threads.append(t)
    host = [ThreadInfo(10 + i) for i in range(20)]
    stream = [rnd.choice(threads) if rnd.random() < 0.9 else rnd.choice(host) for _ in range(n)]
    return ids, stream


def run(extractors, stream) -> float:
    t0 = time.perf_counter()
    for num, th in enumerate(stream, 1):
        e = Ev(num, th)
        extractors[0](e)
        for x in extractors[1:]:
            x(e)
    return len(stream) / (time.perf_counter() - t0)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    ids, stream = make_stream(n)
    names = ["container.id", "container.id", "container.name", "container.image.repository",
             "container.image.tag", "k8s.pod.name", "k8s.ns.name"]

    def extractors(mgr):
        reg = FieldRegistry([cf.field_class(mgr), kf.field_class(mgr)])
        return [reg.resolve("syscall", x, None).bind() for x in names]

    warm = ContainerManager()
    for i, cid in enumerate(ids):
        warm.add(ContainerInfo(id=cid, full_id=cid * 5 + "0000", type="docker", name=f"app-{i}",
                               image=f"registry.local/team/app{i}:1.{i}", image_repo=f"registry.local/team/app{i}",
                               image_tag=f"1.{i}", labels={"io.kubernetes.pod.name": f"app-{i}-x",
                                                           "io.kubernetes.pod.namespace": "prod"}))
    off = extractors(ContainerManager())[:1]
    on = extractors(warm)
    cold = extractors(ContainerManager())
    # warm-up
    run(on, stream[:10000])
    r_off = run(off, stream)
    r_on = run(on, stream)
    r_cold = run(cold, stream)
    print(f"stream: {n} events, 90% from 50 containers, 10% host; CPython {sys.version.split()[0]}")
    print(f"off  (container.id only)           : {r_off:12,.0f} events/s")
    print(f"on   (7 extractions, cached meta)  : {r_on:12,.0f} events/s  ({r_on / r_off:.2f}x of off)")
    print(f"cold (7 extractions, look-ups pending): {r_cold:9,.0f} events/s")


if __name__ == "__main__":
    main()
