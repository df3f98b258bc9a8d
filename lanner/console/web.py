"""The console's HTTP surface, independent of the server that carries it: a request is
``(method, target, headers, body)`` and a response ``(status, headers, body)``, so the same app is
mounted on lanner's webserver (agent) and served by ``lanner console`` (standalone).

Routes below the mount prefix (``/ui/`` by default): the page and its static files, and a JSON API
(``api/alerts`` with long-poll ``after``/``wait``, ``api/alert/<id>``, ``api/timeline``, ``api/breakdown``,
``api/rule``, ``api/stats``; ``POST api/alerts`` when ingestion is on). Access needs a bearer token
(header, ``?token=`` once, then a cookie) or basic-auth credentials; anything else is 401.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from lanner.console.ingest import Ingestor
from lanner.console.record import RecordError, from_alert_json
from lanner.console.store import DIMENSIONS, Filter, SqlStore, StoreError
from lanner.core.errors import LannerError

log = logging.getLogger("lanner.console")

Response = tuple[int, list[tuple[str, str]], bytes]
_STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
           "style.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}
_COOKIE = "lanner_console"
_SECURITY = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
             ("Referrer-Policy", "no-referrer"),
             ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                         "script-src 'self'; connect-src 'self'; frame-ancestors 'none'")]


class AccessError(LannerError, ValueError):
    """The console's access settings are missing or unusable (nothing is served without them)."""


@dataclass
class Access:
    """Who may use the console: a bearer token, basic-auth user/password, or both."""

    token: str = ""
    user: str = ""
    password: str = ""

    def __post_init__(self) -> None:
        if not self.token and not (self.user and self.password):
            raise AccessError("the console needs webui.token or webui.user + webui.password: "
                              "it serves nothing without access control")
        self._cookie = hashlib.sha256(("lanner-console:" + self.token).encode()).hexdigest() if self.token else ""

    def allows(self, headers: Mapping[str, str], query: Mapping[str, list[str]]) -> bool:
        auth = headers.get("authorization", "")
        if self.token:
            if auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].strip(), self.token):
                return True
            if any(hmac.compare_digest(t, self.token) for t in query.get("token", [])):
                return True
            for part in headers.get("cookie", "").split(";"):
                k, _, v = part.strip().partition("=")
                if k == _COOKIE and hmac.compare_digest(v, self._cookie):
                    return True
        if self.user and auth.startswith("Basic "):
            try:
                user, _, pw = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return hmac.compare_digest(user, self.user) & hmac.compare_digest(pw, self.password)
        return False

    def challenge(self) -> str:
        return 'Basic realm="lanner console", charset="UTF-8"' if self.user else 'Bearer realm="lanner console"'


def _json(status: int, obj: Any) -> Response:
    return status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], \
        json.dumps(obj, default=str, separators=(",", ":")).encode()


