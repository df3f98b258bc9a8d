"""The one vocabulary of condition operators (condition-language.md 3).

Every pass that treats operators differently reads this table instead of keeping its own list: the
parser (spelling, what follows the operator, whether a modifier may follow), the condition compiler
(field kinds, list and either-side fields, literal conversion, the Python template it emits), the rules
collector (exception ``comps``) and the analyses (event-type inference and open push-down read
``meaning``). Adding an operator is one ``Operator(...)`` entry here, plus a runtime helper in
``compiler.helper_namespace`` only when its template needs one.

The table order is Falco's: the parser tries spellings in this order (longer spellings before their
prefixes) and the "expected a valid check operator" message lists them in it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from lanner.rules import values
from lanner.rules.regex import RegexError, compile_regex


class Rhs(Enum):
    """What the parser reads after the operator."""

    NONE = "none"        # ``exists``
    NUMBER = "number"    # a number (or a field transformer)
    VALUE = "value"      # one string value (or a field transformer); ``oneof/anyof/allof`` may follow
    LIST = "list"        # a list literal, a list name (or a field transformer)


class Literal(Enum):
    """How a literal right-hand value is converted before evaluation."""

    TYPED = "typed"      # to the type of the left-hand field (values.convert_literal)
    TEXT = "text"        # kept as text when the left side is a string (NUL refused), typed otherwise
    HEX = "hex"          # hex pairs to bytes


class Meaning(Enum):
    """What the analyses (event-type inference, open push-down) may assume about a check with a
    single-valued field; None in the table means "unknown: widen"."""

    EXISTS = "exists"
    EQUAL = "equal"              # the value is one of the right-hand values
    NOT_EQUAL = "not_equal"
    LESS = "less"
    LESS_EQUAL = "less_equal"
    GREATER = "greater"
    GREATER_EQUAL = "greater_equal"
    PREFIX = "prefix"            # starts with (one of) the right-hand values
    GLOB = "glob"
    CONTAINS = "contains"


NEGATION = {Meaning.EQUAL: Meaning.NOT_EQUAL, Meaning.NOT_EQUAL: Meaning.EQUAL, Meaning.LESS: Meaning.GREATER_EQUAL,
            Meaning.GREATER_EQUAL: Meaning.LESS, Meaning.GREATER: Meaning.LESS_EQUAL,
            Meaning.LESS_EQUAL: Meaning.GREATER}

MODIFIERS = ("oneof", "anyof", "allof")
NUMERIC, BOOL, STRING, BUFFER, IP = "numeric", "bool", "string", "buffer", "ip"
ALL_KINDS = frozenset((NUMERIC, BOOL, STRING, BUFFER, IP))


@dataclass(frozen=True)
class Template:
    """Python expression templates of one comparison: ``{v}`` is the field value, ``{c}`` the constant
    (or the right-hand field's value). ``prepare`` turns the converted literal into the constant once, at
    compile time; it raises values.FilterValueError with Falco's message on a bad literal."""

    value: str
    ipnet: str | None = None                        # the left-hand field is a network (ipnet)
    field: str | None = None                        # the right-hand side is a field (None: same as value)
    prepare: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Operator:
    spelling: str
    rhs: Rhs
    kinds: frozenset[str]                           # left-hand field kinds it applies to
    template: Template | None = None                # one-value comparison (None: exists / membership)
    literal: Literal = Literal.TYPED
    list_fields: bool = False                       # applies to list-valued fields
    either_fields: bool = False                     # applies to fields read on both sides (fd.ip and kin)
    field_rhs: bool = True                          # the right-hand side may be a field
    exceptions: bool = True                         # usable as an exception ``comps`` entry
    membership: str = ""                            # list operators: "set" | "path" (pmatch)
    list_match: str = ""                            # on a list field: "all" | "any" elements in the set
    negates: str = ""                               # spelling of the positive operator ("!=" -> "=")
    meaning: Meaning | None = None
    blank_after: bool = False                       # a word operator: blanks must follow it
    warn_na: bool = False                           # comparing a plugin JSON field with "<NA>" warns
    warn_plain_pattern: bool = False                # a pattern with no special character warns (regex)

    @property
    def modifiers(self) -> bool:
        """``oneof``/``anyof``/``allof`` may follow (Falco's string operators)."""
        return self.rhs is Rhs.VALUE


def _regex(pattern: str) -> Any:
    try:
        return compile_regex(pattern)
    except RegexError as e:
        raise values.FilterValueError(f"invalid regex pattern: {e}") from None


_EQ = Template("{v} == {c}", ipnet="{v} in {c}")
_NE = Template("{v} != {c}", ipnet="{v} not in {c}")
_ORDERED = frozenset((NUMERIC, STRING))
_TEXTUAL = frozenset((STRING, BUFFER))
_STR = frozenset((STRING,))
_BUF = frozenset((BUFFER,))


def _glob(icase: bool) -> Template:
    return Template("{c}.fullmatch({v}) is not None", field="_iglob({c}, {v})" if icase else "_glob({c}, {v})",
                    prepare=lambda c: values.glob_regex(c, icase))


def _cmp(op: str, meaning: Meaning) -> Operator:
    return Operator(op, Rhs.NUMBER, _ORDERED, Template("{v} " + op + " {c}"), meaning=meaning)


_TABLE: list[Operator] = [
    Operator("exists", Rhs.NONE, ALL_KINDS, list_fields=True, either_fields=True, meaning=Meaning.EXISTS),
    _cmp("<=", Meaning.LESS_EQUAL),
    _cmp("<", Meaning.LESS),
    _cmp(">=", Meaning.GREATER_EQUAL),
    _cmp(">", Meaning.GREATER),
    Operator("==", Rhs.VALUE, ALL_KINDS, _EQ, either_fields=True, meaning=Meaning.EQUAL, warn_na=True),
    Operator("=", Rhs.VALUE, ALL_KINDS, _EQ, either_fields=True, meaning=Meaning.EQUAL, warn_na=True),
    Operator("!=", Rhs.VALUE, ALL_KINDS, _NE, either_fields=True, negates="=", meaning=Meaning.NOT_EQUAL,
             warn_na=True),
    Operator("glob", Rhs.VALUE, _STR, _glob(False), Literal.TEXT, meaning=Meaning.GLOB, blank_after=True),
    Operator("iglob", Rhs.VALUE, _STR, _glob(True), Literal.TEXT, blank_after=True),
    Operator("contains", Rhs.VALUE, _TEXTUAL, Template("{c} in {v}"), Literal.TEXT, meaning=Meaning.CONTAINS,
             blank_after=True),
    Operator("icontains", Rhs.VALUE, _STR, Template("{c} in _lower({v})", field="_lower({c}) in _lower({v})",
                                                    prepare=values.ascii_lower), Literal.TEXT, blank_after=True),
    Operator("bcontains", Rhs.VALUE, _BUF, Template("{c} in {v}"), Literal.HEX, blank_after=True),
    Operator("startswith", Rhs.VALUE, _TEXTUAL, Template("{v}.startswith({c})"), Literal.TEXT,
             meaning=Meaning.PREFIX, blank_after=True),
    Operator("bstartswith", Rhs.VALUE, _BUF, Template("{v}.startswith({c})"), Literal.HEX, blank_after=True),
    Operator("endswith", Rhs.VALUE, _TEXTUAL, Template("{v}.endswith({c})"), Literal.TEXT, blank_after=True),
    Operator("regex", Rhs.VALUE, _STR, Template("{c}({v})", prepare=_regex), Literal.TEXT, field_rhs=False,
             blank_after=True, warn_plain_pattern=True),
    Operator("intersects", Rhs.LIST, ALL_KINDS, Template("{v} == {c}"), list_fields=True, either_fields=True,
             membership="set", list_match="any", meaning=Meaning.EQUAL, warn_na=True),
    Operator("in", Rhs.LIST, ALL_KINDS, Template("{v} == {c}"), list_fields=True, either_fields=True,
             membership="set", list_match="all", meaning=Meaning.EQUAL, warn_na=True),
    Operator("pmatch", Rhs.LIST, _STR, None, Literal.TEXT, field_rhs=False, membership="path",
             meaning=Meaning.PREFIX, warn_na=True),
]
_BY_SPELLING: dict[str, Operator] = {}


def _reindex() -> None:
    _BY_SPELLING.clear()
    _BY_SPELLING.update((o.spelling, o) for o in _TABLE)


_reindex()


def all_operators() -> tuple[Operator, ...]:
    """Every operator, in the order the parser tries them."""
    return tuple(_TABLE)


def get(spelling: str) -> Operator | None:
    return _BY_SPELLING.get(spelling)


def meaning_of(spelling: str) -> Meaning | None:
    """What the analyses may assume about a check with this operator (None: unknown, widen)."""
    op = _BY_SPELLING.get(spelling)
    return op.meaning if op is not None else None


def spellings() -> tuple[str, ...]:
    return tuple(o.spelling for o in _TABLE)


def register(op: Operator, *, before: str | None = None) -> None:
    """Add an operator (``before``: a spelling it must be tried before, when the new one starts with it)."""
    if op.spelling in _BY_SPELLING:
        raise ValueError(f"operator '{op.spelling}' already defined")
    at = len(_TABLE) if before is None else spellings().index(before)
    _TABLE.insert(at, op)
    _reindex()


def unregister(spelling: str) -> None:
    _TABLE[:] = [o for o in _TABLE if o.spelling != spelling]
    _reindex()
