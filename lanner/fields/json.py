"""JSON fields of plugin events (Falco's ``json`` plugin): ``json.value[<pointer>]``, ``json.obj``,
``json.rawtime`` and their legacy ``jevt.*`` aliases.

Also holds the JSON helpers every JSON-payload field class shares (``k8saudit``, ``cloudtrail``): the
payload is parsed once per event, lazily, and kept in ``PluginEvent.obj``, so a rule that reads ten
``ka.*`` fields parses the audit record once and a rule that reads none never parses it.
"""

from __future__ import annotations

import json as _stdjson
from typing import Any

import orjson

from lanner.events.base import PluginEvent
from lanner.fields import types as ft
from lanner.fields.registry import ARG_REQUIRED, Extractor, FieldClass, FieldDef, FieldError, fdef

MISSING: Any = object()
_BAD_KEY = "json.bad"


def payload(e: PluginEvent) -> Any:
    """The parsed JSON payload of a plugin event, or None if it has none / is not JSON.

    Like the json plugin, only payloads starting with ``{`` or ``[`` are JSON documents. The result is
    stored in ``e.obj``; a parse failure is remembered in ``e.cache`` so it is not retried per field.
    """
    o = getattr(e, "obj", None)
    if o is not None:
        return o
    data = getattr(e, "data", None)
    if not data or data[:1] not in (b"{", b"[") or _BAD_KEY in e.cache:
        return None
    try:
        o = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            o = _stdjson.loads(data)     # NaN/Infinity and other laxities orjson refuses
        except ValueError:
            e.cache[_BAD_KEY] = True
            return None
    e.obj = o
    return o


def as_text(v: Any) -> str:
    """A JSON value as Falco's JSON extractors print it: strings unquoted, the rest as compact JSON."""
    if isinstance(v, str):
        return v
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    try:
        return orjson.dumps(v).decode()
    except TypeError:
        return _stdjson.dumps(v, separators=(",", ":"), ensure_ascii=False)


def parse_pointer(ptr: str) -> tuple[str, ...]:
    """Split an RFC 6901 JSON pointer into reference tokens (``~1`` -> ``/``, ``~0`` -> ``~``).

    The leading ``/`` is optional (as in the json plugin); the empty pointer is the whole document.
    """
    if ptr == "":
        return ()
    if ptr.startswith("/"):
        ptr = ptr[1:]
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in ptr.split("/"))


def resolve(doc: Any, tokens: tuple[str, ...]) -> Any:
    """Walk ``tokens`` into ``doc``; :data:`MISSING` when a step does not exist.

    Array steps must be RFC 6901 indexes: decimal digits without leading zeros (``-`` never exists).
    """
    v = doc
    for t in tokens:
        if isinstance(v, dict):
            v = v.get(t, MISSING)
            if v is MISSING:
                return MISSING
        elif isinstance(v, list):
            if not t.isdigit() or (len(t) > 1 and t[0] == "0") or not t.isascii():
                return MISSING
            i = int(t)
            if i >= len(v):
                return MISSING
            v = v[i]
        else:
            return MISSING
    return v


def get_path(doc: Any, keys: tuple[str, ...]) -> Any:
    """Plain object-key walk (no array steps); :data:`MISSING` when absent."""
    v = doc
    for k in keys:
        if not isinstance(v, dict):
            return MISSING
        v = v.get(k, MISSING)
        if v is MISSING:
            return MISSING
    return v


def pretty(e: PluginEvent) -> str | None:
    """The whole payload pretty-printed with a 2-space indent (``json.obj``)."""
    o = payload(e)
    if o is None:
        return None
    try:
        return orjson.dumps(o, option=orjson.OPT_INDENT_2).decode()
    except TypeError:
        return _stdjson.dumps(o, indent=2, ensure_ascii=False)


def _value(arg: str | None) -> Extractor:
    if arg is None:
        raise FieldError("field 'json.value' requires an argument but none provided")
    tokens = parse_pointer(arg)

    def ex(e: PluginEvent) -> str | None:
        o = payload(e)
        if o is None:
            return None
        v = resolve(o, tokens)
        if v is MISSING:
            return None
        return as_text(v)

    return ex


def _obj(arg: str | None) -> Extractor:
    return pretty


def _rawtime(arg: str | None) -> Extractor:
    def ex(e: PluginEvent) -> str | None:
        if payload(e) is None:
            return None
        return str(e.ts)

    return ex


_FACTORIES = {"value": _value, "obj": _obj, "rawtime": _rawtime}


def _defs(prefix: str, legacy: bool) -> list[FieldDef]:
    alias = " (alias of the json.* field of the same name)" if legacy else ""
    return [
        fdef(f"{prefix}.value", ft.CHARBUF,
             "Value at a JSON pointer (RFC 6901, e.g. [/user/username]) in the event JSON; strings unquoted, "
             "other values as JSON text" + alias, arg=ARG_REQUIRED, arg_kind="key"),
        fdef(f"{prefix}.obj", ft.CHARBUF, "The whole event JSON, pretty-printed" + alias),
        fdef(f"{prefix}.rawtime", ft.CHARBUF, "Event timestamp in ns, as decimal text" + alias),
    ]


FIELDS: list[FieldDef] = _defs("json", False) + _defs("jevt", True)


def _bind(f: FieldDef, arg: str | None) -> Extractor:
    try:
        factory = _FACTORIES[f.name.split(".", 1)[1]]
    except (KeyError, IndexError):
        raise FieldError(f"field {f.name} has no extractor") from None
    return factory(arg)


def field_class(sources: tuple[str, ...]) -> FieldClass:
    """The json class over ``sources`` (the json plugin's ``extract_sources``)."""
    return FieldClass("json", "Fields of any JSON payload (json plugin)", sources, FIELDS, _bind)
