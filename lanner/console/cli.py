"""``lanner console``: the alert console as its own process, receiving alerts from any number of agents
(``http_output.url: http://console:8766/`` with ``json_output: true``, or a fan-out webhook).

Access: ``--token`` (or env ``LANNER_CONSOLE_TOKEN``) and/or ``--user``/``--password`` (or env
``LANNER_CONSOLE_PASSWORD``); agents authenticate the same way (``http://user:pass@host:port/`` or
``?token=`` in the URL). Runs until SIGINT/SIGTERM; exit 2 on bad options, 1 when it cannot start.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from lanner.config import ConfigError
from lanner.console.ingest import Ingestor, Retention
from lanner.console.opener import open_store
from lanner.console.settings import DEFAULT_STORE, parse_duration
from lanner.console.store import StoreError
from lanner.console.web import Access, AccessError, ConsoleApp

log = logging.getLogger("lanner.console")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lanner console", description=(
        "Alert console: stores alerts POSTed by lanner/Falco agents (http_output, JSON) and serves a page "
        "to watch, filter and inspect them."))
    p.add_argument("--listen", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8766, help="port (default 8766, 0 = any free port)")
    p.add_argument("--store", default=DEFAULT_STORE, help=f"SQLite file or postgresql:// URL (default {DEFAULT_STORE})")
    p.add_argument("--path", default="/ui/", help="URL path of the page (default /ui/)")
    p.add_argument("--token", default=os.environ.get("LANNER_CONSOLE_TOKEN", ""), help="bearer token")
    p.add_argument("--user", default="", help="basic-auth user")
    p.add_argument("--password", default=os.environ.get("LANNER_CONSOLE_PASSWORD", ""), help="basic-auth password")
    p.add_argument("--tls-cert", default="", help="PEM certificate (and key, unless --tls-key) to serve HTTPS")
    p.add_argument("--tls-key", default="", help="PEM private key")
    p.add_argument("--max-age", default="7d", help="retention by age (e.g. 3600, 12h, 7d; 0 = forever)")
    p.add_argument("--max-alerts", type=int, default=1_000_000, help="retention by size: alerts kept (0 = all)")
    p.add_argument("-r", "--rules", action="append", default=[], metavar="FILE",
                   help="rules file(s) whose descriptions and tags the page shows")
    return p


def load_catalog(paths: list[str]) -> list[dict]:
    """Rule name/desc/tags/priority/source from rules files, read as plain YAML (later items win)."""
    import yaml
    out: dict[str, dict] = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            doc = yaml.safe_load(f) or []
        for item in doc if isinstance(doc, list) else []:
            if isinstance(item, dict) and isinstance(item.get("rule"), str) and "desc" in item:
                out[item["rule"]] = {"name": item["rule"], "desc": str(item.get("desc") or "").strip(),
                                     "tags": [str(t) for t in item.get("tags") or []],
                                     "priority": str(item.get("priority", "")), "source": str(item.get("source", "syscall"))}
    return list(out.values())


def main(argv: Sequence[str]) -> int:
    from lanner.console.server import ConsoleServer, ServerError
    args = parser().parse_args(list(argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        access = Access(args.token, args.user, args.password)
        max_age = parse_duration(args.max_age, "--max-age")
    except (AccessError, ConfigError) as e:
        sys.stderr.write(f"Error: {e}\n")
        return 2
    try:
        if "://" not in args.store and args.store != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(args.store)), exist_ok=True)
        store = open_store(args.store)
        if args.rules:
            store.upsert_rules(load_catalog(args.rules))
    except (StoreError, OSError) as e:
        sys.stderr.write(f"Error: {e}\n")
        return 1
    except Exception as e:  # noqa: BLE001 - a malformed rules file: say which, do not trace back
        sys.stderr.write(f"Error: cannot read rules for the catalog: {e}\n")
        return 1
    ing = Ingestor(store, retention=Retention(max_age_s=max_age, max_alerts=args.max_alerts))
    app = ConsoleApp(store, ing, access, prefix=args.path, ingest=True)
    try:
        srv = ConsoleServer(app, args.listen, args.port, tls_cert=args.tls_cert, tls_key=args.tls_key)
    except ServerError as e:
        sys.stderr.write(f"Error: {e}\n")
        return 1
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    srv.start()
    scheme = "https" if srv.tls else "http"
    log.info("Console listening on %s://%s:%d%s (store: %s)", scheme, args.listen, srv.port, app.prefix, store.name)
    sys.stderr.flush()
    stop.wait()
    srv.stop()
    ing.close()
    store.close()
    log.info("Console stopped: %s", ing.stats())
    return 0
