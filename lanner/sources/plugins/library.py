"""Opening a Falco plugin shared library: API version, required symbols, metadata, capabilities, fields.

This is what libs' plugin loader and ``sinsp_plugin::resolve_dylib_symbols`` check before a plugin is
initialised, with the same error texts, so a user moving from Falco sees the same messages. Nothing
here calls into the plugin beyond its static getters; ``host.PluginHost`` owns the initialised state.
"""

from __future__ import annotations

import ctypes as C
import json
import os
from dataclasses import dataclass, field
from typing import Any

from lanner.sources.api import SourceError
from lanner.sources.plugins import abi

CAP_SOURCING, CAP_EXTRACTION, CAP_PARSING, CAP_ASYNC, CAP_CAPTURE_LISTENING = 1, 2, 4, 8, 16
CAP_NAMES = ((CAP_SOURCING, "Event Sourcing"), (CAP_EXTRACTION, "Field Extraction"),
             (CAP_PARSING, "Event Parsing"), (CAP_ASYNC, "Async Events"),
             (CAP_CAPTURE_LISTENING, "Capture Listening"))

#: where Falco looks for a relative ``library_path`` (and lanner's own plugins folder)
PLUGIN_DIRS = ("/usr/share/falco/plugins", "/usr/share/lanner/plugins")

_FIELD_TYPES = {"string", "uint64", "reltime", "abstime", "bool", "ipaddr", "ipnet"}


class PluginLoadError(SourceError):
    """A plugin library that cannot be used; the message is Falco's for the same failure."""


@dataclass(frozen=True)
class PluginField:
    """One entry of ``plugin_get_fields()``; ``index`` is its position, which the SDKs dispatch on."""

    index: int
    name: str
    type: str
    desc: str
    display: str = ""
    is_list: bool = False
    arg_required: bool = False
    arg_index: bool = False
    arg_key: bool = False
    add_output: bool = False
    properties: tuple[str, ...] = ()

    @property
    def arg_allowed(self) -> bool:
        return self.arg_index or self.arg_key


@dataclass
class PluginLibrary:
    """A loaded (not yet initialised) plugin library and everything it declares statically."""

    path: str
    syms: dict[str, Any]
    name: str
    version: str
    required_api_version: str
    description: str
    contact: str
    caps: int
    id: int = 0
    event_source: str = ""
    fields: list[PluginField] = field(default_factory=list)
    extract_sources: frozenset[str] = frozenset()
    parse_sources: frozenset[str] = frozenset()
    async_sources: frozenset[str] = frozenset()
    async_events: tuple[str, ...] = ()
    handle: Any = None

    def has(self, cap: int) -> bool:
        return bool(self.caps & cap)

    def capability_names(self) -> list[str]:
        return [n for c, n in CAP_NAMES if self.caps & c]

    def init_schema(self) -> tuple[int, str]:
        """``plugin_get_init_schema``: (schema type, text); (SCHEMA_NONE, "") when not exported."""
        fn = self.syms["get_init_schema"]
        if fn is None:
            return abi.SCHEMA_NONE, ""
        st = C.c_uint32(abi.SCHEMA_NONE)
        text = _s(fn(C.byref(st)))
        return st.value, text


def resolve_path(library_path: str) -> str:
    """An absolute path as given; a relative one under Falco's plugins folder, then lanner's."""
    if os.path.isabs(library_path):
        return library_path
    for d in PLUGIN_DIRS:
        cand = os.path.join(d, library_path)
        if os.path.exists(cand):
            return cand
    return os.path.join(PLUGIN_DIRS[0], library_path)


def _s(b: bytes | None) -> str:
    return b.decode("utf-8", "replace") if b else ""


def _parse_version(text: str) -> tuple[int, int, int] | None:
    parts = text.strip().split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def check_api_version(required: str) -> None:
    """libs' ``plugin_check_required_api_version`` with its message."""
    ver = _parse_version(required)
    if ver is None:
        raise PluginLoadError(f"plugin provided an invalid required API version: '{required}'")
    major, minor, patch = ver
    fail = None
    if major != abi.API_VERSION[0]:
        fail = "major versions disagree"
    elif abi.API_VERSION[1] < minor:
        fail = "framework's minor is less than the requested one"
    elif abi.API_VERSION[1] == minor and abi.API_VERSION[2] < patch:
        fail = "framework's patch is less than the requested one"
    if fail:
        raise PluginLoadError(f"plugin required API version '{required}' not compatible with the framework's API "
                              f"version '{abi.API_VERSION_STR}': {fail}")


