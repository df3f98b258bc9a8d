"""The state tables API a plugin sees (``ss_plugin_init_tables_input`` and the reader/writer vtables).

lanner offers the ``threads`` table (key: tid, INT64) backed by its own thread state, with the fields
libs defines for it that lanner tracks, plus any field a plugin adds at run time (kept beside lanner's
state, per thread); and it relays tables a plugin registers with ``add_table`` to the other plugins.
Subtables (``file_descriptors``, ``args``, ``env``, ``cgroups`` as table-typed fields) are not offered:
``get_table_field`` returns NULL for them and sets the owner error, so the plugin reports a clear
"can't access" error at init.

Every pointer a plugin receives (table, entry, field) is a small integer handle owned here.
"""

from __future__ import annotations

import ctypes as C
import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lanner.sources.plugins import abi

log = logging.getLogger("lanner")

_NUMERIC = {abi.ST_INT8: "s8", abi.ST_INT16: "s16", abi.ST_INT32: "s32", abi.ST_INT64: "s64",
            abi.ST_UINT8: "u8", abi.ST_UINT16: "u16", abi.ST_UINT32: "u32", abi.ST_UINT64: "u64"}
_DEFAULTS = {abi.ST_STRING: "", abi.ST_BOOL: False}

#: libs' names for the thread fields lanner tracks: (state type, getter)
THREAD_FIELDS: dict[str, tuple[int, Callable[[Any], Any]]] = {
    "tid": (abi.ST_INT64, lambda t: t.tid), "pid": (abi.ST_INT64, lambda t: t.pid),
    "ptid": (abi.ST_INT64, lambda t: t.ptid), "sid": (abi.ST_INT64, lambda t: t.sid),
    "vpgid": (abi.ST_INT64, lambda t: t.vpgid), "pgid": (abi.ST_INT64, lambda t: t.pgid),
    "vtid": (abi.ST_INT64, lambda t: t.vtid), "vpid": (abi.ST_INT64, lambda t: t.vpid),
    "reaper_tid": (abi.ST_INT64, lambda t: t.reaper_tid),
    "comm": (abi.ST_STRING, lambda t: t.comm), "exe": (abi.ST_STRING, lambda t: t.exe),
    "exepath": (abi.ST_STRING, lambda t: t.exepath), "cwd": (abi.ST_STRING, lambda t: t.cwd),
    "root": (abi.ST_STRING, lambda t: t.root), "container_id": (abi.ST_STRING, lambda t: t.container_id),
    "uid": (abi.ST_UINT32, lambda t: t.uid & 0xFFFFFFFF), "gid": (abi.ST_UINT32, lambda t: t.gid & 0xFFFFFFFF),
    "loginuid": (abi.ST_UINT32, lambda t: t.loginuid & 0xFFFFFFFF), "tty": (abi.ST_UINT32, lambda t: t.tty),
    "exe_writable": (abi.ST_BOOL, lambda t: t.exe_writable),
    "exe_upper_layer": (abi.ST_BOOL, lambda t: t.exe_upper_layer),
    "exe_lower_layer": (abi.ST_BOOL, lambda t: t.exe_lower_layer),
    "exe_from_memfd": (abi.ST_BOOL, lambda t: t.exe_from_memfd),
    "cap_permitted": (abi.ST_UINT64, lambda t: t.cap_permitted),
    "cap_effective": (abi.ST_UINT64, lambda t: t.cap_effective),
    "cap_inheritable": (abi.ST_UINT64, lambda t: t.cap_inheritable),
    "clone_ts": (abi.ST_UINT64, lambda t: t.clone_ts), "lastexec_ts": (abi.ST_UINT64, lambda t: t.lastexec_ts),
}


@dataclass
class TableField:
    table: Any
    name: str
    type: int
    read_only: bool
    getter: Callable[[Any], Any] | None = None


