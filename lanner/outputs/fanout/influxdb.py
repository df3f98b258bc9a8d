"""InfluxDB target: each alert as one point of line protocol over HTTP, with falcosidekick's layout.

Point: measurement ``events``; tags ``rule``, ``priority``, ``source``, every string output field, ``hostname``
and ``tags`` (joined with ``_``); field ``value`` = the alert's output text. As sidekick, spaces in the rule and
in tag values become ``_``. lanner also escapes what line protocol requires (``,`` ``=`` and spaces in tags,
``"`` and ``\\`` in the field) and stamps the point with the alert's time in ``precision``; sidekick sends no
time, so InfluxDB used its arrival time.

Options (sidekick's names): ``hostport`` (``http[s]://host:port``, required), ``database`` (v1 API, default
``falco``), ``organization`` + ``bucket`` (v2 API ``/api/v2/write``, used when both are set; bucket default
``falco``), ``precision`` (default ``ns``), ``user``/``password`` (v1 query credentials, unless a token is set),
``token`` (``Authorization: Token …``), ``checkcert``/``mutualtls``/``cacertfile``/``certfile``/``keyfile``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from lanner.core.alert import Alert
from lanner.outputs.fanout.extras import tls_options
from lanner.outputs.fanout.httpbase import HttpTarget

_DIVISOR = {"ns": 1, "n": 1, "us": 1_000, "u": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
            "m": 60_000_000_000, "h": 3_600_000_000_000}
_BASE_TAGS = ("rule", "priority", "source", "hostname", "tags")


def _tag(s: str) -> str:
    return s.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _tag_value(s: str) -> str:
    return _tag(s.replace(" ", "_").replace("\n", "_"))


def _field_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def line_for(event: dict[str, Any], divisor: int, time_ns: int) -> str:
    """The point sidekick would write for this alert (escaped), stamped in the given precision."""
    tags = [("rule", str(event["rule"])), ("priority", str(event["priority"])), ("source", str(event["source"]))]
    for k, v in (event.get("output_fields") or {}).items():
        if isinstance(v, str) and v and k not in _BASE_TAGS:
            tags.append((k, v))
    if event.get("hostname"):
        tags.append(("hostname", str(event["hostname"])))
    if event.get("tags"):
        tags.append(("tags", "_".join(event["tags"])))
    tagset = ",".join(f"{_tag(k)}={_tag_value(v)}" for k, v in tags)
    return f"events,{tagset} value={_field_string(str(event['output']))} {time_ns // divisor}"


class InfluxdbTarget(HttpTarget):
    type_name = "influxdb"
    required = ("hostport",)
    options_known = frozenset({"hostport", "database", "organization", "bucket", "precision", "user", "password",
                               "token", "checkcert", "mutualtls", "cacertfile", "certfile", "keyfile", "insecure",
                               "ca_cert", "client_cert", "client_key", "timeout_ms", "headers"})

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        t = tls_options(options)
        opts = {**options, "url": str(options.get("hostport") or ""), "insecure": t.insecure, "ca_cert": t.ca_cert,
                "client_cert": t.client_cert, "client_key": t.client_key}
        opts.pop("user", None)
        opts.pop("password", None)      # not HTTP basic auth: v1 takes them in the query
        super().__init__(name, opts)
        self.precision = str(options.get("precision") or "ns")
        if self.precision not in _DIVISOR:
            raise ValueError(f"precision must be one of {', '.join(_DIVISOR)}, got {self.precision!r}")
        base = self.url.rstrip("/")
        org, bucket = str(options.get("organization") or ""), str(options.get("bucket") or "falco")
        token = str(options.get("token") or "")
        if org and bucket:
            query: dict[str, str] = {"org": org, "bucket": bucket}
            path = "/api/v2/write"
        else:
            query, path = {"db": str(options.get("database") or "falco")}, "/write"
        if options.get("user") and options.get("password") and not token:
            query.update(u=str(options["user"]), p=str(options["password"]))
        query["precision"] = self.precision
        self.write_url = f"{base}{path}?{urlencode(query)}"
        self.headers["Accept"] = "application/json"
        if token:
            self.headers["Authorization"] = f"Token {token}"

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        body = line_for(event, _DIVISOR[self.precision], alert.time_ns).encode()
        self.post(self.write_url, body, {"Content-Type": "text/plain; charset=utf-8"})
