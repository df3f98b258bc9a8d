"""Lists are substituted into condition text before parsing, as Falco does (rules-file.md 9.2): names are
replaced where delimited, items with spaces are quoted."""

from __future__ import annotations

_BLANKS = " \t\n\r"
_DELIMS = _BLANKS + "(),="


def quote_item(v: str) -> str:
    if " " in v and not v.startswith(("'", '"')):
        return '"' + v + '"'
    return v


def substitute_list(text: str, name: str, items: list[str]) -> tuple[str, bool]:
    """Replace every delimited occurrence of a list name by its items (rules-file.md 9.2)."""
    sub = ", ".join(items)
    used = False
    start = text.find(name)
    while start >= 0:
        end = start + len(name)
        if (start == 0 or text[start - 1] in _DELIMS) and (end >= len(text) or text[end] in _DELIMS):
            while start > 0 and text[start - 1] in _BLANKS:
                start -= 1
            while end < len(text) and text[end] in _BLANKS:
                end += 1
            if not sub:
                if start > 0 and text[start - 1] == ",":
                    start -= 1
                elif end < len(text) and text[end] == ",":
                    end += 1
            before = text[:start] + " " if start > 0 else ""
            text = before + sub + " " + text[end:]
            start = len(before) + len(sub)
            used = True
        start = text.find(name, start + 1)
    return text, used
