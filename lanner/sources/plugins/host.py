"""Hosting an initialised Falco plugin: what libs' ``sinsp_plugin`` does for each capability.

``PluginHost`` owns one plugin's state (``plugin_init``/``plugin_destroy``) and offers each capability
the plugin has: event sourcing (open, next_batch, close, progress, event_to_string), field extraction
(an extractor per field reference, for lanner's field registry), event parsing, async events and
metrics, plus the owner callbacks a plugin calls back into (logging, last owner error, state tables).

Events cross the boundary in libscap's layout (``events.encode_event``/``decode_event``). A plugin
shares the process, as in Falco: a plugin that crashes takes lanner down with it; every error it
*reports* (a non-success return code, malformed events or fields) is turned into a clear error or a
missing value and never reaches lanner's state.
"""

from __future__ import annotations

import ctypes as C
import ipaddress
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema

from lanner.events.base import ASYNC_EVENT_TYPE, PLUGIN_EVENT_TYPE, Event, PluginEvent
from lanner.events.syscall import SyscallEvent
from lanner.sources.api import SourceError
from lanner.sources.plugins import abi
from lanner.sources.plugins.events import decode_event, encode_event
from lanner.sources.plugins.library import (
    CAP_ASYNC,
    CAP_EXTRACTION,
    CAP_PARSING,
    CAP_SOURCING,
    PluginField,
    PluginLibrary,
    PluginLoadError,
)
from lanner.sources.plugins.tables import TableRegistry

log = logging.getLogger("lanner")

_owner_ids = itertools.count(1)
_HOSTS: dict[int, PluginHost] = {}
_U64_MAX = (1 << 64) - 1


def _host(owner: int | None) -> PluginHost | None:
    return _HOSTS.get(owner or 0)


@abi.OwnerLastErrorFn
def _owner_last_error(owner: int | None) -> int | None:
    h = _host(owner)
    if h is None or not h.owner_error:
        return None
    h._owner_err_buf = C.create_string_buffer(h.owner_error.encode())
    return C.addressof(h._owner_err_buf)


@abi.LogFn
def _log_fn(owner: int | None, component: bytes | None, msg: bytes | None, sev: int) -> None:
    h = _host(owner)
    prefix = component.decode("utf-8", "replace") if component else (h.name if h else "plugin")
    text = msg.decode("utf-8", "replace") if msg else ""
    log.log(abi.LOG_LEVELS.get(sev, logging.INFO), "%s: %s", prefix, text)


class PluginError(SourceError):
    """A plugin reported a failure while running (open, next_batch, extraction, parsing)."""


