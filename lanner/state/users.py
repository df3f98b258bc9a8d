"""Users and groups, keyed by (container id, uid/gid) (event-model 9).

Seeded from a capture's user-list block (host entries, container id "") and kept current by
useradded/userdeleted/groupadded/groupdeleted events. A live engine may seed the host entries from
/etc/passwd and /etc/group with :meth:`UserTable.load_host_files`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

NA = "<NA>"


class UserTable:
    """Users: (container, uid) -> (name, homedir, shell); groups: (container, gid) -> name."""

    def __init__(self) -> None:
        self.users: dict[tuple[str, int], tuple[str, str, str]] = {}
        self.groups: dict[tuple[str, int], str] = {}

    def add_user(self, uid: int, gid: int, name: str, home: str = "", shell: str = "", container: str = "") -> None:
        self.users[(container, uid)] = (name, home, shell)

    def remove_user(self, uid: int, container: str = "") -> None:
        self.users.pop((container, uid), None)

    def add_group(self, gid: int, name: str, container: str = "") -> None:
        self.groups[(container, gid)] = name

    def remove_group(self, gid: int, container: str = "") -> None:
        self.groups.pop((container, gid), None)

    def user(self, uid: int, container: str = "") -> tuple[str, str, str] | None:
        return self.users.get((container, uid))

    def user_name(self, uid: int | None, container: str = "") -> str:
        """Falco's user.name: the table name; ``root`` for an unknown uid 0; else ``<NA>``."""
        if uid is None:
            return NA
        u = self.users.get((container, uid))
        if u is not None:
            return u[0]
        return "root" if uid == 0 else NA

    def user_home(self, uid: int | None, container: str = "") -> str:
        if uid is None:
            return NA
        u = self.users.get((container, uid))
        if u is not None:
            return u[1]
        return "/root" if uid == 0 else NA

    def user_shell(self, uid: int | None, container: str = "") -> str:
        if uid is None:
            return NA
        u = self.users.get((container, uid))
        return u[2] if u is not None else NA

    def group_name(self, gid: int | None, container: str = "") -> str:
        if gid is None:
            return NA
        g = self.groups.get((container, gid))
        if g is not None:
            return g
        return "root" if gid == 0 else NA

    def seed(self, records: Any) -> None:
        """Load user-list records: objects or dicts with ``kind``/``type`` ("user"/0, "group"/1),
        ``uid``, ``gid``, ``name``, ``home``, ``shell`` (attribute or key access)."""
        for r in records or ():
            get: Callable[..., Any] = r.get if isinstance(r, dict) else (lambda k, d=None, _r=r: getattr(_r, k, d))
            kind = get("kind", None)
            if kind is None:
                kind = get("type", None)
            if kind is None:
                kind = "user" if get("uid", None) is not None else "group"
            if kind in ("user", 0):
                self.add_user(int(get("uid")), int(get("gid", 0) or 0), get("name", "") or "",
                              get("home", None) or get("homedir", "") or "", get("shell", "") or "",
                              get("container", "") or "")
            else:
                self.add_group(int(get("gid")), get("name", "") or "", get("container", "") or "")

    def load_host_files(self, passwd: str = "/etc/passwd", group: str = "/etc/group") -> None:
        """Host users/groups from the passwd/group files (live mode); unreadable files are skipped."""
        for line in _lines(passwd):
            p = line.split(":")
            if len(p) >= 7 and p[2].isdigit():
                self.add_user(int(p[2]), int(p[3]) if p[3].isdigit() else 0, p[0], p[5], p[6])
        for line in _lines(group):
            p = line.split(":")
            if len(p) >= 3 and p[2].isdigit():
                self.add_group(int(p[2]), p[0])


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return []
