"""Path joining exactly as libsinsp does it for fd names, exepaths and resolved path arguments.

A relative path is appended to its base directory (which carries its trailing ``/``) and cleaned
as the kernel would walk it: ``//`` collapsed, ``./`` dropped, ``../`` removes the previous
component (never above the start of the base), a trailing ``/`` dropped. A base that is not a real
directory (``<UNKNOWN>``, ``./``, empty) stays as text in front. An absolute path ignores the base.
"""

from __future__ import annotations

MAX_PATH = 1024
TOO_LONG = "/DIR_TOO_LONG/FILENAME_TOO_LONG"


def _walk(out: list[str], path: str, empty_base: bool) -> str:
    """Append ``path`` to the characters in ``out`` (the base) with the clean-up rules."""
    i, n = 0, len(path)
    while i < n:
        c = path[i]
        if c == "." and (not out or out[-1] == "/"):
            nxt = path[i + 1:i + 3]
            if nxt == "./" or (nxt == "." and i + 2 == n):
                # "../" or a final "..": back to the previous separator, never before the base start
                if len(out) > 1:
                    k = len(out) - 1
                    while k >= 1 and out[k - 1] != "/":
                        k -= 1
                    del out[k:]
                i += 3 if nxt == "./" else 2
            elif path[i + 1:i + 2] == "/":
                i += 2
            elif i + 1 == n:
                i += 1
            else:
                out.append(c)
                i += 1
        elif c == "/":
            if (out and out[-1] == "/") or (not out and not empty_base):
                i += 1
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    if len(out) > 1 and out[-1] == "/":
        out.pop()
    return "".join(out)


def concat_path(directory: str, name: str) -> str:
    """libsinsp's concatenation of a base directory and a path given to a syscall."""
    if len(directory) + len(name) + 1 > MAX_PATH:
        return TOO_LONG
    if name and name[0] != "/":
        return _walk(list(directory), name, not directory)
    return _walk([], name, True)


def normalize(path: str) -> str:
    """An absolute path cleaned the same way (``concat_path`` with no base)."""
    return concat_path("", path)