class PluginHost:
    """One initialised plugin. Not thread-safe per capability, like libs: extraction and parsing run
    on the event loop's thread; sourcing runs on its source's thread."""

    def __init__(self, lib: PluginLibrary, tables: TableRegistry | None = None) -> None:
        self.lib = lib
        self.name = lib.name
        self.state: int | None = None
        self.owner_id = next(_owner_ids)
        self.owner = C.c_void_p(self.owner_id)
        self.owner_error = ""
        self._owner_err_buf: Any = None
        self.tables = tables if tables is not None else TableRegistry()
        self._instance: int | None = None
        self._async_cb: Any = None
        self._async_queue: list[Event] = []
        self._async_lock = threading.Lock()
        self.extract_codes: frozenset[int] | None = None
        self.parse_codes: frozenset[int] | None = None
        self.errors = 0
        #: C strings handed to the plugin (field names, arguments), alive as long as the host
        self._keep: list[bytes] = []
        _HOSTS[self.owner_id] = self

    # --- life cycle ------------------------------------------------------------------------------
    def validated_config(self, config: Any) -> str:
        """The init config as text, checked against the plugin's JSON init schema (libs' messages)."""
        if config is None:
            text = ""
        elif isinstance(config, str):
            text = config
        else:
            text = json.dumps(config)
        stype, schema = self.lib.init_schema()
        if not schema or stype == abi.SCHEMA_NONE:
            return text
        if stype != abi.SCHEMA_JSON:
            raise PluginLoadError(f"error in plugin {self.name}: get_init_schema returned an unknown schema type "
                                  f"{stype}")
        try:
            sch = json.loads(schema)
        except ValueError:
            sch = None
        if not isinstance(sch, dict):
            raise PluginLoadError(f"error in plugin {self.name}: get_init_schema did not return a json object")
        if not text:
            text = "{}"
        try:
            doc = json.loads(text)
        except ValueError:
            raise PluginLoadError(f"error in plugin {self.name}: init config is not a valid json") from None
        try:
            jsonschema.validate(doc, sch)
        except jsonschema.ValidationError as e:
            where = "".join(f"[{p}]" if isinstance(p, int) else f"[\"{p}\"]" for p in e.absolute_path)
            raise PluginLoadError(f"error in plugin {self.name} init config: In <root>{where}, {e.message}") from None
        except jsonschema.SchemaError:
            raise PluginLoadError(f"error in plugin {self.name} init config: failed parsing with provided "
                                  "schema") from None
        return text

    def init(self, config: Any = None) -> None:
        """``plugin_init``: Falco's error is ``could not initialize plugin: <last error>``."""
        text = self.validated_config(config)
        inp = abi.InitInput()
        self._config_buf = C.create_string_buffer(text.encode())
        inp.config = C.cast(self._config_buf, C.c_char_p)
        inp.owner = self.owner
        inp.get_owner_last_error = _owner_last_error
        inp.log_fn = _log_fn
        if self.lib.caps & (CAP_PARSING | CAP_EXTRACTION):
            self._tables_in = self.tables.init_input()
            inp.tables = C.pointer(self._tables_in)
        rc = C.c_int32(abi.FAILURE)
        self.tables.current_owner = self
        try:
            state = self.lib.syms["init"](C.byref(inp), C.byref(rc))
        finally:
            self.tables.current_owner = None
        if state:
            self.state = state
        if rc.value != abi.SUCCESS:
            raise PluginLoadError(f"could not initialize plugin: {self.last_error()}")
        if self.lib.caps & CAP_EXTRACTION:
            self.extract_codes = self._codes("get_extract_event_types", self.lib.extract_sources)
        if self.lib.caps & CAP_PARSING:
            self.parse_codes = self._codes("get_parse_event_types", self.lib.parse_sources)

    def _codes(self, symbol: str, sources: frozenset[str]) -> frozenset[int] | None:
        """Event codes the plugin asks for; None means every code (a syscall-compatible plugin)."""
        fn = self.lib.syms[symbol]
        codes: set[int] = set()
        if fn is not None:
            n = C.c_uint32(0)
            arr = fn(C.byref(n), self.state)
            if arr:
                codes = {int(arr[i]) for i in range(n.value)}
        if codes:
            return frozenset(codes)
        if not sources or "syscall" in sources:
            return None
        return frozenset({PLUGIN_EVENT_TYPE})

    def last_error(self) -> str:
        if not self.state:
            return "plugin handle or 'get_last_error' function not defined"
        b = self.lib.syms["get_last_error"](self.state)
        return b.decode("utf-8", "replace") if b else ""

    def destroy(self) -> None:
        self.set_async_handler(None)
        if self.state:
            self.lib.syms["destroy"](self.state)
            self.state = None
        _HOSTS.pop(self.owner_id, None)

    def set_config(self, config: Any) -> bool:
        fn = self.lib.syms["set_config"]
        text = self.validated_config(config)
        if fn is None or not self.state:
            return False
        inp = abi.SetConfigInput(text.encode())
        return fn(self.state, C.byref(inp)) == abi.SUCCESS

    # --- event sourcing ----------------------------------------------------------------------------
    @property
    def source(self) -> str:
        """The event source this plugin produces: its own, or ``syscall`` for id-less source plugins."""
        if not self.lib.caps & CAP_SOURCING:
            return ""
        return self.lib.event_source or "syscall"

    def list_open_params(self) -> list[dict[str, Any]]:
        fn = self.lib.syms["list_open_params"]
        if fn is None or not self.state:
            return []
        rc = C.c_int32(abi.SUCCESS)
        text = fn(self.state, C.byref(rc))
        if rc.value != abi.SUCCESS:
            raise PluginError(f"error in plugin {self.name}: list_open_params: {self.last_error()}")
        try:
            out = json.loads(text.decode()) if text else []
        except ValueError:
            raise PluginError(f"error in plugin {self.name}: list_open_params did not return a json array") from None
        return out if isinstance(out, list) else []

    def open(self, params: str) -> None:
        if not self.lib.caps & CAP_SOURCING:
            raise PluginError(f"plugin {self.name} does not provide an event source")
        rc = C.c_int32(abi.FAILURE)
        h = self.lib.syms["open"](self.state, (params or "").encode(), C.byref(rc))
        if rc.value != abi.SUCCESS:
            raise PluginError(f"could not open plugin {self.name} with params '{params}': {self.last_error()}")
        self._instance = h

    def close(self) -> None:
        if self._instance is not None:
            self.lib.syms["close"](self.state, self._instance)
            self._instance = None

    def progress(self) -> tuple[str, int]:
        fn = self.lib.syms["get_progress"]
        if fn is None or self._instance is None:
            return "", 0
        pct = C.c_uint32(0)
        text = fn(self.state, self._instance, C.byref(pct))
        return (text.decode("utf-8", "replace") if text else ""), int(pct.value)

    def batches(self, first_num: int = 1) -> Iterator[list[Event] | None]:
        """Batches of events from ``plugin_next_batch`` until EOF; None on a timeout (nothing now).

        A plugin event's ``plugin_id`` is filled with the plugin's id when left 0, and an event time of
        ``UINT64_MAX`` becomes the time it was read, as libscap does.
        """
        if self._instance is None:
            raise PluginError(f"plugin {self.name} is not open")
        nevts = C.c_uint32(0)
        evts = C.POINTER(C.c_void_p)()
        fn = self.lib.syms["next_batch"]
        num = first_num
        src = self.source
        while True:
            rc = fn(self.state, self._instance, C.byref(nevts), C.byref(evts))
            if rc == abi.TIMEOUT:
                yield None
                continue
            if rc not in (abi.SUCCESS, abi.EOF):
                raise PluginError(f"error in plugin {self.name}: next_batch: {self.last_error() or 'failure'}")
            out: list[Event] = []
            now = time.time_ns()
            for i in range(nevts.value if evts else 0):
                try:
                    ev = decode_event(evts[i], num, src, self.name, self.lib.id, now)
                except ValueError as e:
                    raise PluginError(f"error in plugin {self.name}: malformed event #{num}: {e}") from None
                out.append(ev)
                num += 1
            if out:
                yield out
            if rc == abi.EOF:
                return

    def event_to_string(self, ev: PluginEvent) -> str:
        fn = self.lib.syms["event_to_string"]
        if fn is None:
            return ""
        buf = encode_event(ev, self.lib.id)
        inp = abi.EventInput(C.cast(buf, C.c_void_p), ev.num, self.source.encode())
        text = fn(self.state, C.byref(inp))
        return text.decode("utf-8", "replace") if text else ""

    # --- field extraction ------------------------------------------------------------------------
    def extractor(self, f: PluginField, arg: str | None) -> Callable[[Any], Any]:
        """An extractor for one field reference: one ``plugin_extract_fields`` call per event.

        The encoded event is shared by every plugin field read from the same event (``event.cache``).
        """
        req = abi.ExtractField()
        req.field_id = f.index
        name_b = f.name.encode()
        self._keep.append(name_b)
        req.field = name_b
        req.ftype = _FTYPES[f.type]
        req.flist = 1 if f.is_list else 0
        if arg is not None:
            req.arg_present = 1
            if f.arg_index and arg.isdigit():
                req.arg_index = int(arg)
            arg_b = arg.encode()
            self._keep.append(arg_b)
            req.arg_key = arg_b
        inp = abi.FieldExtractInput()
        inp.owner = self.owner
        inp.get_owner_last_error = _owner_last_error
        inp.num_fields = 1
        inp.fields = C.pointer(req)
        self.tables.fill_reader(inp)
        fn = self.lib.syms["extract_fields"]
        convert = _CONVERT[f.type]
        codes = self.extract_codes
        state = self.state
        tables = self.tables
        src_b: dict[str, Any] = {}
        lib_id = self.lib.id

        def extract(e: SyscallEvent | PluginEvent) -> Any:
            if codes is not None and e.type not in codes:
                return None
            ev_in = _event_input(e, lib_id, src_b)
            req.res_len = 0
            tables.current_owner = self
            rc = fn(state, C.byref(ev_in), C.byref(inp))
            if rc != abi.SUCCESS:
                self.errors += 1
                return None
            n = req.res_len
            if n == 0:
                return None
            try:
                if f.is_list:
                    return [convert(req.res, i) for i in range(n)]
                return convert(req.res, 0)
            except (ValueError, UnicodeDecodeError):
                self.errors += 1
                return None

        return extract

    # --- event parsing -----------------------------------------------------------------------------
    def parser(self) -> Callable[[Any], None] | None:
        """A callable that hands one event to ``plugin_parse_event`` (None: the plugin parses nothing)."""
        if not self.lib.caps & CAP_PARSING:
            return None
        inp = abi.EventParseInput()
        inp.owner = self.owner
        inp.get_owner_last_error = _owner_last_error
        self.tables.fill_reader_writer(inp)
        self._parse_in = inp
        fn = self.lib.syms["parse_event"]
        codes = self.parse_codes
        sources = self.lib.parse_sources
        src_b: dict[str, Any] = {}
        lib_id = self.lib.id

        def parse(e: SyscallEvent | PluginEvent) -> None:
            if codes is not None and e.type not in codes:
                return
            if sources and e.source not in sources:
                return
            ev_in = _event_input(e, lib_id, src_b)
            self.tables.current_owner = self
            if fn(self.state, C.byref(ev_in), C.byref(inp)) != abi.SUCCESS:
                self.errors += 1
                log.debug("plugin %s: parse_event failed on event #%d: %s", self.name, e.num, self.last_error())

        return parse

    # --- async events ------------------------------------------------------------------------------
    def set_async_handler(self, on_event: Callable[[Event], None] | None) -> None:
        """Start (or stop, with None) the plugin's async events; each arrives through ``on_event``.

        Names the plugin did not declare are rejected, as libs does.
        """
        fn = self.lib.syms["set_async_event_handler"]
        if fn is None or not self.lib.caps & CAP_ASYNC or not self.state:
            return
        if on_event is None:
            if self._async_cb is not None:
                fn(self.state, self.owner, abi.AsyncHandlerFn())
                self._async_cb = None
            return
        names = set(self.lib.async_events)
        counter = itertools.count(1)

        def handler(owner: int | None, evt: int | None, err: Any) -> int:
            try:
                ev = decode_event(evt, next(counter), "syscall", self.name, self.lib.id, time.time_ns())
            except ValueError as e:
                _set_err(err, f"malformed async event: {e}")
                return abi.FAILURE
            if ev.type != ASYNC_EVENT_TYPE:
                _set_err(err, "async events must be of type asyncevent")
                return abi.FAILURE
            name = ev.param("name") if isinstance(ev, SyscallEvent) else None
            if name not in names:
                _set_err(err, f"incompatible async event '{name}' for plugin '{self.name}'")
                return abi.FAILURE
            on_event(ev)
            return abi.SUCCESS

        self._async_cb = abi.AsyncHandlerFn(handler)
        if fn(self.state, self.owner, self._async_cb) != abi.SUCCESS:
            raise PluginError(f"error in plugin {self.name}: set_async_event_handler: {self.last_error()}")

    def dump_state(self) -> list[Event]:
        """``plugin_dump_state``: the async events that describe the plugin's state now."""
        fn = self.lib.syms["dump_state"]
        if fn is None or not self.state:
            return []
        out: list[Event] = []
        counter = itertools.count(1)

        def handler(owner: int | None, evt: int | None, err: Any) -> int:
            try:
                out.append(decode_event(evt, next(counter), "syscall", self.name, self.lib.id, time.time_ns()))
            except ValueError as e:
                _set_err(err, str(e))
                return abi.FAILURE
            return abi.SUCCESS

        cb = abi.AsyncHandlerFn(handler)
        if fn(self.state, self.owner, cb) != abi.SUCCESS:
            raise PluginError(f"dump error for plugin '{self.name}' : {self.last_error()}")
        return out

    # --- metrics -----------------------------------------------------------------------------------
    def metrics(self) -> dict[str, float]:
        fn = self.lib.syms["get_metrics"]
        if fn is None or not self.state:
            return {}
        n = C.c_uint32(0)
        arr = fn(self.state, C.byref(n))
        out: dict[str, float] = {}
        for i in range(n.value if arr else 0):
            m = arr[i]
            name = m.name.decode("utf-8", "replace") if m.name else f"metric{i}"
            out[f"{self.name}.{name}"] = _metric_value(m)
        return out