def _capabilities(syms: dict[str, Any]) -> int:
    caps, errs = 0, []
    if syms["open"] and syms["close"] and syms["next_batch"]:
        has_id = syms["get_id"] is not None and syms["get_id"]() != 0
        has_src = syms["get_event_source"] is not None and bool(_s(syms["get_event_source"]()))
        if has_id == has_src:
            caps |= CAP_SOURCING
        else:
            errs.append("must implement both 'plugin_get_id' and 'plugin_get_event_source' or neither "
                        "(event sourcing)")
    elif syms["open"] or syms["close"] or syms["next_batch"]:
        errs.append("must implement all of 'plugin_open', 'plugin_close', and 'plugin_next_batch' (event sourcing)")
    if syms["get_fields"] and syms["extract_fields"]:
        caps |= CAP_EXTRACTION
    elif syms["extract_fields"]:
        errs.append("must implement both 'plugin_get_fields' and 'plugin_extract_fields' (field extraction)")
    if syms["parse_event"]:
        caps |= CAP_PARSING
    if syms["get_async_events"] and syms["set_async_event_handler"]:
        caps |= CAP_ASYNC
    elif syms["set_async_event_handler"]:
        errs.append("must implement both 'plugin_get_async_events' and 'plugin_set_async_event_handler' "
                    "(async events)")
    if syms["capture_open"] and syms["capture_close"]:
        caps |= CAP_CAPTURE_LISTENING
    elif syms["capture_open"]:
        errs.append("must implement both 'plugin_capture_open' and 'plugin_capture_close' (capture listening)")
    if errs:
        raise PluginLoadError("broken plugin capabilities: " + ", ".join(errs))
    if caps == 0:
        raise PluginLoadError("plugin does not implement any capability")
    return caps


def _json_strlist(name: str, symbol: str, fn: Any, allow_empty: bool = True) -> list[str]:
    if fn is None:
        return []
    text = _s(fn())
    if not text:
        if allow_empty:
            return []
        raise PluginLoadError(f"error in plugin {name}: '{symbol}' did not return a json array but it should")
    try:
        root = json.loads(text)
    except ValueError:
        root = None
    if not isinstance(root, list) or not all(isinstance(x, str | int | float | bool) for x in root):
        raise PluginLoadError(f"error in plugin {name}: '{symbol}' did not return a json array")
    return [str(x) for x in root if str(x)]


def _bool_prop(name: str, fname: str, obj: dict[str, Any], key: str, what: str | None = None) -> bool:
    v = obj.get(key)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise PluginLoadError(f"error in plugin {name}: field {fname} {what or key} property is not boolean")
    return v


def parse_fields(name: str, text: str | None) -> list[PluginField]:
    """``plugin_get_fields()`` JSON into field definitions, with libs' checks and messages."""
    if text is None:
        raise PluginLoadError(f"error in plugin {name}: get_fields returned a null string")
    try:
        root = json.loads(text)
    except ValueError:
        root = None
    if not isinstance(root, list):
        raise PluginLoadError(f"error in plugin {name}: get_fields returned an invalid JSON")
    out = []
    for i, f in enumerate(root):
        f = f if isinstance(f, dict) else {}
        ftype, fname, desc = str(f.get("type") or ""), str(f.get("name") or ""), str(f.get("desc") or "")
        if not ftype:
            raise PluginLoadError(f"error in plugin {name}: field JSON entry has no type")
        if not fname:
            raise PluginLoadError(f"error in plugin {name}: field JSON entry has no name")
        if not desc:
            raise PluginLoadError(f"error in plugin {name}: field JSON entry has no desc")
        if ftype not in _FIELD_TYPES:
            raise PluginLoadError(f"error in plugin {name}: invalid field type {ftype}")
        is_list = _bool_prop(name, fname, f, "isList")
        add_output = _bool_prop(name, fname, f, "addOutput")
        arg = f.get("arg")
        req = idx = key = False
        if isinstance(arg, dict):
            req = _bool_prop(name, fname, arg, "isRequired")
            idx = _bool_prop(name, fname, arg, "isIndex")
            key = _bool_prop(name, fname, arg, "isKey")
            if req and not (idx or key):
                raise PluginLoadError(f"error in plugin {name}: field {fname} arg has isRequired true, but none of "
                                      "isKey nor isIndex is true")
        props = f.get("properties")
        if props is not None:
            if not isinstance(props, list):
                raise PluginLoadError(f"error in plugin {name}: field {fname} properties property is not array")
            if not all(isinstance(p, str) for p in props):
                raise PluginLoadError(f"error in plugin {name}: field {fname} properties value is not string")
        out.append(PluginField(i, fname, ftype, desc, str(f.get("display") or ""), is_list, req, idx, key,
                               add_output, tuple(props or ())))
    if not out:
        raise PluginLoadError(f"error in plugin {name}: plugins with extraction capability must export at least "
                              "one field")
    return out


