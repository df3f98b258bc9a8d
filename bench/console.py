"""Alert console: ingestion rate into SQLite and PostgreSQL, and page load time with 100k stored alerts.

Ingestion is measured twice per store:
- ``writer``: records offered to the console's writer (:class:`lanner.console.ingest.Ingestor`, the path the
  agent's ``webui`` channel and the POST handler share), clock stopped when the last one is committed;
- ``http``: Falco's ``http_output`` way, one JSON alert per POST on a new connection, from ``--clients``
  concurrent senders to a running ``ConsoleServer``, clock stopped when the last one is committed.
Page load: a SQLite store filled with ``--page-alerts`` alerts (20 rules, 50 hosts, 200 containers, spread
over a day); the API requests the page makes when it opens (newest 100, timeline, all breakdowns) timed
one by one (median of 5), and, if Debian's chromium + chromium-driver and selenium are installed, the
whole page in headless Chromium until it has drawn the list and the chart (median of 3 loads).

PostgreSQL: ``--pg postgresql://…`` uses that server; without it, when run as root with Debian's
postgresql installed, a throwaway server is started in a temp dir as the postgres user (fsync off).

Run: ``.venv/bin/python bench/console.py [--alerts 20000] [--page-alerts 100000] [--clients 4] [--pg URL]``
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lanner.console.ingest import Ingestor, Retention  # noqa: E402
from lanner.console.opener import open_store  # noqa: E402
from lanner.console.record import from_alert_json  # noqa: E402
from lanner.console.server import ConsoleServer  # noqa: E402
from lanner.console.store import SqlStore  # noqa: E402
from lanner.console.web import Access, ConsoleApp  # noqa: E402

RULES = [f"Bench rule {i}" for i in range(20)]
PRIOS = ["Critical", "Error", "Warning", "Warning", "Notice", "Notice", "Informational"]


def alert_doc(i: int, rng: random.Random, t0: int, span_ns: int) -> dict:
    host = f"node-{rng.randrange(50)}"
    ctr = f"{rng.randrange(200):012x}"
    t = t0 + rng.randrange(span_ns)
    s, ns = divmod(t, 1_000_000_000)
    return {"rule": rng.choice(RULES), "priority": rng.choice(PRIOS), "source": "syscall", "hostname": host,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{ns:09d}Z",
            "tags": ["bench", rng.choice(["filesystem", "process", "network"])],
            "output": f"bench alert {i} proc.name=p{i % 97} fd.name=/var/lib/app/{i % 1000}",
            "output_fields": {"proc.name": f"p{i % 97}", "fd.name": f"/var/lib/app/{i % 1000}", "container.id": ctr,
                              "container.name": f"c-{ctr[:6]}", "container.image.repository": f"repo/app{rng.randrange(30)}",
                              "k8s.ns.name": f"ns{rng.randrange(8)}", "k8s.pod.name": f"pod-{rng.randrange(300)}",
                              "evt.time": t}}


def docs(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    now = time.time_ns()
    return [alert_doc(i, rng, now - 86400 * 10**9, 86400 * 10**9) for i in range(n)]


def wait_stored(ing: Ingestor, n: int, timeout: float = 600) -> None:
    end = time.monotonic() + timeout
    while ing.stored + ing.failed < n and time.monotonic() < end:
        time.sleep(0.002)
    if ing.stored < n:
        raise RuntimeError(f"only {ing.stored} of {n} stored ({ing.stats()})")


def bench_writer(store: SqlStore, items: list[dict]) -> float:
    ing = Ingestor(store, capacity=len(items) + 1, retention=Retention())
    recs = [from_alert_json(d) for d in items]
    t0 = time.perf_counter()
    for r in recs:
        ing.offer(r)
    wait_stored(ing, len(recs))
    dt = time.perf_counter() - t0
    ing.close()
    return len(recs) / dt


def bench_http(store: SqlStore, items: list[dict], clients: int) -> float:
    ing = Ingestor(store, retention=Retention())
    srv = ConsoleServer(ConsoleApp(store, ing, Access(token="bench"), ingest=True), "127.0.0.1", 0)
    srv.start()
    url = f"http://127.0.0.1:{srv.port}/?token=bench"
    bodies = [json.dumps(d).encode() for d in items]
    chunks = [bodies[i::clients] for i in range(clients)]

    def send(chunk: list[bytes]) -> None:
        for b in chunk:
            req = urllib.request.Request(url, data=b, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()
    t0 = time.perf_counter()
    threads = [threading.Thread(target=send, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_stored(ing, len(items))
    dt = time.perf_counter() - t0
    srv.stop()
    ing.close()
    return len(items) / dt


def fill(store: SqlStore, n: int) -> None:
    items = docs(n, seed=7)
    for i in range(0, n, 5000):
        store.add([from_alert_json(d) for d in items[i:i + 5000]])


def bench_page(store: SqlStore, n: int) -> None:
    ing = Ingestor(store, retention=Retention())
    srv = ConsoleServer(ConsoleApp(store, ing, Access(token="bench")), "127.0.0.1", 0)
    srv.start()
    base = f"http://127.0.0.1:{srv.port}/ui/"
    calls = {"alerts (newest 100)": "api/alerts?limit=100", "timeline (60 buckets)": "api/timeline?buckets=60",
             "breakdown (9 dimensions)": "api/breakdown",
             "alerts filtered by rule": "api/alerts?limit=100&rule=Bench%20rule%203",
             "alerts filtered by field": "api/alerts?limit=100&f.proc.name=p5"}
    print(f"page API with {n} stored alerts (median of 5):")
    total = 0.0
    for name, path in calls.items():
        times = []
        for _ in range(5):
            req = urllib.request.Request(base + path, headers={"Authorization": "Bearer bench"})
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=120) as r:
                r.read()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        if name in ("alerts (newest 100)", "timeline (60 buckets)", "breakdown (9 dimensions)"):
            total += med
        print(f"  {name:<28} {med * 1000:8.1f} ms")
    print(f"  {'page open (3 calls above)':<28} {total * 1000:8.1f} ms")
    browser_load(base)
    srv.stop()
    ing.close()


def browser_load(base: str) -> None:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
    except ImportError:
        print("  browser: selenium not installed, skipped")
        return
    if not chromium or not driver:
        print("  browser: chromium/chromium-driver not installed, skipped")
        return
    prof = tempfile.mkdtemp(prefix="lanner-bench-chrome-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", f"--user-data-dir={prof}", "--window-size=1280,1000"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(driver), options=opts)
    try:
        drv.get(base + "?token=bench")
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            drv.get(base)
            end = time.monotonic() + 120
            while time.monotonic() < end:
                if drv.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1":
                    break
                time.sleep(0.01)
            times.append(time.perf_counter() - t0)
        rows = len(drv.find_elements(By.CSS_SELECTOR, "#alerts tbody tr"))
        bars = len(drv.find_elements(By.CSS_SELECTOR, "#chart rect.bar"))
        print(f"  browser: headless Chromium, page drawn (list {rows} rows, chart {bars} bars) in "
              f"{statistics.median(times) * 1000:.0f} ms (median of 3)")
    finally:
        drv.quit()
        shutil.rmtree(prof, ignore_errors=True)


@contextmanager
def throwaway_postgres():
    if os.geteuid() != 0 or not Path("/usr/lib/postgresql").is_dir():
        yield None
        return
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not binaries:
        yield None
        return
    b = binaries[-1].parent
    pw = pwd.getpwnam("postgres")
    root = Path(tempfile.mkdtemp(prefix="lanner-bench-pg-"))
    os.chown(root, pw.pw_uid, pw.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def as_pg(*args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, cwd=root, timeout=120)
    try:
        as_pg(str(b / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        as_pg(str(b / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "log"), "-w", "start", "-o",
              f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c synchronous_commit=off")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(b / "pg_ctl"), "-D", str(root / "data"), "-m", "fast",
                        "-w", "stop"], capture_output=True, cwd=root)
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=20000, help="alerts per ingestion measurement")
    ap.add_argument("--page-alerts", type=int, default=100000, help="alerts stored for the page-load measurement")
    ap.add_argument("--clients", type=int, default=4, help="concurrent POST senders")
    ap.add_argument("--pg", default="", help="PostgreSQL URL (default: start a throwaway server if possible)")
    args = ap.parse_args()
    items = docs(args.alerts)
    print(f"ingestion, {args.alerts} alerts (http: {min(args.alerts, 5000)} alerts, one POST each, {args.clients} clients):")
    with tempfile.TemporaryDirectory(prefix="lanner-bench-console-") as d, throwaway_postgres() as auto_pg:
        stores = [("sqlite", lambda: open_store(os.path.join(d, f"s{time.monotonic_ns()}.db")))]
        pg = args.pg or auto_pg
        if pg:
            def pg_store() -> SqlStore:
                s = open_store(pg)
                with s.lock:
                    cur = s.conn.cursor()
                    cur.execute("TRUNCATE alerts, alert_tags")
                    s.conn.commit()
                return s
            stores.append(("postgresql", pg_store))
        else:
            print("  postgresql: no server (give --pg, or run as root with Debian's postgresql installed)")
        for name, make in stores:
            s = make()
            w = bench_writer(s, items)
            s.close()
            s = make()
            h = bench_http(s, items[:5000], args.clients)
            s.close()
            print(f"  {name:<11} writer {w:9.0f} alerts/s   http POST {h:8.0f} alerts/s")
        s = open_store(os.path.join(d, "page.db"))
        t0 = time.perf_counter()
        fill(s, args.page_alerts)
        print(f"filled {args.page_alerts} alerts into SQLite in {time.perf_counter() - t0:.1f} s")
        bench_page(s, args.page_alerts)
        s.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