def _set_err(buf: Any, text: str) -> None:
    if buf:
        b = text.encode()[: abi.MAX_ERRLEN - 1] + b"\0"
        C.memmove(buf, b, len(b))


def _event_input(e: SyscallEvent | PluginEvent, lib_id: int, src_cache: dict[str, Any]) -> abi.EventInput:
    """The ``ss_plugin_event_input`` for ``e``, encoded once per event and shared through its cache."""
    c = e.cache
    inp = c.get("__plugin_in")
    if inp is None:
        buf = encode_event(e, lib_id)
        src = src_cache.get(e.source)
        if src is None:
            src = src_cache[e.source] = e.source.encode()
        inp = abi.EventInput(C.cast(buf, C.c_void_p), e.num, src)
        c["__plugin_in"] = inp
        c["__plugin_buf"] = buf
    return inp


_METRIC_MEMBERS = ("u32", "s32", "u64", "s64", "d", "f", "i")     # by ss_plugin_metric_value_type


def _metric_value(m: abi.Metric) -> float:
    t = m.value_type
    return getattr(m.value, _METRIC_MEMBERS[t]) if 0 <= t < len(_METRIC_MEMBERS) else 0


_FTYPES = {"uint64": abi.FTYPE_UINT64, "string": abi.FTYPE_STRING, "reltime": abi.FTYPE_RELTIME,
           "abstime": abi.FTYPE_ABSTIME, "bool": abi.FTYPE_BOOL, "ipaddr": abi.FTYPE_IPADDR,
           "ipnet": abi.FTYPE_IPNET}


