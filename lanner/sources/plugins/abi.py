"""ctypes mirror of Falco's plugin C ABI (``plugin_api.h``, API 3.x) as far as lanner hosts it.

Only layouts and signatures live here; what lanner does with them is in ``library`` (opening a shared
library, its metadata and capabilities) and ``host`` (init, sourcing, extraction, parsing, async).
Every struct mirrors the header's field order exactly: a plugin reads them by offset.
"""

from __future__ import annotations

import ctypes as C

from lanner.version import PLUGIN_API_VERSION

#: the plugin API version lanner implements (Falco 0.44.1 / libs 0.25 report the same)
API_VERSION_STR = PLUGIN_API_VERSION
API_VERSION = tuple(int(x) for x in API_VERSION_STR.split("."))
MAX_ERRLEN = 1024

# ss_plugin_rc
SUCCESS, FAILURE, TIMEOUT, EOF, NOT_SUPPORTED = 0, 1, -1, 2, 3
RC_NAMES = {SUCCESS: "success", FAILURE: "failure", TIMEOUT: "timeout", EOF: "eof", NOT_SUPPORTED: "not supported"}

# ss_plugin_field_type
FTYPE_UINT64, FTYPE_STRING, FTYPE_RELTIME, FTYPE_ABSTIME = 8, 9, 20, 21
FTYPE_BOOL, FTYPE_IPADDR, FTYPE_IPNET = 25, 40, 41

# ss_plugin_schema_type
SCHEMA_NONE, SCHEMA_JSON = 0, 1

# ss_plugin_state_type
ST_INT8, ST_INT16, ST_INT32, ST_INT64 = 1, 2, 3, 4
ST_UINT8, ST_UINT16, ST_UINT32, ST_UINT64 = 5, 6, 7, 8
ST_STRING, ST_TABLE, ST_BOOL = 9, 10, 25

# ss_plugin_log_severity -> Python logging level
LOG_LEVELS = {1: 50, 2: 50, 3: 40, 4: 30, 5: 20, 6: 20, 7: 10, 8: 10}

u8, u16, u32, u64, i64 = C.c_uint8, C.c_uint16, C.c_uint32, C.c_uint64, C.c_int64
vp, cp = C.c_void_p, C.c_char_p

EVENT_HEADER_SIZE = 26      # packed ts u64, tid u64, len u32, type u16, nparams u32


class EventHeader(C.Structure):
    _pack_ = 1
    _fields_ = [("ts", u64), ("tid", u64), ("len", u32), ("type", u16), ("nparams", u32)]


class EventInput(C.Structure):
    _fields_ = [("evt", vp), ("evtnum", u64), ("evtsrc", cp)]


class ByteBuffer(C.Structure):
    _fields_ = [("len", u32), ("ptr", vp)]


class ExtractResult(C.Union):
    _fields_ = [("str", C.POINTER(cp)), ("u64", C.POINTER(u64)), ("u32", C.POINTER(u32)),
                ("boolean", C.POINTER(u32)), ("buf", C.POINTER(ByteBuffer))]


class ExtractField(C.Structure):
    _fields_ = [("res", ExtractResult), ("res_len", u64), ("field_id", u32), ("field", cp), ("arg_key", cp),
                ("arg_index", u64), ("arg_present", u32), ("ftype", u32), ("flist", u32)]


class ValueOffsets(C.Structure):
    _fields_ = [("start", C.POINTER(u32)), ("length", C.POINTER(u32))]


class StateData(C.Union):
    _fields_ = [("s8", C.c_int8), ("s16", C.c_int16), ("s32", C.c_int32), ("s64", i64), ("u8", u8),
                ("u16", u16), ("u32", u32), ("u64", u64), ("str", cp), ("b", u32), ("table", vp)]


class TableInfo(C.Structure):
    _fields_ = [("name", cp), ("key_type", u32)]


class TableFieldInfo(C.Structure):
    _fields_ = [("name", cp), ("field_type", u32), ("read_only", u32)]


# --- owner callbacks ------------------------------------------------------------------------------
OwnerLastErrorFn = C.CFUNCTYPE(vp, vp)
LogFn = C.CFUNCTYPE(None, vp, cp, cp, u32)
AsyncHandlerFn = C.CFUNCTYPE(C.c_int32, vp, vp, C.POINTER(C.c_char))

