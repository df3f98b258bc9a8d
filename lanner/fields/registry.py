"""The field registry: declarative tables of fields, one per field class, with lazy extractors.

A *field class* (``evt``, ``process``, ``fd``, ``k8saudit`` ...) is one table of ``FieldDef`` rows plus one
``bind`` function that turns a field reference (definition + argument) into an *extractor*: a plain
callable ``extractor(event) -> value | None``. The rule compiler binds every field a condition or output
uses once, at load time; evaluation then only calls extractors.

Extractors that compute something expensive cache their result per event in ``event.cache`` (a dict the
source resets for every event) with :func:`cached`; cheap attribute reads do not bother.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lanner.core.errors import LannerError
from lanner.events.base import Event
from lanner.fields import types as ft

Extractor = Callable[[Any], Any]

# Argument rules of a field.
ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL = "none", "required", "optional"

# Field flags.
FILTER_ONLY = "filter_only"      # no single value: matches either side (fd.ip, fd.net, fd.port ...)
NO_RHS = "no_rhs"                # cannot be used on either side of a field-to-field comparison
NO_TRANSFORMER = "no_transformer"
SUGGESTED = "suggested"          # appended by `append_output: suggested_output`
DEPRECATED = "deprecated"
HIDDEN = "hidden"                # not printed by --list
ANY_ANCESTOR = "any_ancestor"    # without argument: true if any ancestor satisfies the check
HEX = "hex"                      # rendered as upper-case hex
NSFRAC = "nsfrac"                # rendered zero-padded to 9 digits


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    desc: str
    arg: str = ARG_NONE
    arg_kind: str = ""            # "index", "key" or "" (free text); for ARG_NONE irrelevant
    is_list: bool = False
    flags: frozenset[str] = frozenset()
    dotted_arg: bool = False      # also accepts `<name>.<arg>` (evt.arg.flags, evt.type.is.open)

    def __post_init__(self) -> None:
        if self.type not in ft.ALL:
            raise ValueError(f"field {self.name}: unknown type {self.type}")


def fdef(name: str, type_: str, desc: str, *, arg: str = ARG_NONE, arg_kind: str = "", is_list: bool = False,
         flags: Iterable[str] = (), dotted_arg: bool = False) -> FieldDef:
    """Short constructor used by the per-class tables."""
    return FieldDef(name, type_, desc, arg, arg_kind, is_list, frozenset(flags), dotted_arg)


@dataclass
class FieldClass:
    """One table of fields with the function that binds them to extractors.

    ``bind(fielddef, arg)`` returns an extractor or raises ``FieldError`` for a bad argument.
    ``sources`` names the event sources whose rules may use the class (``("syscall",)``, or ``()``
    for every source: the generic event fields).
    """

    name: str
    desc: str
    sources: tuple[str, ...]
    fields: Sequence[FieldDef]
    bind: Callable[[FieldDef, str | None], Extractor]
    by_name: dict[str, FieldDef] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name = {f.name: f for f in self.fields}

    def serves(self, source: str) -> bool:
        return not self.sources or source in self.sources


class FieldError(LannerError):
    """A field reference that cannot be resolved or bound (unknown name, bad argument)."""


@dataclass(frozen=True)
class FieldRef:
    """A resolved field reference: which definition, which class, and the argument (None = none)."""

    fdef: FieldDef
    fclass: FieldClass
    arg: str | None

    @property
    def name(self) -> str:
        return self.fdef.name

    def canonical(self) -> str:
        """The reference as Falco prints it as a JSON `output_fields` key."""
        if self.arg is None:
            return self.fdef.name
        if self.fdef.dotted_arg and self.arg and not self.arg.isdigit() and "[" not in self.arg:
            return f"{self.fdef.name}.{self.arg}"
        return f"{self.fdef.name}[{quote_arg(self.arg)}]"

    def bind(self) -> Extractor:
        return self.fclass.bind(self.fdef, self.arg)


def quote_arg(arg: str) -> str:
    if arg == "" or any(c in arg for c in " \t\r\n\"'=\\[]"):
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return arg


class FieldRegistry:
    """All field classes known to one engine, looked up per event source."""

    def __init__(self, classes: Iterable[FieldClass] = ()) -> None:
        self.classes: list[FieldClass] = []
        for c in classes:
            self.add(c)

    def add(self, fclass: FieldClass) -> None:
        self.classes.append(fclass)

    def classes_for(self, source: str) -> list[FieldClass]:
        return [c for c in self.classes if c.serves(source)]

    def sources(self) -> list[str]:
        seen: dict[str, None] = {}
        for c in self.classes:
            for s in c.sources:
                seen.setdefault(s, None)
        return list(seen)

    def find(self, source: str, name: str) -> tuple[FieldDef, FieldClass, str | None] | None:
        """Resolve a dotted name (no bracket argument) for a source.

        Exact names win; otherwise the longest field with ``dotted_arg`` that is a prefix followed by
        ``.`` takes the rest as its argument (``evt.arg.flags`` -> ``evt.arg`` + ``flags``).
        """
        best = None
        for c in self.classes_for(source):
            f = c.by_name.get(name)
            if f is not None:
                return f, c, None
            for f in c.fields:
                if f.dotted_arg and name.startswith(f.name + ".") and len(name) > len(f.name) + 1:
                    if best is None or len(f.name) > len(best[0].name):
                        best = (f, c, name[len(f.name) + 1:])
        return best

    def resolve(self, source: str, name: str, arg: str | None) -> FieldRef:
        """Resolve ``name`` (+ optional bracket ``arg``) into a bound-able reference, checking the
        argument rules; raises FieldError with Falco's messages."""
        hit = self.find(source, name)
        if hit is None:
            raise FieldError(f"filter_check called with nonexistent field {name}")
        f, c, dotted = hit
        if dotted is not None:
            if arg is not None:
                raise FieldError(f"filter_check called with nonexistent field {name}")
            arg = dotted
        if f.arg == ARG_NONE and arg is not None:
            raise FieldError(f"field '{f.name}' does not allow nor require an argument but one is provided: {arg}")
        if f.arg == ARG_REQUIRED and arg is None:
            raise FieldError(f"field '{f.name}' requires an argument but none provided")
        if arg is not None and f.arg_kind == "index" and not is_index(arg):
            raise FieldError(f"field '{f.name}' expects a numeric index as argument but got: {arg}")
        return FieldRef(f, c, arg)

    def all_fields(self, source: str | None = None) -> list[tuple[FieldClass, FieldDef]]:
        out: list[tuple[FieldClass, FieldDef]] = []
        for c in self.classes:
            if source is None or c.serves(source):
                out.extend((c, f) for f in c.fields)
        return out


def is_index(arg: str) -> bool:
    return arg.isdigit() and (arg == "0" or not arg.startswith("0"))


def cached(key: str, fn: Extractor) -> Extractor:
    """Wrap an extractor so its result is computed once per event (stored in ``event.cache``)."""

    def get(e: Event) -> Any:
        c = e.cache
        try:
            return c[key]
        except KeyError:
            v = c[key] = fn(e)
            return v

    return get


def simple_binder(table: dict[str, Callable[[str | None], Extractor]]) -> Callable[[FieldDef, str | None], Extractor]:
    """Binder for classes whose fields map name -> factory(arg) -> extractor."""

    def bind(f: FieldDef, arg: str | None) -> Extractor:
        try:
            factory = table[f.name]
        except KeyError:
            raise FieldError(f"field {f.name} has no extractor") from None
        return factory(arg)

    return bind
