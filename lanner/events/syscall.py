"""Syscall events: one decoded kernel/capture event record.

``SyscallEvent`` attributes (slots):

- ``num``, ``ts``, ``source`` (always ``"syscall"``), ``type`` (PPM code), ``cache`` — see ``base.Event``
- ``tid`` (int, host thread id), ``cpu`` (int), ``flags`` (capture dump flags; bit 1 = STATE_ONLY)
- ``info`` (:class:`lanner.events.table.EventInfo` of ``type``)
- ``raw``: list of raw parameter values (``bytes``; ``b""`` = empty), one per parameter present in
  the record — may be shorter than ``info.params`` (old producers), never longer after conversion.
- ``params``: list of decoded values (``None`` = empty), same length as ``raw``. Decoded lazily on
  first access (then a plain list; see ``lanner.events.params`` for each type's representation).
- ``enter``: for exit events read from a capture, the stored enter event of the same thread that the
  converter consumed or kept (``open``/``openat``/``openat2``/``creat``/``connect``/``execve``/
  ``execveat`` enters), else None. The state engine may use it as the anti-TOCTOU source.
- ``thread``, ``fd``, ``fdnum``: set by the state engine (thread info, FdInfo the event refers to,
  its fd number); None until then.
- ``hidden``: True for events that must update state but never reach rules (the seven enter types
  of event-model 1.2, and STATE_ONLY events).
"""

from __future__ import annotations

from typing import Any

from lanner.events import params as P
from lanner.events import table as T
from lanner.events.base import Event

STATE_ONLY = 1
_EVENTS = T.EVENTS
_HIDDEN_ENTER = T.STATE_ONLY_ENTER_TYPES


class SyscallEvent(Event):
    __slots__ = ("tid", "cpu", "flags", "info", "raw", "params", "enter", "thread", "fd", "fdnum", "hidden")
    tid: int
    cpu: int
    flags: int
    info: T.EventInfo
    raw: list[bytes]
    params: list[Any]
    enter: SyscallEvent | None
    thread: Any  # lanner.state.threads.ThreadInfo (set by the state engine; events sit below state)
    fd: Any  # lanner.state.fds.FdInfo
    fdnum: int | None
    hidden: bool

    def __init__(self, num: int, ts: int, tid: int, type_: int, raw: list[bytes], cpu: int = 0,
                 flags: int = 0) -> None:
        self.num = num
        self.ts = ts
        self.source = "syscall"
        self.type = type_
        self.cache = {}
        self.tid = tid
        self.cpu = cpu
        self.flags = flags
        self.info = _EVENTS[type_]
        self.raw = raw
        self.enter = None
        self.thread = None
        self.fd = None
        self.fdnum = None
        self.hidden = type_ in _HIDDEN_ENTER or bool(flags & STATE_ONLY)

    def __getattr__(self, name: str):
        # Only reached for unset slots: decode ``params`` on first use.
        if name == "params":
            vals = P.decode_params(self.info, self.raw)
            self.params = vals
            return vals
        raise AttributeError(name)

    @classmethod
    def from_values(cls, num: int, ts: int, tid: int, type_: int, values: list, cpu: int = 0,
                    flags: int = 0) -> SyscallEvent:
        """Build an event from Python values (encoded per the table; used by sources, tests, bench)."""
        ev = cls(num, ts, tid, type_, P.encode_params(T.EVENTS[type_], values), cpu, flags)
        return ev

    # ------------------------------------------------------------ parameters

    @property
    def name(self) -> str:
        """Table name of the type (``syscall`` for generic events; see ``type_name``)."""
        return self.info.name

    @property
    def type_name(self) -> str:
        """``evt.type``: table name; syscall name for generic events; ``name`` param for asyncevent."""
        t = self.type
        if t <= 1:
            p = self.params
            sc = p[0] if len(p) > 0 else None
            nat = p[1] if len(p) > 1 else None
            return P.syscall_name_of(sc, nat) or "syscall"
        if t == 402:
            p = self.params
            return p[1] if len(p) > 1 and p[1] is not None else self.info.name
        return self.info.name

    @property
    def direction(self) -> str:
        return self.info.direction

    def param_index(self, name: str) -> int | None:
        """Index of the first parameter called ``name`` present in this record, else None."""
        i = self.info.index.get(name)
        if i is None or i >= len(self.raw):
            return None
        return i

    def param(self, name: str, default=None):
        """Decoded value of the first parameter called ``name`` (``default`` if absent or empty)."""
        i = self.info.index.get(name)
        if i is None or i >= len(self.raw):
            return default
        v = self.params[i]
        return default if v is None else v

    def has_param(self, name: str) -> bool:
        return self.param_index(name) is not None

    @property
    def res(self) -> int | None:
        """Return value (param 0) if the event has one (syscall category, exit, not generic)."""
        if not self.has_return_value():
            return None
        return self.params[0]

    def has_return_value(self) -> bool:
        return self.info.is_syscall and bool(self.type & 1) and self.type > 1 and len(self.raw) > 0

    # ------------------------------------------------------------ rendering

    def arg_str(self, key: str | int, resolver: P.Resolver = P.NO_STATE) -> str | None:
        """``evt.arg.NAME`` / ``evt.arg[N]`` string (resolved if available, else plain); None if absent."""
        i = key if isinstance(key, int) else self.info.index.get(key)
        if i is None or i < 0 or i >= len(self.raw) or i >= self.info.nparams:
            return None
        p = self.info.params[i]
        return P.render_arg(p, self.params[i], self, resolver, self.params)

    def rawarg(self, key: str | int):
        """``evt.rawarg.X``: decoded value, None if absent/empty."""
        i = key if isinstance(key, int) else self.info.index.get(key)
        if i is None or i < 0 or i >= len(self.raw):
            return None
        return self.params[i]

    def args_str(self, resolver: P.Resolver = P.NO_STATE) -> str:
        """``evt.args``: ``name=plain`` or ``name=plain(resolved)`` for present params, space separated.

        Empty for generic events.
        """
        if self.type <= 1:
            return ""
        out = []
        vals = self.params
        for i, p in enumerate(self.info.params[:len(vals)]):
            v = vals[i]
            plain = P.render_plain(p, v, self, resolver)
            res = P.render_resolved(p, v, self, resolver, vals) if v is not None else ""
            out.append(f"{p.name}={plain}({res})" if res else f"{p.name}={plain}")
        return " ".join(out)

    def __repr__(self) -> str:
        return f"<SyscallEvent #{self.num} {self.info.name}{self.info.direction} tid={self.tid} ts={self.ts}>"
