"""Upgrading old event records to the current table layout (scap-format.md section 7).

The converter works on raw records ``(type, raw params)`` of one thread at a time and keeps one
stored enter record per tid (``STORE`` / ``STORE_AND_PASS``), exactly like libscap's converter.
"""

from __future__ import annotations

from lanner.core.errors import LannerError
from lanner.events import table as T
from lanner.events._generated.conversion_table import CONVERSIONS
from lanner.events.params import default_value_bytes, max_size

PASS, DROP = 0, 1
MAX_STEPS = 50


class ConversionError(LannerError, ValueError):
    """The record cannot be upgraded (the message is libscap's wording)."""


def _fast_table() -> list[int]:
    """Per type: -1 always pass, n = pass if nparams == n, -2 = run the full eligibility test."""
    out = []
    for ev in T.EVENTS:
        f = ev.flags
        managed = f & T.EF_CONVERTER_MANAGED
        old = f & T.EF_OLD_VERSION
        if f & T.EF_UNUSED:
            out.append(-2)
        elif not managed and not old:
            out.append(-1)
        elif managed and not old and ev.code & 1:
            out.append(ev.nparams)
        else:
            out.append(-2)
    return out


FAST = _fast_table()


class Converter:
    __slots__ = ("store",)

    def __init__(self) -> None:
        self.store: dict[int, tuple[int, list[bytes]]] = {}

    def reset(self) -> None:
        self.store.clear()

    def convert(self, tid: int, etype: int, raw: list[bytes]) -> tuple[int, int, list[bytes]]:
        """Return ``(PASS|DROP, type, raw)`` of the upgraded record; ConversionError on failure."""
        for _ in range(MAX_STEPS):
            ev = T.EVENTS[etype]
            f = ev.flags
            n = len(raw)
            is_exit = etype & 1
            if f & T.EF_UNUSED:
                return DROP, etype, raw
            managed = f & T.EF_CONVERTER_MANAGED
            if not managed:
                if not f & T.EF_OLD_VERSION:
                    return PASS, etype, raw
                if not is_exit:
                    return DROP, etype, raw
                raise ConversionError(f"Event (type: {etype}) is an old version exit event not managed "
                                      f"by the converter.")
            if is_exit:
                if n > ev.nparams:
                    raise ConversionError(f"Event (type: {etype}) has more parameters ({n}) than "
                                          f"expected ({ev.nparams}).")
                if not f & T.EF_OLD_VERSION and n == ev.nparams:
                    return PASS, etype, raw
            entry = CONVERSIONS.get((etype, n))
            if entry is None:
                raise ConversionError(f"Required conversion for event (type: {etype}, nparams: {n}), "
                                      f"but we don't handle it in the table.")
            action, target, instrs = entry
            if action == "STORE":
                self.store[tid] = (etype, raw)
                return DROP, etype, raw
            if action == "PASS":
                return PASS, etype, raw
            if action == "STORE_AND_PASS":
                self.store[tid] = (etype, raw)
                return PASS, etype, raw
            if action == "ADD_PARAMS":
                new_type, new_raw = etype, list(raw)
            else:
                assert target is not None  # CHANGE_TYPE rows always name their target
                new_type, new_raw = target, []
            new_info = T.EVENTS[new_type]
            used_enter = False
            for kind, idx, fb_empty in instrs:
                k = len(new_raw)
                p = new_info.params[k] if k < new_info.nparams else None
                ptype = p.type if p is not None else T.PT_BYTEBUF
                if kind == "empty":
                    val = b""
                elif kind == "default":
                    val = default_value_bytes(ptype)
                elif kind == "old":
                    if idx >= n:
                        raise ConversionError(f"Event (type: {etype}) has {n} parameters, conversion "
                                              f"needs parameter {idx}.")
                    val = raw[idx]
                elif kind == "enter":
                    st = self.store.get(tid)
                    if st is None:
                        val = b"" if fb_empty else default_value_bytes(ptype)
                    else:
                        st_type, st_raw = st
                        if st_type != etype - 1:
                            raise ConversionError(
                                f"The enter event for '{T.EVENTS[etype].constant}' is not the right one! "
                                f"Event found '{T.EVENTS[st_type].constant}'.")
                        if idx >= len(st_raw):
                            raise ConversionError(f"The enter event for '{T.EVENTS[etype].constant}' has "
                                                  f"{len(st_raw)} parameters, conversion needs parameter {idx}.")
                        val = st_raw[idx]
                        used_enter = True
                else:  # cb_container_json
                    val = _container_json(raw) if n >= 4 else b""
                lim = max_size(ptype, new_info.large)
                if len(val) > lim:
                    val = val[:lim]
                new_raw.append(val)
            if used_enter:
                self.store.pop(tid, None)
            etype, raw = new_type, new_raw
        raise ConversionError(f"Event (type: {etype}) could not be converted in {MAX_STEPS} steps.")


def _cstr(b: bytes) -> str:
    n = b.find(b"\0")
    return (b[:n] if n >= 0 else b).decode("utf-8", "surrogateescape")


def _container_json(raw: list[bytes]) -> bytes:
    cid, ctype, name, image = raw[0], raw[1], raw[2], raw[3]
    t = int.from_bytes(ctype, "little") if ctype else 0
    s = f'{{"id":"{_cstr(cid)}","type":{t},"name":"{_cstr(name)}","image":"{_cstr(image)}"}}'
    return s.encode("utf-8", "surrogateescape") + b"\0"
