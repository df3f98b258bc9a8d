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


def compose_documents(text: str, filename: str) -> Iterator[yaml.Node | None]:
    """YAML documents of a file; a syntax error, a bad encoding, a custom tag or an alias bomb becomes
    LOAD_ERR_YAML_PARSE with its position (see :mod:`lanner.safeyaml`)."""
    try:
        yield from safeyaml.compose_all(text)
    except safeyaml.YamlInputError as e:
        raise LoadError(Diagnostic("LOAD_ERR_YAML_PARSE", e.message + e.where(),
                                   [Location("rules content", "", filename, max(e.line, 0), max(e.column, 0),
                                             e.index)],
                                   snippet_at(_printable(text), e.line, e.column) if e.line >= 0 else "")) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line, col, off = (mark.line, mark.column, mark.index) if mark is not None else (0, 0, 0)
        problem = getattr(e, "problem", None) or str(e)
        context = getattr(e, "context", None)
        msg = f"{context}, {problem}" if context else str(problem)
        msg = f"{msg} (line {line + 1}, column {col + 1})"
        raise LoadError(Diagnostic("LOAD_ERR_YAML_PARSE", msg,
                                   [Location("rules content", "", filename, line, col, off)],
                                   snippet_at(text, line, col))) from None


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

    def error(self, code: str, message: str, node: yaml.Node | None = None) -> LoadError:
        chain = list(self.chain)
        if node is not None and chain:
            last = chain[-1]
            m = node.start_mark
            if (last.line, last.column) != (m.line, m.column):
                chain.append(Location("value for", "", self.filename, m.line, m.column, m.index))
        return LoadError(self.diag(code, message, node, chain))

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
        raise ctx.error("LOAD_ERR_YAML_VALIDATE", f"Mapping for key '{key}' is empty", node)
    if not isinstance(node, yaml.ScalarNode):
        raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Value is not a scalar value", node)
    if node.value == "" and not allow_empty:
        raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Value must be non-empty", node)
    return node.value


def get_bool(m: Mapping, key: str, ctx: Ctx, default: bool | None) -> bool | None:
    text = get_scalar(m, key, ctx, required=False)
    if text is None:
        return default
    v = _BOOL_WORDS.get(text)
    if v is None:
        raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Can't decode YAML scalar value", m.value(key))
    return v


def get_uint(m: Mapping, key: str, ctx: Ctx, default: int) -> int:
    text = get_scalar(m, key, ctx, required=False)
    if text is None:
        return default
    t = text.strip()
    if not t.isdigit() or int(t) > 0xFFFFFFFF:
        raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Can't decode YAML scalar value", m.value(key))
    return int(t)


def get_string_seq(m: Mapping, key: str, ctx: Ctx) -> list[str] | None:
    if key not in m:
        return None
    node = m.value(key)
    if is_null(node):
        raise ctx.error("LOAD_ERR_YAML_VALIDATE", f"Mapping for key '{key}' is empty", node)
    if not isinstance(node, yaml.SequenceNode):
        raise ctx.error("LOAD_ERR_YAML_VALIDATE", "Value is not a sequence", node)
    out = []
    for item in node.value:
        if not isinstance(item, yaml.ScalarNode) or is_null(item):
            raise ctx.error("LOAD_ERR_YAML_VALIDATE", "sequence value is not scalar", item)
        out.append(item.value)
    return out