# tables vtables (function pointer members; lanner fills them with CFUNCTYPE objects). Callbacks that
# return pointers are declared returning void*: ctypes callbacks can only return simple types.
ListTablesFn = C.CFUNCTYPE(vp, vp, C.POINTER(u32))
GetTableFn = C.CFUNCTYPE(vp, vp, cp, u32)
AddTableFn = C.CFUNCTYPE(C.c_int32, vp, vp)
ListTableFieldsFn = C.CFUNCTYPE(vp, vp, C.POINTER(u32))
GetTableFieldFn = C.CFUNCTYPE(vp, vp, cp, u32)
AddTableFieldFn = C.CFUNCTYPE(vp, vp, cp, u32)
GetTableNameFn = C.CFUNCTYPE(vp, vp)
GetTableSizeFn = C.CFUNCTYPE(u64, vp)
GetTableEntryFn = C.CFUNCTYPE(vp, vp, C.POINTER(StateData))
ReadEntryFieldFn = C.CFUNCTYPE(C.c_int32, vp, vp, vp, C.POINTER(StateData))
ReleaseTableEntryFn = C.CFUNCTYPE(None, vp, vp)
IteratorFn = C.CFUNCTYPE(u32, vp, vp)
IterateEntriesFn = C.CFUNCTYPE(u32, vp, IteratorFn, vp)
ClearTableFn = C.CFUNCTYPE(C.c_int32, vp)
EraseTableEntryFn = C.CFUNCTYPE(C.c_int32, vp, C.POINTER(StateData))
CreateTableEntryFn = C.CFUNCTYPE(vp, vp)
DestroyTableEntryFn = C.CFUNCTYPE(None, vp, vp)
AddTableEntryFn = C.CFUNCTYPE(vp, vp, C.POINTER(StateData), vp)
WriteEntryFieldFn = C.CFUNCTYPE(C.c_int32, vp, vp, vp, C.POINTER(StateData))


class TableFields(C.Structure):
    _fields_ = [("list_table_fields", ListTableFieldsFn), ("get_table_field", GetTableFieldFn),
                ("add_table_field", AddTableFieldFn)]


class TableReader(C.Structure):
    _fields_ = [("get_table_name", GetTableNameFn), ("get_table_size", GetTableSizeFn),
                ("get_table_entry", GetTableEntryFn), ("read_entry_field", ReadEntryFieldFn)]


class TableReaderExt(C.Structure):
    _fields_ = [("get_table_name", GetTableNameFn), ("get_table_size", GetTableSizeFn),
                ("get_table_entry", GetTableEntryFn), ("read_entry_field", ReadEntryFieldFn),
                ("release_table_entry", ReleaseTableEntryFn), ("iterate_entries", IterateEntriesFn)]


class TableWriter(C.Structure):
    _fields_ = [("clear_table", ClearTableFn), ("erase_table_entry", EraseTableEntryFn),
                ("create_table_entry", CreateTableEntryFn), ("destroy_table_entry", DestroyTableEntryFn),
                ("add_table_entry", AddTableEntryFn), ("write_entry_field", WriteEntryFieldFn)]


TableWriterExt = type("TableWriterExt", (C.Structure,), {"_fields_": TableWriter._fields_})
TableFieldsExt = type("TableFieldsExt", (C.Structure,), {"_fields_": TableFields._fields_})


class TableInput(C.Structure):
    """``ss_plugin_table_input``: a table a plugin owns and registers with ``add_table``."""

    _fields_ = [("name", cp), ("key_type", u32), ("table", vp), ("reader", TableReader), ("writer", TableWriter),
                ("fields", TableFields), ("reader_ext", C.POINTER(TableReaderExt)),
                ("writer_ext", C.POINTER(TableWriterExt)), ("fields_ext", C.POINTER(TableFieldsExt))]


class InitTablesInput(C.Structure):
    _fields_ = [("list_tables", ListTablesFn), ("get_table", GetTableFn), ("add_table", AddTableFn),
                ("fields", TableFields), ("fields_ext", C.POINTER(TableFieldsExt)),
                ("reader_ext", C.POINTER(TableReaderExt)), ("writer_ext", C.POINTER(TableWriterExt))]


