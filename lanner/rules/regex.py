"""The ``regex`` operator: RE2 in POSIX mode, as Falco compiles it, so no pattern can backtrack.

Falco compiles the right-hand side with ``RE2::POSIX`` (POSIX egrep syntax, leftmost-longest, ``.`` not
matching a newline) and requires a full match. Python's ``re`` backtracks: ``(a+)+$`` on 30 characters
runs for minutes. RE2 (the ``google-re2`` bindings) runs in time linear in the value and refuses what
POSIX syntax does not have (``(?i)``, ``{1001}``), with RE2's own message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import re2

from lanner.core.errors import LannerError
from lanner.rules.values import glob_regex

_OPTIONS = re2.Options()
_OPTIONS.posix_syntax = True
_OPTIONS.longest_match = True
_OPTIONS.log_errors = False


class RegexError(LannerError, ValueError):
    """RE2 refused the pattern; the message is RE2's (``invalid repetition size: {1001}``)."""


def compile_regex(pattern: str) -> Callable[[str], bool]:
    """A full-match predicate for ``pattern``; RegexError with RE2's reason when it is invalid."""
    try:
        rx = re2.compile(pattern, _OPTIONS)
    except re2.error as e:
        reason = e.args[0] if e.args else str(e)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise RegexError(str(reason)) from None
    fullmatch = rx.fullmatch

    def matches(value: str) -> bool:
        return fullmatch(value) is not None

    return matches


def _glob_options(icase: bool) -> re2.Options:
    o = re2.Options()
    o.dot_nl = True
    o.case_sensitive = not icase
    o.log_errors = False
    return o


_GLOB_OPTIONS = (_glob_options(False), _glob_options(True))


@lru_cache(maxsize=4096)
def _glob_matcher(pattern: str, icase: bool) -> Callable[[str], object] | None:
    try:
        return re2.compile(glob_regex(pattern).pattern, _GLOB_OPTIONS[icase]).fullmatch
    except re2.error:
        return None


def glob_match(pattern: str, value: str, icase: bool = False) -> bool:
    """``glob``/``iglob`` with a pattern known only at run time (``val(field)``): compiled to RE2 (cached)
    because the pattern is event data and must not be able to make the match backtrack."""
    m = _glob_matcher(pattern, icase)
    return m is not None and m(value) is not None


def iglob_match(pattern: str, value: str) -> bool:
    return glob_match(pattern, value, True)
