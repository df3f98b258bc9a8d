"""Reading rules YAML with positions: documents are composed into PyYAML nodes (C loader) so every item,
key and value keeps its line/column, and scalars are decoded with Falco's rules (rules-file.md 3)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import yaml

from lanner import safeyaml
from lanner.rules.result import Diagnostic, LoadError, Location

_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_WORDS = {}
for _w, _v in (("true", True), ("false", False), ("yes", True), ("no", False), ("on", True), ("off", False),
               ("y", True), ("n", False)):
    for _form in (_w, _w.upper(), _w.capitalize()):
        _BOOL_WORDS[_form] = _v


# PyYAML's problem texts and the yaml-cpp messages Falco prints for the same syntax errors.
_YAML_CPP_MESSAGES = (
    ("mapping values are not allowed", "illegal map value"),
    ("could not find expected ':'", "illegal map value"),
    ("found undefined alias", "the referenced anchor is not defined"),
    ("expected ',' or ']'", "end of sequence flow not found"),
    ("expected ',' or '}'", "end of map flow not found"),
    ("found unexpected end of stream", "illegal EOF in scalar"),
    ("found unknown escape character", "unknown escape character"),
    ("that cannot start any token", "unknown token"),
    ("expected <block end>, but found '<block sequence start>'", "illegal map value"),
    ("expected <block end>, but found '-'", "end of map not found"),
    ("expected <block end>", "end of map not found"),
    ("block sequence entries are not allowed", "illegal sequence entry"),
    ("found duplicate anchor", "duplicate anchor"),
)


def yaml_cpp_message(problem: str) -> str:
    """The yaml-cpp wording of a PyYAML syntax problem (PyYAML's own text when there is no equivalent)."""
    for needle, msg in _YAML_CPP_MESSAGES:
        if needle in problem:
            return msg
    return problem


def _parse_error(filename: str, text: str, message: str, line: int, col: int, off: int) -> LoadError:
    """LOAD_ERR_YAML_PARSE as Falco reports it: ``yaml-cpp: error at line L, column C: ...`` (1-based) in a
    ``value for`` location at the mark."""
    chain = [Location("rules content", "", filename), Location("value for", "", filename, line, col, off)]
    msg = f"yaml-cpp: error at line {line + 1}, column {col + 1}: {message}"
    return LoadError(Diagnostic("LOAD_ERR_YAML_PARSE", msg, chain, snippet_at(_printable(text), line, col)))


def compose_documents(text: str, filename: str) -> Iterator[yaml.Node | None]:
    """YAML documents of a file; a syntax error, a bad encoding, a custom tag or an alias bomb becomes
    LOAD_ERR_YAML_PARSE with its position (see :mod:`lanner.safeyaml`)."""
    try:
        yield from safeyaml.compose_all(text)
    except safeyaml.YamlInputError as e:
        raise _parse_error(filename, text, e.message, max(e.line, 0), max(e.column, 0), e.index) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line, col, off = (mark.line, mark.column, mark.index) if mark is not None else (0, 0, 0)
        problem = str(getattr(e, "problem", None) or e)
        context = str(getattr(e, "context", None) or "")
        msg = yaml_cpp_message(f"{context}, {problem}" if context else problem)
        raise _parse_error(filename, text, msg, line, col, off) from None


def _printable(text: str) -> str:
    """Undecodable bytes (kept as surrogates) shown as U+FFFD, so an error snippet can be printed."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def snippet_at(text: str, line: int, col: int) -> str:
    lines = text.splitlines()
    if 0 <= line < len(lines):
        return lines[line] + "\n" + " " * max(col, 0) + "^\n"
    return ""


def is_null(node: yaml.Node | None) -> bool:
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG)


@dataclass
class Ctx:
    """Where we are while reading an item: file, text (for snippets) and the location chain so far."""

    filename: str
    text: str
    chain: tuple[Location, ...]

    def loc(self, item_type: str, item_name: str, node: yaml.Node | None) -> Location:
        if node is None:
            return Location(item_type, item_name, self.filename)
        m = node.start_mark
        return Location(item_type, item_name, self.filename, m.line, m.column, m.index)

    def sub(self, item_type: str, item_name: str, node: yaml.Node | None) -> Ctx:
        return Ctx(self.filename, self.text, self.chain + (self.loc(item_type, item_name, node),))

    def error(self, code: str, message: str, node: yaml.Node | None = None, key: str = "") -> LoadError:
        """An error here; with ``node``, in a ``value for '<key>'`` location at that value (Falco's valctx)."""
        chain = list(self.chain)
        if node is not None:
            m = node.start_mark
            chain.append(Location("value for", key, self.filename, m.line, m.column, m.index))
        return LoadError(self.diag(code, message, None, chain))

    def diag(self, code: str, message: str, node: yaml.Node | None = None,
             chain: list[Location] | None = None) -> Diagnostic:
        chain = list(self.chain) if chain is None else chain
        snippet = ""
        if node is not None:
            snippet = snippet_at(self.text, node.start_mark.line, node.start_mark.column)
        elif chain:
            snippet = snippet_at(self.text, chain[-1].line, chain[-1].column)
        return Diagnostic(code, message, chain, snippet)


class Mapping:
    """A YAML mapping node as an ordered key -> (key node, value node) view."""

    def __init__(self, node: yaml.MappingNode) -> None:
        self.node = node
        self.entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k)
            self.entries[key] = (k, v)

    def __contains__(self, key: str) -> bool:
        return key in self.entries

    def keys(self) -> list[str]:
        return list(self.entries)

    def value(self, key: str) -> yaml.Node | None:
        e = self.entries.get(key)
        return e[1] if e else None


def get_scalar(m: Mapping, key: str, ctx: Ctx, *, required: bool, allow_empty: bool = False) -> str | None:
    """A string-valued key per rules-file.md 3; None when optional and absent."""
    if key not in m:
        if required:
            raise ctx.error("LOAD_ERR_YAML_VALIDATE", f"Item has no mapping for key '{key}'")
        return None
    node = m.value(key)
    return scalar_text(node, key, ctx, allow_empty=allow_empty)


def scalar_text(node: yaml.Node | None, key: str, ctx: Ctx, *, allow_empty: bool = False) -> str | None:
    if is_null(node):
        if allow_empty:
            return None
        raise ctx.error("LOAD_ERR_YAML_VALIDATE", f"Mapping for key '{key}' is empty")
    if not isinstance(node, yaml.ScalarNode):
        raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Value is not a scalar value", node, key)
    if node.value == "" and not allow_empty:
        raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Value must be non-empty", node, key)
    return node.value


def get_bool(m: Mapping, key: str, ctx: Ctx, default: bool | None) -> bool | None:
    text = get_scalar(m, key, ctx, required=False)
    if text is None:
        return default
    v = _BOOL_WORDS.get(text)
    if v is None:
        raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Can't decode YAML scalar value", m.value(key), key)
    return v


def get_uint(m: Mapping, key: str, ctx: Ctx, default: int) -> int:
    text = get_scalar(m, key, ctx, required=False)
    if text is None:
        return default
    t = text.strip()
    if not t.isdigit() or int(t) > 0xFFFFFFFF:
        raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Can't decode YAML scalar value", m.value(key), key)
    return int(t)


def get_string_seq(m: Mapping, key: str, ctx: Ctx) -> list[str] | None:
    if key not in m:
        return None
    node = m.value(key)
    if not isinstance(node, yaml.SequenceNode):
        raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Value is not a sequence", node, key)
    out = []
    vctx = ctx.sub("value for", key, node)
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode) or is_null(item):
            raise vctx.sub("list item", "", item).error("LOAD_ERR_YAML_VALIDATE", "sequence value is not scalar")
        out.append(item.value)
    return out
