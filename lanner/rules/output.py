"""Rule output formats (output-format.md 1-3): ``%field`` tokens compiled once into a renderer that gives
the alert message and the typed ``output_fields`` map."""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lanner.core.errors import LannerError
from lanner.events.base import PluginEvent
from lanner.events.syscall import SyscallEvent
from lanner.fields import registry as reg
from lanner.fields import types as ft
from lanner.rules import ast
from lanner.rules.compiler import CompileError, ConditionCompiler, Operand
from lanner.rules.parser import ParseError, Parser

_FIELD_PREFIX = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z][a-zA-Z0-9_]*)*")
_TIME_FIELDS = ("evt.time", "evt.time.iso8601", "evt.datetime", "evt.time.s", "evt.datetime.s")
MAX_RENDER = 1023
_PLAIN_EXTRACTOR = re.compile(r"(_f[0-9]+)\(e\)")


class OutputError(LannerError):
    pass


@dataclass
class Token:
    width: int | None
    code_fn: Callable[[Any], Any]     # event -> raw value
    operand: Operand
    keys: list[tuple[str, Callable[[Any], Any], reg.FieldRef]]   # JSON entries this token contributes
    direct: bool = False              # a plain field: its value is also its only JSON entry


def _printable(b: bytes, base64_fmt: bool) -> str:
    if base64_fmt:
        return base64.b64encode(b).decode()
    return "".join(chr(c) if 32 <= c < 127 else "." for c in b)[:MAX_RENDER]


