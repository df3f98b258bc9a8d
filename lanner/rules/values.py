"""Literal conversion (condition-language.md 6.2) and the runtime helpers compiled conditions call."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import socket
from collections.abc import Iterable
from typing import Any

from lanner.core.errors import LannerError
from lanner.fields import types as ft


class FilterValueError(LannerError):
    """A literal that cannot be converted to the field's type (message as Falco prints it)."""


def _parse_int(text: str) -> int:
    s = text.lstrip(" \t\n\r\f\v")
    body = s[1:] if s[:1] in "+-" else s
    if not body or not body.isdigit():
        raise FilterValueError(f"{text} is not a valid number")
    return int(s)


def _wrap(v: int, width: int, signed: bool) -> int:
    v &= (1 << width) - 1
    if signed and v >= 1 << (width - 1):
        v -= 1 << width
    return v


def convert_literal(text: str, type_: str) -> Any:
    """Convert a literal to the Python value a field of ``type_`` is compared with."""
    if type_ in ft.SIGNED:
        return _wrap(_parse_int(text), ft.WIDTH[type_], True)
    if type_ == ft.PORT:
        if text.isdigit():
            return int(text) & 0xFFFF
        if text == "":
            return 0
        try:
            return socket.getservbyname(text)
        except OSError:
            raise FilterValueError(f"unrecognized protocol {text}") from None
    if type_ in ft.UNSIGNED:
        return _wrap(_parse_int(text), ft.WIDTH[type_], False)
    if type_ == ft.DOUBLE:
        return float(_parse_int(text))
    if type_ == ft.BOOL:
        if text == "true":
            return True
        if text == "false":
            return False
        raise FilterValueError(f"filter error: unrecognized boolean value {text}")
    if type_ == ft.IPADDR:
        return parse_ip(text)
    if type_ == ft.IPNET:
        return parse_net(text)
    if type_ == ft.BYTEBUF:
        return text.encode("utf-8", "surrogateescape")
    if "\x00" in text:
        raise FilterValueError("filter error: filter value cannot contain a NUL byte (\\x00)")
    return text


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        if "." in text and ":" not in text:
            return ipaddress.IPv4Address(text)
        return ipaddress.IPv6Address(text)
    except ValueError:
        fam = "IPv4" if "." in text and ":" not in text else "IPv6"
        raise FilterValueError(f"unrecognized {fam} address {text}") from None


def parse_net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if "/" not in text:
        raise FilterValueError(f"unrecognized IP network {text}")
    addr, mask = text.split("/", 1)
    v4 = "." in addr and ":" not in addr
    try:
        ml = int(mask)
    except ValueError:
        raise FilterValueError(f"invalid netmask {mask}" if v4 else f"invalid v6 netmask: {mask}") from None
    if v4 and not 0 <= ml <= 32:
        raise FilterValueError(f"invalid netmask {mask}")
    if not v4 and not 0 <= ml <= 128:
        raise FilterValueError(f"invalid v6 netmask: {mask}")
    try:
        return ipaddress.ip_network(f"{addr}/{ml}", strict=False)
    except ValueError:
        raise FilterValueError(f"unrecognized IP network {text}") from None


def hex_bytes(text: str) -> bytes:
    if len(text) % 2 or not text:
        raise FilterValueError("filter error: bcontains and bstartswith operator support hex strings only")
    try:
        return binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        raise FilterValueError("filter error: bcontains and bstartswith operator support hex strings only") from None


# --- string helpers ------------------------------------------------------------------------------

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def ascii_lower(s: str) -> str:
    return s.lower() if s.isascii() else s.translate(_ASCII_LOWER)


def ascii_upper(s: str) -> str:
    return s.upper() if s.isascii() else s.translate(_ASCII_UPPER)


def glob_regex(pattern: str, icase: bool = False) -> re.Pattern[str]:
    """POSIX fnmatch without flags: ``*``/``?`` match ``/`` too, ``[...]`` classes, ``\\`` escapes."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            j = i + 1
            if j < n and pattern[j] in "!^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 1
            if j >= n:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:j]
                neg = body[:1] in ("!", "^")
                if neg:
                    body = body[1:]
                body = body.replace("\\", "\\\\")
                out.append("[" + ("^" if neg else "") + body + "]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    flags = re.DOTALL | (re.IGNORECASE | re.ASCII if icase else 0)
    return re.compile("".join(out), flags)


_GLOB_CHARS = re.compile(r"[?*\[]")


class PathMatcher:
    """``pmatch``: is some listed path a component-wise prefix of the value? (condition-language 3.2)"""

    __slots__ = ("paths", "exact")

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths: list[list[Any]] = []
        for p in paths:
            comps = [c for c in p.split("/") if c]
            self.paths.append([glob_regex(c) if _GLOB_CHARS.search(c) else c for c in comps])

    def __call__(self, value: str) -> bool:
        vc = [c for c in value.split("/") if c]
        for comps in self.paths:
            if len(comps) > len(vc):
                continue
            for pc, c in zip(comps, vc, strict=False):
                if isinstance(pc, str):
                    if pc != c:
                        break
                elif pc.fullmatch(c) is None:
                    break
            else:
                return True
        return False


def b64decode(v: Any) -> str | None:
    if v is None:
        return None
    data = v if isinstance(v, bytes) else v.encode("utf-8", "surrogateescape")
    data = data.strip()
    try:
        raw = base64.b64decode(data + b"=" * (-len(data) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.decode("utf-8", "surrogateescape")


def basename(v: str | None) -> str | None:
    if v is None:
        return None
    return v.rsplit("/", 1)[-1]


def length(v: Any) -> int | None:
    if v is None:
        return None
    if isinstance(v, str):
        nul = v.find("\x00")
        return len(v.encode("utf-8", "surrogateescape") if nul < 0 else v[:nul].encode("utf-8", "surrogateescape"))
    return len(v)


def text_of(v: Any) -> str:
    """Stringify one element for join/concat."""
    if isinstance(v, bytes):
        return v.decode("utf-8", "surrogateescape")
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def join(sep: Any, items: Any) -> str | None:
    if sep is None or items is None:
        return None
    return text_of(sep).join(text_of(x) for x in items if x is not None)


def concat(*parts: Any) -> str | None:
    if any(p is None for p in parts):
        return None
    return "".join(text_of(p) for p in parts)


def getopt(args: Any, optstring: str) -> dict[str, str] | None:
    """POSIX getopt over an argument list (or a space-separated string): option letter -> value."""
    if args is None:
        return None
    argv = args.split() if isinstance(args, str) else [text_of(a) for a in args]
    out: dict[str, str] = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--" or not a.startswith("-") or a == "-":
            break
        j = 1
        while j < len(a):
            c = a[j]
            k = optstring.find(c)
            if k < 0 or c == ":":
                j += 1
                continue
            if k + 1 < len(optstring) and optstring[k + 1] == ":":
                if j + 1 < len(a):
                    out[c] = a[j + 1:]
                elif i + 1 < len(argv):
                    i += 1
                    out[c] = argv[i]
                else:
                    out[c] = ""
                break
            out[c] = ""
            j += 1
        i += 1
    return out
