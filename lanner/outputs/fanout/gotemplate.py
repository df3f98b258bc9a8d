"""The part of Go's ``text/template`` that falcosidekick configurations use.

Sidekick's ``messageformat`` (Slack, Rocket.Chat, Mattermost, Google Chat) and ``templatedfields`` are Go
templates, so a sidekick config moved to lanner keeps its strings. Supported: text with ``{{ }}`` actions
(``{{-``/``-}}`` trim spaces), field chains (``.Rule``, ``.OutputFields``, ``.`` itself), string and
number literals, parentheses, and the functions ``index``, ``or``, ``and``, ``not``, ``len``, ``print``,
``printf``, ``eq``/``ne``. Control actions (``if``, ``range``, ``with``, ``define``...) are not: they are
refused when the configuration is read, naming the option, instead of misrendering at alert time.
Values print as Go's ``%v`` does (nil as ``<no value>``, lists as ``[a b]``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lanner.core.errors import LannerError

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*"|`[^`]*`)|(-?\d+(?:\.\d+)?)|(\.[A-Za-z0-9_.]*)|([A-Za-z_]\w*))')
_CONTROL = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
_FUNCS = {"index", "or", "and", "not", "len", "print", "printf", "eq", "ne"}
NO_VALUE = object()


class TemplateError(LannerError, ValueError):
    """The template uses something this subset does not support, or is malformed."""


@dataclass(frozen=True)
class _Field:
    path: tuple[str, ...]


@dataclass(frozen=True)
class _Call:
    name: str
    args: tuple[Any, ...]


def go_str(v: Any) -> str:
    """``fmt.Sprint``'s rendering of a JSON-like value."""
    if v is None or v is NO_VALUE:
        return "<no value>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | tuple):
        return "[" + " ".join(go_str(x) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_str(v[k])}" for k in sorted(v)) + "]"
    return str(v)


class Template:
    """A parsed template; ``render(data, resolve)`` where ``resolve(obj, name)`` looks a field up."""

    def __init__(self, text: str, fields: Callable[[str], bool] | None = None) -> None:
        self.text = text
        self.parts: list[str | Any] = []
        pos = 0
        pending_trim = False
        for m in _ACTION.finditer(text):
            lit = text[pos:m.start()]
            if pending_trim:
                lit = lit.lstrip()
            if m.group(1):
                lit = lit.rstrip()
            if lit:
                self.parts.append(lit)
            body = m.group(2).strip()
            if not body.startswith("/*"):
                self.parts.append(self._parse(body, fields))
            pending_trim = bool(m.group(3))
            pos = m.end()
        tail = text[pos:]
        if "{{" in tail:
            raise TemplateError("unclosed action '{{'")
        if pending_trim:
            tail = tail.lstrip()
        if tail:
            self.parts.append(tail)

    def _parse(self, body: str, fields: Callable[[str], bool] | None) -> Any:
        tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(body):
            m = _TOKEN.match(body, pos)
            if m is None or m.end() == pos:
                raise TemplateError(f"cannot parse '{{{{ {body} }}}}' near {body[pos:]!r}")
            kind = ("(", ")", "str", "num", "field", "ident")[m.lastindex - 1 if m.lastindex else 0]
            tokens.append((kind, m.group(m.lastindex or 0)))
            pos = m.end()
            while pos < len(body) and body[pos].isspace():
                pos += 1
        if not tokens:
            raise TemplateError("empty action '{{ }}'")
        if tokens[0] == ("ident", tokens[0][1]) and tokens[0][1] in _CONTROL:
            raise TemplateError(f"'{{{{ {tokens[0][1]} }}}}' is not supported by lanner (only values and "
                                f"the functions {', '.join(sorted(_FUNCS))})")
        node, rest = self._command(tokens, fields)
        if rest:
            raise TemplateError(f"unexpected {rest[0][1]!r} in '{{{{ {body} }}}}'")
        return node

    def _command(self, tokens: list[tuple[str, str]], fields: Callable[[str], bool] | None) -> tuple[Any, list]:
        kind, val = tokens[0]
        if kind == "ident":
            if val not in _FUNCS:
                raise TemplateError(f"function '{val}' is not supported (one of {', '.join(sorted(_FUNCS))})")
            args: list[Any] = []
            rest = tokens[1:]
            while rest and rest[0][0] != ")":
                arg, rest = self._operand(rest, fields)
                args.append(arg)
            return _Call(val, tuple(args)), rest
        return self._operand(tokens, fields)

    def _operand(self, tokens: list[tuple[str, str]], fields: Callable[[str], bool] | None) -> tuple[Any, list]:
        kind, val = tokens[0]
        if kind == "(":
            node, rest = self._command(tokens[1:], fields)
            if not rest or rest[0][0] != ")":
                raise TemplateError("missing ')'")
            return node, rest[1:]
        if kind == "str":
            return (val[1:-1] if val[0] == "`" else bytes(val[1:-1], "utf-8").decode("unicode_escape")), tokens[1:]
        if kind == "num":
            return (float(val) if "." in val else int(val)), tokens[1:]
        if kind == "field":
            path = tuple(p for p in val[1:].split(".") if p)
            if path and fields is not None and not fields(path[0]):
                raise TemplateError(f"can't evaluate field {path[0]}")
            return _Field(path), tokens[1:]
        if kind == "ident" and val in _FUNCS:
            return _Call(val, ()), tokens[1:]
        raise TemplateError(f"unexpected {val!r}")

    def render(self, data: Any, resolve: Callable[[Any, str], Any]) -> str:
        out = []
        for p in self.parts:
            out.append(p if isinstance(p, str) else go_str(self._eval(p, data, resolve)))
        return "".join(out)

    def _eval(self, node: Any, data: Any, resolve: Callable[[Any, str], Any]) -> Any:
        if isinstance(node, _Field):
            v = data
            for name in node.path:
                v = resolve(v, name)
            return v
        if not isinstance(node, _Call):
            return node
        args = [self._eval(a, data, resolve) for a in node.args]
        name = node.name
        if name == "index":
            v = args[0] if args else None
            for k in args[1:]:
                if isinstance(v, dict):
                    v = v.get(k)
                elif isinstance(v, list | tuple) and isinstance(k, int) and -len(v) <= k < len(v):
                    v = v[k]
                else:
                    return None
            return v
        if name == "or":
            for a in args:
                if _truthy(a):
                    return a
            return args[-1] if args else None
        if name == "and":
            for a in args:
                if not _truthy(a):
                    return a
            return args[-1] if args else None
        if name == "not":
            return not _truthy(args[0]) if args else True
        if name == "len":
            return len(args[0]) if args and hasattr(args[0], "__len__") else 0
        if name == "eq":
            return len(args) > 1 and any(args[0] == a for a in args[1:])
        if name == "ne":
            return len(args) == 2 and args[0] != args[1]
        if name == "printf" and args:
            return _printf(str(args[0]), args[1:])
        return "".join(go_str(a) for a in args)


def _truthy(v: Any) -> bool:
    return v is not None and v is not NO_VALUE and v != "" and v != 0 and v is not False and v != [] and v != {}


def _printf(fmt: str, args: list[Any]) -> str:
    it = iter(args)

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "%%":
            return "%"
        v = next(it, None)
        return f"{v!r}" if m.group(1) == "q" and isinstance(v, str) else go_str(v)

    return re.sub(r"%%|%[-+ #0-9.]*([vsdqf])", sub, fmt)