class InitInput(C.Structure):
    _fields_ = [("config", cp), ("owner", vp), ("get_owner_last_error", OwnerLastErrorFn),
                ("tables", C.POINTER(InitTablesInput)), ("log_fn", LogFn)]


class FieldExtractInput(C.Structure):
    _fields_ = [("owner", vp), ("get_owner_last_error", OwnerLastErrorFn), ("num_fields", u32),
                ("fields", C.POINTER(ExtractField)), ("table_reader", TableReader),
                ("table_reader_ext", C.POINTER(TableReaderExt)), ("value_offsets", C.POINTER(ValueOffsets))]


class EventParseInput(C.Structure):
    _fields_ = [("owner", vp), ("get_owner_last_error", OwnerLastErrorFn), ("table_reader", TableReader),
                ("table_writer", TableWriter), ("table_reader_ext", C.POINTER(TableReaderExt)),
                ("table_writer_ext", C.POINTER(TableWriterExt))]


class SetConfigInput(C.Structure):
    _fields_ = [("config", cp)]


class MetricValue(C.Union):
    _fields_ = [("u32", u32), ("s32", C.c_int32), ("u64", u64), ("s64", i64), ("d", C.c_double),
                ("f", C.c_float), ("i", C.c_int)]


class Metric(C.Structure):
    _fields_ = [("name", cp), ("type", u32), ("value", MetricValue), ("value_type", u32)]


def declare(lib: C.CDLL) -> dict[str, object]:
    """Resolve every ``plugin_*`` symbol lanner uses, with its prototype; absent ones are None.

    The symbols are looked up one by one, as libs' plugin loader does, so capability detection is by
    symbol presence.
    """
    protos: dict[str, tuple[object, list[object]]] = {
        "get_required_api_version": (cp, []),
        "get_init_schema": (cp, [C.POINTER(u32)]),
        "init": (vp, [C.POINTER(InitInput), C.POINTER(C.c_int32)]),
        "destroy": (None, [vp]),
        "get_last_error": (cp, [vp]),
        "get_name": (cp, []),
        "get_description": (cp, []),
        "get_contact": (cp, []),
        "get_version": (cp, []),
        "get_id": (u32, []),
        "get_event_source": (cp, []),
        "open": (vp, [vp, cp, C.POINTER(C.c_int32)]),
        "close": (None, [vp, vp]),
        "list_open_params": (cp, [vp, C.POINTER(C.c_int32)]),
        "get_progress": (cp, [vp, vp, C.POINTER(u32)]),
        "event_to_string": (cp, [vp, C.POINTER(EventInput)]),
        "next_batch": (C.c_int32, [vp, vp, C.POINTER(u32), C.POINTER(C.POINTER(vp))]),
        "get_extract_event_types": (C.POINTER(u16), [C.POINTER(u32), vp]),
        "get_extract_event_sources": (cp, []),
        "get_fields": (cp, []),
        "extract_fields": (C.c_int32, [vp, C.POINTER(EventInput), C.POINTER(FieldExtractInput)]),
        "get_parse_event_types": (C.POINTER(u16), [C.POINTER(u32), vp]),
        "get_parse_event_sources": (cp, []),
        "parse_event": (C.c_int32, [vp, C.POINTER(EventInput), C.POINTER(EventParseInput)]),
        "get_async_event_sources": (cp, []),
        "get_async_events": (cp, []),
        "set_async_event_handler": (C.c_int32, [vp, vp, AsyncHandlerFn]),
        "dump_state": (C.c_int32, [vp, vp, AsyncHandlerFn]),
        "set_config": (C.c_int32, [vp, C.POINTER(SetConfigInput)]),
        "get_metrics": (C.POINTER(Metric), [vp, C.POINTER(u32)]),
        "capture_open": (C.c_int32, [vp, vp]),
        "capture_close": (C.c_int32, [vp, vp]),
        "get_required_event_schema_version": (cp, [vp]),
    }
    out: dict[str, object] = {}
    for name, (restype, argtypes) in protos.items():
        try:
            fn = getattr(lib, "plugin_" + name)
        except AttributeError:
            out[name] = None
            continue
        fn.restype = restype
        fn.argtypes = argtypes
        out[name] = fn
    return out