def load_library(library_path: str) -> PluginLibrary:
    """Open ``library_path`` and read what the plugin declares; raises PluginLoadError with Falco's text.

    The library stays mapped for the life of the process: Go plugins carry a runtime that must never
    be unloaded, and Falco never unloads a plugin while running either.
    """
    path = resolve_path(library_path)
    try:
        lib = _open(path)
    except PluginLoadError as e:
        raise PluginLoadError(f"cannot load plugin {path}: {e}") from None
    name, syms, caps = lib.name, lib.syms, lib.caps
    own = {lib.event_source} if caps & CAP_SOURCING and lib.event_source else set()
    if caps & CAP_EXTRACTION:
        raw = syms["get_fields"]()
        lib.fields = parse_fields(name, None if raw is None else _s(raw))
        lib.extract_sources = frozenset(_json_strlist(name, "get_extract_event_sources",
                                                      syms["get_extract_event_sources"])) | own
    if caps & CAP_PARSING:
        lib.parse_sources = frozenset(_json_strlist(name, "get_parse_event_sources",
                                                    syms["get_parse_event_sources"])) | own
    if caps & CAP_ASYNC:
        lib.async_sources = frozenset(_json_strlist(name, "get_async_event_sources",
                                                    syms["get_async_event_sources"])) | own
        lib.async_events = tuple(_json_strlist(name, "get_async_events", syms["get_async_events"], False))
    return lib


def _open(path: str) -> PluginLibrary:
    """The checks whose failures Falco reports as ``cannot load plugin <path>: <reason>``."""
    try:
        handle = C.CDLL(path, mode=os.RTLD_NOW | os.RTLD_LOCAL)
    except OSError as e:
        raise PluginLoadError(f"can't load plugin dynamic library: {e}") from None
    syms: dict[str, Any] = abi.declare(handle)
    if syms["get_required_api_version"] is None:
        raise PluginLoadError("plugin_get_required_api_version symbol not implemented")
    required = _s(syms["get_required_api_version"]())
    check_api_version(required)
    for s in ("get_required_api_version", "get_version", "get_name", "get_description", "get_contact", "init",
              "destroy", "get_last_error"):
        if syms[s] is None:
            raise PluginLoadError(f"required symbol not implemented: '{s}'")
    name = _s(syms["get_name"]())
    version = _s(syms["get_version"]())
    if _parse_version(version.split("-")[0].split("+")[0]) is None:
        raise PluginLoadError(f"plugin provided an invalid version string: '{version}'")
    caps = _capabilities(syms)
    lib = PluginLibrary(path, syms, name, version, required, _s(syms["get_description"]()),
                        _s(syms["get_contact"]()), caps, handle=handle)
    if caps & CAP_SOURCING and syms["get_id"] is not None and syms["get_event_source"] is not None \
            and syms["get_id"]() != 0:
        lib.id = int(syms["get_id"]())
        lib.event_source = _s(syms["get_event_source"]())
        if lib.event_source == "syscall":
            raise PluginLoadError(f"plugin can't implement the reserved event source '{lib.event_source}'")
    return lib