class ThreadsTable:
    """libs' ``threads`` table over lanner's thread state (``ThreadTable``: ``get(tid)``, ``threads``)."""

    name = "threads"
    key_type = abi.ST_INT64

    def __init__(self) -> None:
        self.state: Any = None
        self.fields: dict[str, TableField] = {
            n: TableField(self, n, t, True, g) for n, (t, g) in THREAD_FIELDS.items()}
        self.extra: dict[int, dict[str, Any]] = {}
        self.created: dict[int, Any] = {}

    def _threads(self) -> dict[int, Any]:
        return getattr(getattr(self.state, "threads", None), "threads", None) or {}

    def size(self) -> int:
        return len(self._threads())

    def get(self, key: int) -> Any:
        tt = getattr(self.state, "threads", None)
        return tt.get(key) if tt is not None else None

    def read(self, entry: Any, f: TableField) -> Any:
        if f.getter is not None:
            return f.getter(entry)
        return self.extra.get(entry.tid, {}).get(f.name, _default(f.type))

    def write(self, entry: Any, f: TableField, value: Any) -> bool:
        if f.read_only:
            return False
        self.extra.setdefault(entry.tid, {})[f.name] = value
        return True

    def entries(self) -> Iterable[Any]:
        return list(self._threads().values())

    def erase(self, key: int) -> bool:
        self.extra.pop(key, None)
        return True

    def clear(self) -> None:
        self.extra.clear()


def _default(t: int) -> Any:
    return _DEFAULTS.get(t, 0)


@dataclass
class ForeignTable:
    """A table a plugin owns and registered with ``add_table``: every call is relayed to its vtables."""

    name: str
    key_type: int
    ptr: int
    reader: Any
    writer: Any
    fields_vt: Any
    owner: Any = None
    fields: dict[str, TableField] = field(default_factory=dict)

    def error(self, default: str) -> str:
        """The owning plugin's last error (libs relays it as the owner error), else ``default``."""
        try:
            return (self.owner.last_error() if self.owner is not None else "") or default
        except Exception:  # noqa: BLE001 - only used to word an error
            return default