def _str(res: abi.ExtractResult, i: int) -> str:
    b = res.str[i]
    return b.decode("utf-8", "surrogateescape") if b is not None else ""


def _u64(res: abi.ExtractResult, i: int) -> int:
    return int(res.u64[i])


def _bool(res: abi.ExtractResult, i: int) -> bool:
    return bool(res.boolean[i])


def _ip(res: abi.ExtractResult, i: int) -> Any:
    b = res.buf[i]
    data = C.string_at(b.ptr, b.len) if b.ptr else b""
    return ipaddress.ip_address(data)


def _net(res: abi.ExtractResult, i: int) -> Any:
    b = res.buf[i]
    data = C.string_at(b.ptr, b.len) if b.ptr else b""
    if len(data) == 8:
        return ipaddress.ip_network((data[:4], bin(int.from_bytes(data[4:], "big")).count("1")), strict=False)
    if len(data) == 32:
        return ipaddress.ip_network((data[:16], bin(int.from_bytes(data[16:], "big")).count("1")), strict=False)
    return ipaddress.ip_network(data)


_CONVERT: dict[str, Callable[[abi.ExtractResult, int], Any]] = {
    "string": _str, "uint64": _u64, "reltime": _u64, "abstime": _u64, "bool": _bool, "ipaddr": _ip, "ipnet": _net}
