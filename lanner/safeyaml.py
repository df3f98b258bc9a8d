"""YAML input that cannot hurt: decoding, tags and alias expansion checked before anything reads it.

Rules and configuration files are untrusted text. PyYAML's safe loader already refuses to construct
Python objects, but it still lets a tiny document expand into billions of nodes through nested aliases
(each reader that walks the tree then runs for minutes), and it turns bad bytes into encoder exceptions.
This module gives both the rules reader and the config loader the same checks, each failing with a
:class:`YamlInputError` that carries the position, so callers report a clear error, never a traceback:

- the bytes must be UTF-8 (a UTF-16/32 byte-order mark or an invalid byte is named with its line);
- only the standard YAML tags are allowed: ``!!python/object`` and any other global tag is refused; a
  local tag (``desc: != x`` parses as tag ``!=``) is ignored, as yaml-cpp (hence Falco) ignores it;
- a document may not expand past :data:`MAX_EXPANDED_NODES` nodes through aliases, nor hold a
  recursive alias.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from lanner.core.errors import LannerError

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

MAX_EXPANDED_NODES = 1_000_000

_STD_TAGS = frozenset("tag:yaml.org,2002:" + t for t in (
    "str", "int", "float", "bool", "null", "seq", "map", "timestamp", "binary", "merge", "set", "omap",
    "pairs", "value"))

_KIND_TAGS = {yaml.ScalarNode: "tag:yaml.org,2002:str", yaml.SequenceNode: "tag:yaml.org,2002:seq",
              yaml.MappingNode: "tag:yaml.org,2002:map"}

_BOMS = ((b"\x00\x00\xfe\xff", "UTF-32"), (b"\xff\xfe\x00\x00", "UTF-32"), (b"\xfe\xff", "UTF-16"),
         (b"\xff\xfe", "UTF-16"))


class YamlInputError(LannerError, ValueError):
    """Bad YAML input; ``line``/``column`` are 0-based (-1 when unknown), ``index`` the character offset."""

    def __init__(self, message: str, line: int = -1, column: int = -1, index: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.index = index

    def where(self) -> str:
        return f" (line {self.line + 1}, column {self.column + 1})" if self.line >= 0 else ""


def decode(data: bytes) -> str:
    """UTF-8 text of a file (a UTF-8 BOM is dropped); YamlInputError naming the encoding or bad byte."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise YamlInputError(f"file is {name} encoded (byte-order mark); only UTF-8 is accepted", 0, 0)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        head = data[:e.start]
        line = head.count(b"\n")
        col = len(head) - (head.rfind(b"\n") + 1)
        raise YamlInputError(f"invalid UTF-8 byte 0x{data[e.start]:02x} at byte offset {e.start}; "
                             "only UTF-8 is accepted", line, col, e.start) from None


def check_text(text: str) -> None:
    """Refuse text that came from bytes decoded with ``surrogateescape`` (i.e. not valid UTF-8)."""
    if text.startswith(("\udcff\udcfe", "\udcfe\udcff")):
        raise YamlInputError("file is UTF-16 or UTF-32 encoded (byte-order mark); only UTF-8 is accepted", 0, 0)
    for i, ch in enumerate(text):
        if "\udc80" <= ch <= "\udcff":
            line = text.count("\n", 0, i)
            col = i - (text.rfind("\n", 0, i) + 1)
            raise YamlInputError(f"invalid UTF-8 byte 0x{ord(ch) - 0xdc00:02x}; only UTF-8 is accepted", line, col, i)
        if "\ud800" <= ch <= "\udfff":
            line = text.count("\n", 0, i)
            col = i - (text.rfind("\n", 0, i) + 1)
            raise YamlInputError("invalid character (lone surrogate); only UTF-8 is accepted", line, col, i)


def check_node(root: yaml.Node | None, limit: int = MAX_EXPANDED_NODES) -> None:
    """Refuse non-standard tags, recursive aliases and alias expansion past ``limit`` nodes."""
    if root is None:
        return
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            total = 1
            for child in _children(node):
                total += size[id(child)]
            if total > limit:
                m = node.start_mark
                raise YamlInputError(f"YAML aliases expand to more than {limit} nodes", m.line, m.column, m.index)
            size[key] = total
            continue
        if key in size:
            continue
        if key in on_path:
            m = node.start_mark
            raise YamlInputError("recursive YAML alias", m.line, m.column, m.index)
        if node.tag not in _STD_TAGS:
            if not node.tag.startswith("!"):
                m = node.start_mark
                raise YamlInputError(f"YAML tag '{_short_tag(node.tag)}' is not allowed (only standard and "
                                     "local tags are)", m.line, m.column, m.index)
            node.tag = _KIND_TAGS[type(node)]     # local tag (``desc: != x``): ignored, as yaml-cpp does
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            ck = id(child)
            if ck in on_path:
                m = child.start_mark
                raise YamlInputError("recursive YAML alias", m.line, m.column, m.index)
            if ck not in size:
                stack.append((child, False))


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            yield k
            yield v


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


def compose_all(text: str) -> Iterator[yaml.Node | None]:
    """Checked documents of ``text``; yaml.YAMLError for syntax, YamlInputError for the checks above."""
    check_text(text)
    for doc in yaml.compose_all(text, Loader=_Loader):
        check_node(doc)
        yield doc


def load(text: str) -> Any:
    """One checked document constructed with the safe constructor (None for an empty document)."""
    check_text(text)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        check_node(node)
        return None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()