class TableRegistry:
    """The tables of one lanner process and the C callbacks plugins call to reach them."""

    def __init__(self) -> None:
        self.threads = ThreadsTable()
        self.tables: dict[str, Any] = {"threads": self.threads}
        self._handles: dict[int, Any] = {}
        self._ids = itertools.count(0x1000)
        self._table_handle: dict[int, int] = {}
        self.current_owner: Any = None
        self._keep: list[Any] = []
        self._strings: dict[Any, Any] = {}
        #: strings read from an entry, alive until the plugin releases that entry (libs' lifetime)
        self._read_strings: dict[int, dict[int, Any]] = {}
        self._build_vtables()

    def attach_state(self, state: Any) -> None:
        """Back the ``threads`` table with lanner's state engine."""
        self.threads.state = state

    # --- handles -----------------------------------------------------------------------------------
    def _handle(self, obj: Any) -> int:
        key = id(obj)
        h = self._table_handle.get(key)
        if h is None:
            h = next(self._ids)
            self._handles[h] = obj
            self._table_handle[key] = h
        return h

    def _entry_handle(self, table: Any, entry: Any) -> int:
        h = next(self._ids)
        self._handles[h] = (table, entry)
        return h

    def _obj(self, h: int | None) -> Any:
        return self._handles.get(h or 0)

    def _fail(self, msg: str) -> None:
        owner = self.current_owner
        if owner is not None:
            owner.owner_error = msg

    # --- vtables -----------------------------------------------------------------------------------
    def _build_vtables(self) -> None:
        cb = self._keep.append

        def mk(proto: Any, fn: Callable[..., Any]) -> Any:
            f = proto(fn)
            cb(f)
            return f

        self.f_list_tables = mk(abi.ListTablesFn, self._list_tables)
        self.f_get_table = mk(abi.GetTableFn, self._get_table)
        self.f_add_table = mk(abi.AddTableFn, self._add_table)
        fields = (mk(abi.ListTableFieldsFn, self._list_fields), mk(abi.GetTableFieldFn, self._get_field),
                  mk(abi.AddTableFieldFn, self._add_field))
        self.fields_vt = abi.TableFields(*fields)
        self.fields_ext = abi.TableFieldsExt(*fields)
        reader = (mk(abi.GetTableNameFn, self._table_name), mk(abi.GetTableSizeFn, self._table_size),
                  mk(abi.GetTableEntryFn, self._get_entry), mk(abi.ReadEntryFieldFn, self._read_field))
        self.reader_vt = abi.TableReader(*reader)
        self.reader_ext = abi.TableReaderExt(*reader, mk(abi.ReleaseTableEntryFn, self._release_entry),
                                             mk(abi.IterateEntriesFn, self._iterate))
        writer = (mk(abi.ClearTableFn, self._clear), mk(abi.EraseTableEntryFn, self._erase),
                  mk(abi.CreateTableEntryFn, self._create_entry), mk(abi.DestroyTableEntryFn, self._destroy_entry),
                  mk(abi.AddTableEntryFn, self._add_entry), mk(abi.WriteEntryFieldFn, self._write_field))
        self.writer_vt = abi.TableWriter(*writer)
        self.writer_ext = abi.TableWriterExt(*writer)

    def init_input(self) -> abi.InitTablesInput:
        return abi.InitTablesInput(self.f_list_tables, self.f_get_table, self.f_add_table, self.fields_vt,
                                   C.pointer(self.fields_ext), C.pointer(self.reader_ext),
                                   C.pointer(self.writer_ext))

    def fill_reader(self, inp: Any) -> None:
        inp.table_reader = self.reader_vt
        inp.table_reader_ext = C.pointer(self.reader_ext)

    def fill_reader_writer(self, inp: Any) -> None:
        self.fill_reader(inp)
        inp.table_writer = self.writer_vt
        inp.table_writer_ext = C.pointer(self.writer_ext)

    # --- tables ------------------------------------------------------------------------------------
    def _list_tables(self, owner: Any, ntables: Any) -> Any:
        infos = (abi.TableInfo * len(self.tables))()
        for i, t in enumerate(self.tables.values()):
            infos[i].name = self._cstr(("tname", t.name), t.name)
            infos[i].key_type = t.key_type
        self._keep_last("tables", infos)
        ntables[0] = len(self.tables)
        return C.addressof(infos)

    def _get_table(self, owner: Any, name: bytes | None, key_type: int) -> int | None:
        n = (name or b"").decode()
        t = self.tables.get(n)
        if t is None:
            self._fail(f"table '{n}' not found")
            return None
        if t.key_type != key_type:
            self._fail(f"table '{n}' has a key of type {t.key_type}, not {key_type}")
            return None
        return self._handle(t)

    def _add_table(self, owner: Any, inp_ptr: int | None) -> int:
        if not inp_ptr:
            return abi.FAILURE
        inp = C.cast(inp_ptr, C.POINTER(abi.TableInput)).contents
        name = (inp.name or b"").decode()
        if name in self.tables:
            self._fail(f"table '{name}' is already registered")
            return abi.FAILURE
        reader = inp.reader_ext.contents if inp.reader_ext else inp.reader
        writer = inp.writer_ext.contents if inp.writer_ext else inp.writer
        fields_vt = inp.fields_ext.contents if inp.fields_ext else inp.fields
        self.tables[name] = ForeignTable(name, inp.key_type, inp.table, reader, writer, fields_vt, self.current_owner)
        return abi.SUCCESS

    def _table(self, h: int | None) -> Any:
        t = self._obj(h)
        return t if isinstance(t, ThreadsTable | ForeignTable) else None

    def _list_fields(self, th: int | None, nfields: Any) -> Any:
        t = self._table(th)
        if t is None:
            return None
        if isinstance(t, ForeignTable):
            return t.fields_vt.list_table_fields(t.ptr, nfields)
        infos = (abi.TableFieldInfo * len(t.fields))()
        for i, f in enumerate(t.fields.values()):
            infos[i].name = self._cstr(("fname", f.name), f.name)
            infos[i].field_type = f.type
            infos[i].read_only = 1 if f.read_only else 0
        self._keep_last(("fields", t.name), infos)
        nfields[0] = len(t.fields)
        return C.addressof(infos)

    def _get_field(self, th: int | None, name: bytes | None, typ: int) -> int | None:
        t = self._table(th)
        n = (name or b"").decode()
        if t is None:
            return None
        if isinstance(t, ForeignTable):
            ptr = t.fields_vt.get_table_field(t.ptr, name, typ)
            if not ptr:
                self._fail(f"field '{n}' not found in table '{t.name}'")
                return None
            return self._handle(t.fields.setdefault(n, TableField(t, n, typ, False, ptr)))
        f = t.fields.get(n)
        if f is None or f.type != typ:
            self._fail(f"field '{n}' of type {typ} not found in table '{t.name}'")
            return None
        return self._handle(f)

    def _add_field(self, th: int | None, name: bytes | None, typ: int) -> int | None:
        t = self._table(th)
        n = (name or b"").decode()
        if t is None:
            return None
        if isinstance(t, ForeignTable):
            ptr = t.fields_vt.add_table_field(t.ptr, name, typ)
            if not ptr:
                return None
            return self._handle(t.fields.setdefault(n, TableField(t, n, typ, False, ptr)))
        if typ == abi.ST_TABLE:
            self._fail(f"table-typed fields cannot be added to table '{t.name}'")
            return None
        f = t.fields.get(n)
        if f is not None:
            if f.type != typ:
                self._fail(f"field '{n}' is already defined in table '{t.name}' with another type")
                return None
            return self._handle(f)
        f = t.fields[n] = TableField(t, n, typ, False)
        return self._handle(f)

    def _table_name(self, th: int | None) -> int | None:
        t = self._table(th)
        return C.cast(self._cstr(("tname", t.name), t.name), C.c_void_p).value if t is not None else None

    def _table_size(self, th: int | None) -> int:
        t = self._table(th)
        if t is None:
            return (1 << 64) - 1
        if isinstance(t, ForeignTable):
            return int(t.reader.get_table_size(t.ptr))
        return t.size()

    def _get_entry(self, th: int | None, key: Any) -> int | None:
        t = self._table(th)
        if t is None or not key:
            return None
        if isinstance(t, ForeignTable):
            e = t.reader.get_table_entry(t.ptr, key)
            if not e:
                self._fail(t.error(f"no such entry in table '{t.name}'"))
                return None
            return self._entry_handle(t, e)
        k = getattr(key.contents, _NUMERIC.get(t.key_type, "s64"))
        e = t.get(k)
        if e is None:
            self._fail(f"no entry with key {k} in table '{t.name}'")
            return None
        return self._entry_handle(t, e)

    def _forget(self, eh: int | None) -> Any:
        """Drop an entry handle and the strings read from it; the entry pair it stood for."""
        self._read_strings.pop(eh or 0, None)
        return self._handles.pop(eh or 0, None)

    def _release_entry(self, th: int | None, eh: int | None) -> None:
        pair = self._forget(eh)
        if isinstance(pair, tuple):
            t, e = pair
            if isinstance(t, ForeignTable) and hasattr(t.reader, "release_table_entry"):
                t.reader.release_table_entry(t.ptr, e)

    def _read_field(self, th: int | None, eh: int | None, fh: int | None, out: Any) -> int:
        pair = self._obj(eh)
        f = self._obj(fh)
        if not isinstance(pair, tuple) or not isinstance(f, TableField) or not out:
            self._fail("invalid entry or field")
            return abi.FAILURE
        t, e = pair
        if isinstance(t, ForeignTable):
            rc = int(t.reader.read_entry_field(t.ptr, e, f.getter, out))
            if rc != abi.SUCCESS:
                self._fail(t.error(f"cannot read field '{f.name}' of table '{t.name}'"))
            return rc
        v = t.read(e, f)
        return self._store(out.contents, f.type, v, eh or 0, fh or 0)

    def _store(self, out: abi.StateData, typ: int, v: Any, eh: int, fh: int) -> int:
        if typ == abi.ST_STRING:
            b = C.create_string_buffer(str(v if v is not None else "").encode("utf-8", "surrogateescape"))
            self._read_strings.setdefault(eh, {})[fh] = b
            out.str = C.cast(b, C.c_char_p)
        elif typ == abi.ST_BOOL:
            out.b = 1 if v else 0
        elif typ in _NUMERIC:
            setattr(out, _NUMERIC[typ], int(v or 0))
        else:
            self._fail("table-typed fields are not offered by lanner")
            return abi.FAILURE
        return abi.SUCCESS

    def _iterate(self, th: int | None, it: Any, state: Any) -> int:
        t = self._table(th)
        if t is None:
            return 0
        if isinstance(t, ForeignTable):
            return int(t.reader.iterate_entries(t.ptr, it, state))
        for e in t.entries():
            h = self._entry_handle(t, e)
            try:
                if not it(state, h):
                    return 0
            finally:
                self._forget(h)
        return 1

    def _clear(self, th: int | None) -> int:
        t = self._table(th)
        if t is None:
            return abi.FAILURE
        if isinstance(t, ForeignTable):
            return int(t.writer.clear_table(t.ptr))
        t.clear()
        return abi.SUCCESS

    def _erase(self, th: int | None, key: Any) -> int:
        t = self._table(th)
        if t is None or not key:
            return abi.FAILURE
        if isinstance(t, ForeignTable):
            return int(t.writer.erase_table_entry(t.ptr, key))
        return abi.SUCCESS if t.erase(key.contents.s64) else abi.FAILURE

    def _create_entry(self, th: int | None) -> int | None:
        t = self._table(th)
        if isinstance(t, ForeignTable):
            e = t.writer.create_table_entry(t.ptr)
            return self._entry_handle(t, e) if e else None
        self._fail("entries of the threads table are created by lanner's state engine only")
        return None

    def _destroy_entry(self, th: int | None, eh: int | None) -> None:
        pair = self._forget(eh)
        if isinstance(pair, tuple) and isinstance(pair[0], ForeignTable):
            t, e = pair
            t.writer.destroy_table_entry(t.ptr, e)

    def _add_entry(self, th: int | None, key: Any, eh: int | None) -> int | None:
        pair = self._obj(eh)
        if not isinstance(pair, tuple) or not isinstance(pair[0], ForeignTable):
            self._fail("entries can only be added to tables owned by a plugin")
            return None
        t, e = pair
        r = t.writer.add_table_entry(t.ptr, key, e)
        return self._entry_handle(t, r) if r else None

    def _write_field(self, th: int | None, eh: int | None, fh: int | None, inp: Any) -> int:
        pair = self._obj(eh)
        f = self._obj(fh)
        if not isinstance(pair, tuple) or not isinstance(f, TableField) or not inp:
            self._fail("invalid entry or field")
            return abi.FAILURE
        t, e = pair
        if isinstance(t, ForeignTable):
            return int(t.writer.write_entry_field(t.ptr, e, f.getter, inp))
        d = inp.contents
        if f.type == abi.ST_STRING:
            v: Any = (d.str or b"").decode("utf-8", "surrogateescape")
        elif f.type == abi.ST_BOOL:
            v = bool(d.b)
        elif f.type in _NUMERIC:
            v = getattr(d, _NUMERIC[f.type])
        else:
            return abi.FAILURE
        if not t.write(e, f, v):
            self._fail(f"field '{f.name}' of table '{t.name}' is read-only")
            return abi.FAILURE
        return abi.SUCCESS

    # --- memory kept for the plugin ----------------------------------------------------------------
    def _cstr(self, key: Any, text: str) -> Any:
        b = self._strings.get(key)
        if b is None:
            b = self._strings[key] = C.create_string_buffer(text.encode())
        return C.cast(b, C.c_char_p)

    def _keep_last(self, key: Any, obj: Any) -> None:
        self._strings[key] = obj
