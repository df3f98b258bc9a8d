"""Hand-written parser for Falco's condition language (condition-language.md sections 1-2).

The language is whitespace-sensitive and matches keywords as prefixes (``existsand``, ``inx``), so the
parser is scannerless: each ``_lex_*`` method tries one token at the cursor. Errors carry the position
(line and column, 1-based) of the cursor where parsing failed.
"""

from __future__ import annotations

import re
import sys

from lanner.core.errors import LannerError
from lanner.rules import ast, operators
from lanner.rules.operators import MODIFIERS, Operator, Rhs

_BLANKS = " \t\b\r\n"
_RX_NOT = re.compile(r"not[ \t\b\r\n]+")
_RX_IDENT = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*")
_RX_FIELD = re.compile(r"[a-zA-Z][a-zA-Z0-9_]*(?:\.[a-zA-Z][a-zA-Z0-9_]*)+")
_RX_FIELDARG = re.compile(r"[^\]\[\"'\s]+")
_RX_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
_RX_NUM = re.compile(r"[+-]?[0-9]+\.?[0-9]*(?:[eE][+-][0-9]+)?")
_RX_BARE = re.compile(r"[^()\"'\s=,]+")

_TRANSFORMER_PREFIXES = tuple(t + "(" for t in ast.TRANSFORMERS)
_KEYWORDS = ("and", "or", "not")


class ParseError(LannerError):
    """A syntax error; ``pos`` is where the parser stopped."""

    def __init__(self, message: str, pos: ast.Pos) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


def unescape(body: str, quote: str) -> str:
    """Decode the escapes of a quoted string body (without its quotes)."""
    if "\\" not in body:
        return body
    out = []
    i = 0
    n = len(body)
    simple = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "\\": "\\", "/": "/", " ": "\\"}
    while i < n:
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("unsupported string escape sequence: \\")
        e = body[i + 1]
        if e in simple:
            out.append(simple[e])
            i += 2
        elif e == '"':
            if quote != '"':
                raise ValueError("invalid \\\" escape in '-quoted string")
            out.append('"')
            i += 2
        elif e == "'":
            if quote != "'":
                raise ValueError("invalid \\' escape in \"-quoted string")
            out.append("'")
            i += 2
        elif e == "x":
            hx = body[i + 2:i + 4]
            if len(hx) < 2:
                raise ValueError("truncated hex char escape sequence")
            try:
                out.append(chr(int(hx, 16)))
            except ValueError:
                raise ValueError(f"invalid hex char escape sequence: {hx}") from None
            i += 4
        else:
            raise ValueError(f"unsupported string escape sequence: \\{e}")
    return "".join(out)