class ConsoleApp:
    """Routes of one console; ``ingest`` turns on ``POST api/alerts`` (standalone console)."""

    def __init__(self, store: SqlStore, ingestor: Ingestor, access: Access, *, prefix: str = "/ui/",
                 ingest: bool = False, max_wait: float = 20.0, max_body: int = 16 << 20) -> None:
        self.store = store
        self.ingestor = ingestor
        self.access = access
        self.prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
        self.ingest = ingest
        self.max_wait = max_wait
        self.max_body = max_body
        self.started = time.time()

    # entry ------------------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes = b"") -> Response:
        """One request; ``headers`` keys must be lower-case."""
        u = urlsplit(target)
        query = parse_qs(u.query, keep_blank_values=False)
        if not self.access.allows(headers, query):
            return 401, [("WWW-Authenticate", self.access.challenge()), ("Content-Type", "text/plain"),
                         *_SECURITY], b"401 Unauthorized: the console needs a token or credentials\n"
        try:
            status, hdrs, data = self._route(method, u.path, query, headers, body)
        except StoreError as e:
            status, hdrs, data = _json(400, {"error": str(e)})
        except Exception as e:  # noqa: BLE001 - a bad request or a store outage is an error reply, never a crash
            log.error("console: %s %s: %s", method, u.path, e)
            status, hdrs, data = _json(500, {"error": f"{type(e).__name__}: {e}"})
        if "token" in query and method in ("GET", "HEAD") and status == 200 and not u.path.startswith(self.prefix + "api/"):
            rest = {k: v for k, v in query.items() if k != "token"}
            loc = u.path + ("?" + urlencode(rest, doseq=True) if rest else "")
            cookie = f"{_COOKIE}={self.access._cookie}; Path={self.prefix}; HttpOnly; SameSite=Strict"
            return 303, [("Location", loc), ("Set-Cookie", cookie), *_SECURITY], b""
        return status, hdrs + _SECURITY, data

    def _route(self, method: str, path: str, q: dict[str, list[str]], headers: Mapping[str, str],
               body: bytes) -> Response:
        if not path.startswith(self.prefix):
            if method == "POST" and self.ingest and path == "/":
                return self._ingest(headers, body)
            return 404, [("Content-Type", "text/plain")], b"not found\n"
        sub = path[len(self.prefix):]
        if method == "POST":
            if sub == "api/alerts" and self.ingest:
                return self._ingest(headers, body)
            return 405, [("Allow", "GET, HEAD")], b""
        if method not in ("GET", "HEAD"):
            return 405, [("Allow", "GET, HEAD, POST" if self.ingest else "GET, HEAD")], b""
        if sub in ("", "index.html"):
            sub = "index.html"
        if sub in _STATIC or sub.startswith("static/") and sub[7:] in _STATIC:
            name = sub[7:] if sub.startswith("static/") else sub
            data = resources.files("lanner.console").joinpath("static", name).read_bytes()
            return 200, [("Content-Type", _STATIC[name]), ("Cache-Control", "no-cache")], data
        if sub == "api/alerts":
            return self._alerts(q)
        if sub.startswith("api/alert/"):
            try:
                a = self.store.alert(int(sub[len("api/alert/"):]))
            except ValueError:
                return _json(400, {"error": "alert id must be an integer"})
            return _json(200, a) if a else _json(404, {"error": "no such alert"})
        if sub == "api/timeline":
            buckets = _int(q, "buckets", 60)
            return _json(200, self.store.timeline(Filter.from_query(q), buckets=buckets))
        if sub == "api/breakdown":
            f = Filter.from_query(q)
            dims = [d for d in (q.get("dim") or [",".join(DIMENSIONS)])[-1].split(",") if d]
            out = {d: self.store.breakdown(f, d, _int(q, "limit", 8)) for d in dims}
            return _json(200, {"total": self.store.count(f), "breakdown": out})
        if sub == "api/rule":
            name = (q.get("name") or [""])[-1]
            r = self.store.rule(name)
            return _json(200, r) if r else _json(404, {"error": f"rule {name!r} is not in the catalog"})
        if sub == "api/noise":
            return _json(200, self._noise(Filter.from_query(q), _int(q, "limit", 20000)))
        if sub == "api/stats":
            return _json(200, {"store": self.store.name, "ingest": self.ingestor.stats(),
                               "uptime_s": round(time.time() - self.started, 1)})
        return 404, [("Content-Type", "text/plain")], b"not found\n"

    def _alerts(self, q: dict[str, list[str]]) -> Response:
        f = Filter.from_query(q)
        after = _int(q, "after", 0)
        wait = min(max(float((q.get("wait") or ["0"])[-1] or 0), 0.0), self.max_wait)
        limit = _int(q, "limit", 100)
        end = time.monotonic() + wait
        while True:
            version = self.ingestor.version
            rows = self.store.alerts(f, limit=limit, after_id=after, before_id=_int(q, "before", 0))
            left = end - time.monotonic()
            if rows or not after or left <= 0:
                break
            self.ingestor.wait_change(version, min(left, 1.0))
        return _json(200, {"alerts": rows, "last_id": max([after, *[r["id"] for r in rows]])
                           if after else self.store.last_id()})

    def _noise(self, f: Filter, limit: int) -> dict[str, Any]:
        """The tuner's proposals for the newest alerts (unverified: ``lanner tune --store`` checks them
        against the test cases and writes the override)."""
        from lanner.tune.propose import propose
        from lanner.tune.rules import RuleFacts
        docs = self.store.recent_documents(f, max(1, min(limit, 100000)))
        by_rule: dict[str, list[dict[str, Any]]] = {}
        for d in docs:
            if d["source"] != "internal":
                by_rule.setdefault(d["rule"], []).append(d)
        facts = {r: RuleFacts(r, by_rule[r][0]["source"]) for r in by_rule}
        props, notes = propose(by_rule, facts)
        rules = []
        for r in sorted(by_rule, key=lambda r: -len(by_rule[r]))[:15]:
            mine: list[dict[str, Any]] = [{"exception": p.name, "when": p.describe(v), "removes": v.removes}
                                          for p in props if p.rule == r for v in p.values]
            rules.append({"rule": r, "alerts": len(by_rule[r]), "removes": sum(x["removes"] for x in mine),
                          "proposals": mine})
        return {"alerts": len(docs), "rules": rules, "notes": notes}

    def _ingest(self, headers: Mapping[str, str], body: bytes) -> Response:
        if len(body) > self.max_body:
            return _json(413, {"error": "body too large"})
        if "gzip" in headers.get("content-encoding", "").lower():
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError) as e:
                return _json(400, {"error": f"bad gzip body: {e}"})
        text = body.decode("utf-8", errors="replace").strip()
        docs: list[Any] = []
        try:
            if text.startswith("["):
                docs = json.loads(text)
            else:
                docs = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as e:
            return _json(400, {"error": f"not a JSON alert (set json_output: true on the agent): {e}"})
        accepted = refused = 0
        errors = []
        for d in docs:
            try:
                rec = from_alert_json(d)
            except RecordError as e:
                errors.append(str(e))
                continue
            if self.ingestor.offer(rec):
                accepted += 1
            else:
                refused += 1
        if errors and not accepted:
            return _json(400, {"error": errors[0], "errors": len(errors)})
        if refused:
            return _json(503, {"accepted": accepted, "dropped": refused, "error": "store queue full"})
        return _json(200, {"accepted": accepted, "errors": errors[:5]})


def _int(q: Mapping[str, list[str]], key: str, default: int) -> int:
    try:
        return int((q.get(key) or [str(default)])[-1])
    except ValueError:
        raise StoreError(f"'{key}': not an integer") from None
