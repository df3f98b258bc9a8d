"""Optional client libraries of the fan-out targets and the options falcosidekick shares between them.

Each library is an extra (``pip install 'lanner[redis]'``); a target whose library is missing fails
at start with a message naming the extra, not with an ImportError at the first alert.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import orjson

from lanner.core.alert import Alert
from lanner.outputs.fanout.falcopayload import as_json
from lanner.outputs.httpclient import TlsOptions


def need(module: str, extra: str, target: str) -> ModuleType:
    """Import ``module`` or raise ValueError telling which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ValueError(f"fanout {target}: this target needs the {module.split('.')[0]} library: "
                         f"pip install 'lanner[{extra}]'") from None


def split_hostport(address: str, default_port: int) -> tuple[str, int]:
    """``host:port`` (with or without a scheme, IPv6 in brackets) -> (host, port)."""
    a = address.strip()
    if "://" in a:
        a = a.split("://", 1)[1]
    a = a.split("/", 1)[0].rpartition("@")[2]
    if a.startswith("["):
        host, _, rest = a[1:].partition("]")
        port_s = rest.lstrip(":")
    else:
        host, sep, port_s = a.rpartition(":")
        if not sep:
            host, port_s = a, ""
    try:
        return host, int(port_s) if port_s else default_port
    except ValueError:
        raise ValueError(f"invalid address {address!r}: port must be a number") from None


def flag(options: dict[str, Any], name: str, default: bool) -> bool:
    """A boolean option as YAML or an environment variable gives it (``true``, ``"false"``, ``0``)."""
    v = options.get(name, default)
    if isinstance(v, str):
        return v.strip().lower() in ("1", "true", "yes", "on")
    return bool(v)


def tls_options(options: dict[str, Any]) -> TlsOptions:
    """lanner's TLS options (``insecure``, ``ca_cert``, ``client_cert``, ``client_key``) or sidekick's
    (``checkcert``, ``cacertfile``, ``certfile``, ``keyfile``; ``mutualtls`` always checks the server)."""
    mutual = flag(options, "mutualtls", False)
    insecure = flag(options, "insecure", False) or not flag(options, "checkcert", True)
    return TlsOptions(insecure=insecure and not mutual,
                      ca_cert=str(options.get("ca_cert") or options.get("cacertfile") or ""),
                      client_cert=str(options.get("client_cert") or options.get("certfile") or ""),
                      client_key=str(options.get("client_key") or options.get("keyfile") or ""))


def sidekick_slug(rule: str) -> str:
    """A rule name as sidekick puts it in a subject or key: lower case, runs of other characters ``_``."""
    out: list[str] = []
    gap = False
    for ch in rule.lower():
        if "a" <= ch <= "z" or "0" <= ch <= "9":
            if gap and out:
                out.append("_")
            out.append(ch)
            gap = False
        else:
            gap = True
    return "".join(out)


def sidekick_json(event: dict[str, Any], alert: Alert) -> bytes:
    """The JSON falcosidekick sends for an alert: Falco's alert with a ``uuid``, in sidekick's field order."""
    return orjson.dumps(as_json(event, alert), default=str)