class Parser:
    """Parse one condition. ``max_depth`` is 1000 for rules and macros, 100 for ad-hoc filters."""

    def __init__(self, text: str, max_depth: int = 1000) -> None:
        self.text = text
        self.n = len(text)
        self.i = 0
        self.line = 1
        self.col = 1
        self.depth = 0
        self.max_depth = max_depth
        self.last = ""

    # --- entry point -------------------------------------------------------------------------
    def parse(self) -> ast.Node:
        if self.n == 0:
            raise ParseError("filter input string is empty", self.pos())
        old = sys.getrecursionlimit()
        need = self.max_depth * 3 + 500
        if old < need:
            sys.setrecursionlimit(need)
        try:
            node = self.parse_or()
        finally:
            if old < need:
                sys.setrecursionlimit(old)
        if self.i != self.n:
            raise ParseError(f"unexpected token after '{self.last}', expecting 'or', 'and'", self.pos())
        return node

    # --- cursor helpers ----------------------------------------------------------------------
    def pos(self) -> ast.Pos:
        return ast.Pos(self.i, self.line, self.col)

    def _advance(self, k: int) -> None:
        text = self.text
        for j in range(self.i, self.i + k):
            if text[j] in "\r\n":
                self.line += 1
                self.col = 1
            else:
                self.col += 1
        self.i += k

    def _restore(self, p: ast.Pos) -> None:
        self.i, self.line, self.col = p.idx, p.line, p.col

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise ParseError(f"exceeded max depth limit of {self.max_depth}", self.pos())

    def _leave(self) -> None:
        self.depth -= 1

    def lex_blank(self) -> bool:
        start = self.i
        text, n = self.text, self.n
        j = start
        while j < n and text[j] in _BLANKS:
            j += 1
        if j == start:
            return False
        self._advance(j - start)
        return True

    def lex_str(self, s: str) -> bool:
        if self.text.startswith(s, self.i):
            self.last = s
            self._advance(len(s))
            return True
        return False

    def lex_rx(self, rx: re.Pattern[str]) -> bool:
        m = rx.match(self.text, self.i)
        if m is None or m.end() == self.i:
            return False
        self.last = m.group(0)
        self._advance(m.end() - self.i)
        return True

    def lex_quoted(self) -> str | None:
        """A quoted string at the cursor, unescaped; None (cursor unchanged) if there is none."""
        if self.i >= self.n or self.text[self.i] not in "'\"":
            return None
        q = self.text[self.i]
        j = self.i + 1
        prev = q
        while j < self.n:
            c = self.text[j]
            if c == q and prev != "\\":
                raw = self.text[self.i:j + 1]
                start = self.pos()
                try:
                    value = unescape(raw[1:-1], q)
                except ValueError as e:
                    raise ParseError(str(e), start) from None
                self.last = raw
                self._advance(j + 1 - self.i)
                return value
            prev = c
            j += 1
        return None

    def lex_op(self) -> Operator | None:
        """The operator at the cursor, in table order; a word operator must be followed by blanks."""
        for op in operators.all_operators():
            if op.blank_after:
                if self.text.startswith(op.spelling, self.i):
                    save = self.pos()
                    self.lex_str(op.spelling)
                    if self.lex_blank():
                        return op
                    self._restore(save)
            elif self.lex_str(op.spelling):
                return op
        return None

    def lex_transformer(self) -> str | None:
        for t in _TRANSFORMER_PREFIXES:
            if self.lex_str(t):
                return t[:-1]
        return None

    # --- grammar -----------------------------------------------------------------------------
    def parse_or(self) -> ast.Node:
        self._enter()
        pos = self.pos()
        self.lex_blank()
        children = [self.parse_and()]
        self.lex_blank()
        while self.lex_str("or"):
            if not self.lex_blank():
                if self.lex_str("("):
                    children.append(self.parse_embedded())
                else:
                    raise ParseError("expected blank or '(' after 'or'", self.pos())
            else:
                children.append(self.parse_and())
            self.lex_blank()
        self._leave()
        return children[0] if len(children) == 1 else ast.Or(children, pos)

    def parse_and(self) -> ast.Node:
        self._enter()
        pos = self.pos()
        self.lex_blank()
        children = [self.parse_not()]
        self.lex_blank()
        while self.lex_str("and"):
            if not self.lex_blank():
                if self.lex_str("("):
                    children.append(self.parse_embedded())
                else:
                    raise ParseError("expected blank or '(' after 'and'", self.pos())
            else:
                children.append(self.parse_not())
            self.lex_blank()
        self._leave()
        return children[0] if len(children) == 1 else ast.And(children, pos)

    def parse_not(self) -> ast.Node:
        self._enter()
        pos = self.pos()
        self.lex_blank()
        negate = False
        while self.lex_rx(_RX_NOT):
            negate = not negate
        if self.lex_str("not("):
            negate = not negate
            child = self.parse_embedded()
        else:
            child = self.parse_check()
        self._leave()
        if not negate:
            return child
        return child.child if isinstance(child, ast.Not) else ast.Not(child, pos)

    def parse_embedded(self) -> ast.Node:
        """The rest of a parenthesised expression, after its ``(``."""
        self._enter()
        self.lex_blank()
        child = self.parse_or()
        self.lex_blank()
        if not self.lex_str(")"):
            raise ParseError("expected a ')' token", self.pos())
        self._leave()
        return child

    def parse_check(self) -> ast.Node:
        self._enter()
        pos = self.pos()
        self.lex_blank()
        if self.lex_str("("):
            node = self.parse_embedded()
        elif self.lex_rx(_RX_FIELD):
            lhs: ast.Node = self.parse_field_rest(self.last, pos)
            node = self.parse_condition(lhs, pos)
        elif (tname := self.lex_transformer()) is not None:
            self.lex_blank()
            lhs = self.parse_transformer_rest(tname, pos)
            node = self.parse_condition(lhs, pos)
        elif self.lex_rx(_RX_IDENT):
            node = ast.MacroRef(self.last, pos)
        else:
            raise ParseError("expected a '(' token, a field check, or an identifier", self.pos())
        self._leave()
        return node

    def parse_field_rest(self, name: str, pos: ast.Pos) -> ast.Field:
        self._enter()
        arg = None
        if self.lex_str("["):
            q = self.lex_quoted()
            if q is not None:
                arg = q
            elif self.lex_rx(_RX_FIELDARG):
                arg = self.last
            else:
                raise ParseError("expected a valid field argument: a quoted string or a bare string", self.pos())
            if not self.lex_str("]"):
                raise ParseError("expected a ']' token", self.pos())
        self._leave()
        return ast.Field(name, arg, pos)

    def parse_transformer_rest(self, name: str, pos: ast.Pos) -> ast.Node:
        """Arguments and closing parenthesis of ``name(``, plus an optional ``[arg]``."""
        self._enter()
        self.lex_blank()
        args: list[ast.Node] = []
        while True:
            args.append(self.parse_transformer_arg(name, len(args)))
            self.lex_blank()
            if not self.lex_str(","):
                break
        self.lex_blank()
        if not self.lex_str(")"):
            raise ParseError("expected a ')' token closing the transformer", self.pos())
        node = ast.Transformer(name, args, pos)
        if self.text.startswith("[", self.i):
            node.arg = self.parse_field_rest("", self.pos()).arg
        self._leave()
        return node

    def parse_transformer_arg(self, tname: str, index: int) -> ast.Node:
        self._enter()
        self.lex_blank()
        pos = self.pos()
        node: ast.Node
        if self.lex_rx(_RX_HEX) or self.lex_rx(_RX_NUM):
            node = ast.Value(self.last, False, pos)
        elif (q := self.lex_quoted()) is not None:
            node = ast.Value(q, True, pos)
        elif self.lex_str("("):
            node = self.parse_transformer_list(pos)
        elif (inner := self.lex_transformer()) is not None:
            node = self.parse_transformer_rest(inner, pos)
        elif self.lex_rx(_RX_FIELD):
            node = self.parse_field_rest(self.last, pos)
        elif tname == "getopt" and index == 1 and self.lex_rx(_RX_BARE):
            node = ast.Value(self.last, False, pos)
        else:
            raise ParseError("expected field transformer argument: field, transformer, quoted string, number, "
                             "or transformer list", self.pos())
        self._leave()
        return node

    def parse_transformer_list(self, pos: ast.Pos) -> ast.ListValue:
        items: list[ast.Node] = []
        self.lex_blank()
        if self.lex_str(")"):
            return ast.ListValue(items, pos)
        items.append(self.parse_transformer_list_arg())
        self.lex_blank()
        while self.lex_str(","):
            self.lex_blank()
            items.append(self.parse_transformer_list_arg())
            self.lex_blank()
        if not self.lex_str(")"):
            raise ParseError("expected ')'", self.pos())
        return ast.ListValue(items, pos)

    def parse_transformer_list_arg(self) -> ast.Node:
        pos = self.pos()
        if self.lex_rx(_RX_FIELD):
            return self.parse_field_rest(self.last, pos)
        if (inner := self.lex_transformer()) is not None:
            self.lex_blank()
            return self.parse_transformer_rest(inner, pos)
        if (q := self.lex_quoted()) is not None:
            return ast.Value(q, True, pos)
        if self.lex_rx(_RX_HEX) or self.lex_rx(_RX_NUM):
            return ast.Value(self.last, False, pos)
        raise ParseError("expected transformer list argument: field, transformer, quoted string, or number",
                         self.pos())

    def parse_condition(self, lhs: ast.Node, pos: ast.Pos) -> ast.Check:
        self._enter()
        self.lex_blank()
        op = self.lex_op()
        if op is None:
            ops = ", ".join(f"'{o}'" for o in operators.spellings())
            raise ParseError(f"expected a valid check operator: one of {ops}", self.pos())
        modifier = None
        rhs: ast.Node | None = None
        if op.rhs is Rhs.NUMBER:
            rhs = self.parse_num_value()
        elif op.rhs is Rhs.VALUE:
            modifier = self.lex_modifier(op.spelling)
            rhs = self.parse_modifier_list() if modifier is not None else self.parse_str_value()
        elif op.rhs is Rhs.LIST:
            rhs = self.parse_list_value()
        self._leave()
        return ast.Check(lhs, op.spelling, rhs, modifier, pos)

    def lex_modifier(self, op: str) -> str | None:
        """``oneof``/``anyof``/``allof`` after a string operator, only when followed by blanks and a list."""
        save = self.pos()
        if op in ("==", "=", "!=") and not self.lex_blank():
            return None
        for m in MODIFIERS:
            if self.text.startswith(m, self.i):
                after = self.pos()
                self.lex_str(m)
                if self.lex_blank():
                    if self.text.startswith("(", self.i):
                        return m
                    mm = _RX_IDENT.match(self.text, self.i)
                    if mm and mm.group(0) not in _KEYWORDS:
                        return m
                self._restore(after)
                break
        self._restore(save)
        return None

    def parse_modifier_list(self) -> ast.Node:
        pos = self.pos()
        if self.lex_str("("):
            return self.parse_list_literal(pos)
        if self.lex_rx(_RX_IDENT):
            return ast.Value(self.last, False, pos)
        raise ParseError("expected a list or an identifier after the operator modifier", self.pos())

    def parse_num_value(self) -> ast.Node:
        self._enter()
        self.lex_blank()
        pos = self.pos()
        node = self.try_rhs_transformer()
        if node is None:
            if self.lex_rx(_RX_HEX) or self.lex_rx(_RX_NUM):
                node = ast.Value(self.last, False, pos)
            else:
                raise ParseError("expected a number value or a field with a valid transformer: "
                                 + _transformer_names(), self.pos())
        self._leave()
        return node

    def parse_str_value(self) -> ast.Node:
        self._enter()
        self.lex_blank()
        pos = self.pos()
        node = self.try_rhs_transformer()
        if node is None:
            q = self.lex_quoted()
            if q is not None:
                node = ast.Value(q, True, pos)
            elif self.lex_rx(_RX_BARE):
                node = ast.Value(self.last, False, pos)
            else:
                raise ParseError("expected a string value or a field with a valid transformer: "
                                 + _transformer_names(), self.pos())
        self._leave()
        return node

    def parse_list_literal(self, pos: ast.Pos) -> ast.ListValue:
        """Items and ``)`` of a literal list, after its ``(``."""
        items: list[ast.Node] = []
        self.lex_blank()
        first = self._list_item()
        if first is not None:
            items.append(first)
            self.lex_blank()
            while self.lex_str(","):
                self.lex_blank()
                item = self._list_item()
                if item is None:
                    raise ParseError("expected a string value", self.pos())
                items.append(item)
                self.lex_blank()
        if not self.lex_str(")"):
            raise ParseError("expected a ')' token", self.pos())
        return ast.ListValue(items, pos)

    def _list_item(self) -> ast.Value | None:
        pos = self.pos()
        q = self.lex_quoted()
        if q is not None:
            return ast.Value(q, True, pos)
        if self.lex_rx(_RX_BARE):
            return ast.Value(self.last, False, pos)
        return None

    def parse_list_value(self) -> ast.Node:
        self._enter()
        self.lex_blank()
        pos = self.pos()
        if self.lex_str("("):
            node: ast.Node = self.parse_list_literal(pos)
        else:
            t = self.try_rhs_transformer()
            if t is not None:
                node = t
            elif self.lex_rx(_RX_IDENT):
                node = ast.Value(self.last, False, pos)
            else:
                raise ParseError("expected a list, an identifier, or a field with a valid transformer: "
                                 + _transformer_names(), self.pos())
        self._leave()
        return node

    def try_rhs_transformer(self) -> ast.Node | None:
        self.lex_blank()
        pos = self.pos()
        if self.lex_str("val("):
            self.lex_blank()
            fpos = self.pos()
            if not self.lex_rx(_RX_FIELD):
                raise ParseError("expected a field within 'val' transformer", self.pos())
            f = self.parse_field_rest(self.last, fpos)
            self.lex_blank()
            if not self.lex_str(")"):
                raise ParseError("expected a ')' token closing the transformer", self.pos())
            node = ast.Transformer("val", [f], pos)
            if self.text.startswith("[", self.i):
                node.arg = self.parse_field_rest("", self.pos()).arg
            return node
        if (tname := self.lex_transformer()) is not None:
            self.lex_blank()
            return self.parse_transformer_rest(tname, pos)
        return None




def _transformer_names() -> str:
    return ", ".join(f"'{t}'" for t in ("val",) + ast.TRANSFORMERS)


def parse(text: str, max_depth: int = 1000) -> ast.Node:
    """Parse a condition; raises ParseError."""
    return Parser(text, max_depth).parse()