def render_value(v: Any, type_: str, flags: frozenset[str] = frozenset(), *, is_list: bool = False,
                 base64_fmt: bool = False) -> str:
    """Text rendering of one extracted value (output-format.md 3.2)."""
    if v is None:
        return "<NA>"
    if is_list:
        if not v:
            return "<NA>"
        s = "(" + ",".join(render_value(x, type_, flags, base64_fmt=base64_fmt) for x in v) + ")"
        return s[:MAX_RENDER]
    if type_ == ft.IPNET:
        return "<IPNET>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        if reg.HEX in flags:
            return "%X" % v
        if reg.NSFRAC in flags:
            return "%09d" % v
        return str(v)
    if isinstance(v, float):
        return "%.1f" % v
    if isinstance(v, bytes):
        return _printable(v, base64_fmt)
    if isinstance(v, str):
        nul = v.find("\x00")
        return v if nul < 0 else v[:nul]
    if isinstance(v, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(v)
    return str(v)


def _join_ancestors(values: Any) -> str:
    """The ancestors' values as Falco writes them: a space before each value once something was written."""
    out = ""
    for s in values:
        if out:
            out += " "
        out += s
    return out


def json_value(v: Any, ref: reg.FieldRef, e: SyscallEvent | PluginEvent, *, base64_fmt: bool = False) -> Any:
    """Typed JSON value of a field for ``output_fields`` (output-format.md 3.4)."""
    f = ref.fdef
    if f.name in _TIME_FIELDS and ref.arg is None:
        return e.ts
    if v is None:
        return None
    if reg.ANY_ANCESTOR in f.flags and ref.arg is None:
        return _join_ancestors(render_value(x, f.type, f.flags) for x in v if x is not None) or None
    if reg.FILTER_ONLY in f.flags:
        return None
    if f.is_list:
        return [_json_scalar(x, f, base64_fmt) for x in v]
    return _json_scalar(v, f, base64_fmt)


def _json_scalar(v: Any, f: reg.FieldDef, base64_fmt: bool) -> Any:
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        if reg.HEX in f.flags or reg.NSFRAC in f.flags:
            return render_value(v, f.type, f.flags)
        return v
    if isinstance(v, float):
        return v
    if isinstance(v, bytes):
        return _printable(v, base64_fmt)
    return render_value(v, f.type, f.flags)


class OutputFormat:
    """A compiled output format: ``render(event)`` -> (message, output_fields)."""

    def __init__(self, text: str, parts: list[str | Token], base64_fmt: bool = False) -> None:
        self.text = text
        self.parts = parts
        self.base64_fmt = base64_fmt
        self.field_refs: list[reg.FieldRef] = []
        seen = set()
        for p in parts:
            if isinstance(p, Token):
                for key, _fn, ref in p.keys:
                    if key not in seen:
                        seen.add(key)
                        self.field_refs.append(ref)
        #: what render() runs: literal text, or (extractor, text of value, JSON key or None, JSON of
        #: value, [(key, extractor, JSON of value)] when the token contributes other keys)
        self._steps: list[Any] = [p if isinstance(p, str) else self._step(p) for p in parts]

    def _step(self, p: Token) -> tuple[Any, ...]:
        b64 = self.base64_fmt
        if p.direct:
            key, _fn, ref = p.keys[0]
            return p.code_fn, self._text_fn(p), key, _json_fn(ref, b64), ()
        return p.code_fn, self._text_fn(p), None, None, [(k, fn, _json_fn(ref, b64)) for k, fn, ref in p.keys]

    def _text_fn(self, p: Token) -> Callable[[Any], str]:
        """``_text`` for one token; a plain single-valued field without width gets a shortcut for its
        common values (None, str, int), the rest goes through ``render_value`` as before."""
        op = p.operand
        flags = _flags(op)
        if op.mode or op.is_list or op.type == ft.IPNET or p.width is not None or reg.HEX in flags \
                or reg.NSFRAC in flags:
            return lambda v: self._text(p, v)
        type_, b64 = op.type, self.base64_fmt

        def text(v: Any) -> str:
            if v is None:
                return "<NA>"
            c = v.__class__
            if c is str:
                return v if "\x00" not in v else v[:v.find("\x00")]
            if c is int:
                return str(v)
            return render_value(v, type_, flags, base64_fmt=b64)
        return text

    def _text(self, p: Token, v: Any) -> str:
        op = p.operand
        if op.mode == "ancestors":
            s = _join_ancestors(render_value(x, op.type, _flags(op)) for x in v if x is not None) if v else ""
            s = s or "<NA>"
        elif op.mode == "either":
            s = "<NA>"
        else:
            s = render_value(v, op.type, _flags(op), is_list=op.is_list, base64_fmt=self.base64_fmt)
        if p.width is not None:
            s = s[:p.width].ljust(p.width)
        return s

    def message(self, e: SyscallEvent | PluginEvent) -> str:
        return "".join(p if isinstance(p, str) else self._text(p, p.code_fn(e)) for p in self.parts)

    def fields(self, e: SyscallEvent | PluginEvent) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for p in self.parts:
            if isinstance(p, Token):
                for key, fn, ref in p.keys:
                    if key not in d:
                        d[key] = json_value(fn(e), ref, e, base64_fmt=self.base64_fmt)
        return d

    def render(self, e: SyscallEvent | PluginEvent) -> tuple[str, dict[str, Any]]:
        """Message and field map together, extracting each token's value once (the same as
        ``message`` and ``fields``)."""
        out: list[str] = []
        d: dict[str, Any] = {}
        for step in self._steps:
            if step.__class__ is str:
                out.append(step)
                continue
            fn, text, key, json_of, keys = step
            v = fn(e)
            out.append(text(v))
            if key is not None:
                if key not in d:
                    d[key] = json_of(v, e)
            else:
                for k, kfn, kjson in keys:
                    if k not in d:
                        d[k] = kjson(kfn(e), e)
        return "".join(out), d


def _json_fn(ref: reg.FieldRef, b64: bool) -> Callable[[Any, Any], Any]:
    """``json_value`` for one field; a plain scalar field gets a shortcut for None, numbers and str."""
    f = ref.fdef
    if (f.name in _TIME_FIELDS and ref.arg is None) or (reg.ANY_ANCESTOR in f.flags and ref.arg is None) \
            or reg.FILTER_ONLY in f.flags or f.is_list or f.type == ft.IPNET or reg.HEX in f.flags \
            or reg.NSFRAC in f.flags:
        return lambda v, e: json_value(v, ref, e, base64_fmt=b64)

    def json_of(v: Any, e: SyscallEvent | PluginEvent) -> Any:
        if v is None:
            return None
        c = v.__class__
        if c is int or c is bool or c is float:
            return v
        if c is str:
            return v if "\x00" not in v else v[:v.find("\x00")]
        return json_value(v, ref, e, base64_fmt=b64)
    return json_of


def _flags(op: Operand) -> frozenset[str]:
    return op.ref.fdef.flags if op.ref is not None else frozenset()


class OutputCompiler:
    def __init__(self, registry: reg.FieldRegistry, source: str, base64_fmt: bool = False) -> None:
        self.registry = registry
        self.source = source
        self.base64_fmt = base64_fmt

    def compile(self, text: str) -> OutputFormat:
        if text.startswith("*"):
            text = text[1:]
        if text == "":
            raise OutputError("empty formatting token")
        parts: list[str | Token] = []
        i = 0
        n = len(text)
        lit = []
        while i < n:
            c = text[i]
            if c != "%":
                lit.append(c)
                i += 1
                continue
            if lit:
                parts.append("".join(lit))
                lit = []
            i += 1
            if i >= n:
                raise OutputError("invalid formatting syntax: formatting cannot end with a %")
            j = i
            while j < n and text[j].isdigit():
                j += 1
            width = int(text[i:j]) if j > i else None
            if j >= n:
                raise OutputError("invalid formatting syntax: formatting cannot end with a number")
            token, i = self._token(text, j)
            token.width = width
            parts.append(token)
        if lit:
            parts.append("".join(lit))
        return OutputFormat(text, parts, self.base64_fmt)

    def _token(self, text: str, start: int) -> tuple[Token, int]:
        comp = ConditionCompiler(self.registry, self.source)
        for tname in ast.TRANSFORMERS + ("val",):
            if text.startswith(tname + "(", start):
                return self._transformer_token(text, start, comp)
        m = _FIELD_PREFIX.match(text, start)
        if not m or "." not in m.group(0):
            bad = text[start:start + 20].split(" ")[0] or text[start:start + 1]
            raise OutputError(f"invalid formatting token {bad}")
        full = m.group(0)
        last_err = f"filter_check called with nonexistent field {full}"
        for end in range(len(full), 0, -1):
            name = full[:end]
            if name.endswith(".") or "." not in name:
                continue
            if not re.fullmatch(_FIELD_PREFIX.pattern, name):
                continue
            pos = start + end
            arg = None
            if text.startswith("[", pos):
                p = Parser(text)
                p.i = pos
                try:
                    arg = p.parse_field_rest(name, ast.Pos(start)).arg
                except ParseError as e:
                    raise OutputError(f"unknown filter: {e.message}") from None
                after = p.i
            else:
                after = pos
            try:
                op = comp.operand(ast.Field(name, arg, ast.Pos(start)))
            except CompileError as e:
                last_err = e.message
                continue
            fn = _make_fn(comp, op.code)
            ref = op.ref
            assert ref is not None
            return Token(None, fn, op, [(ref.canonical(), fn, ref)], direct=True), after
        if "nonexistent field" in last_err:
            raise OutputError(f"invalid formatting token {full}")
        raise OutputError(f"unknown filter: {last_err}")

    def _transformer_token(self, text: str, start: int, comp: ConditionCompiler) -> tuple[Token, int]:
        p = Parser(text)
        p.i = start
        pos = ast.Pos(start)
        try:
            if text.startswith("val(", start):
                raise OutputError("unknown filter: 'val' transformer is not allowed in outputs")
            tname = p.lex_transformer()
            assert tname is not None
            p.lex_blank()
            node = p.parse_transformer_rest(tname, pos)
        except ParseError as e:
            raise OutputError(f"unknown filter: {e.message}") from None
        try:
            op = comp.operand(node)
        except CompileError as e:
            raise OutputError(e.message) from None
        fn = _make_fn(comp, op.code)
        keys = []
        for ref in comp.fields:
            inner = comp.operand(ast.Field(ref.fdef.name, ref.arg))
            keys.append((ref.canonical(), _make_fn(comp, inner.code), ref))
        return Token(None, fn, op, keys), p.i


def _make_fn(comp: ConditionCompiler, code: str) -> Callable[[Any], Any]:
    m = _PLAIN_EXTRACTOR.fullmatch(code)
    if m is not None:
        return comp.ns[m.group(1)]          # a plain field: its extractor, without a wrapper frame
    src = f"def _out(e):\n    return {code}\n"
    ns = dict(comp.ns)
    exec(compile(src, "<output>", "exec"), ns)  # noqa: S102 - generated from a checked expression
    return ns["_out"]
