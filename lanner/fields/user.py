"""``user.*`` and ``group.*`` fields (event-model 9)."""

from __future__ import annotations

from typing import Any

from lanner.events.syscall import SyscallEvent
from lanner.fields import types as ft
from lanner.fields.registry import Extractor, FieldClass, FieldDef, fdef

UID_NONE = 0xFFFFFFFF


def user_classes(state: Any) -> list[FieldClass]:
    users = state.users if state is not None else None

    def th(fn):
        def get(e: SyscallEvent) -> Any:
            t = e.thread
            return fn(t) if t is not None else None
        return get

    def table(method: str, attr: str):
        def fn(t: Any) -> Any:
            if users is None:
                return None
            return getattr(users, method)(getattr(t, attr), t.container_id)
        return fn

    u: dict[str, Extractor] = {
        "user.uid": th(lambda t: t.uid),
        "user.name": th(table("user_name", "uid")),
        "user.homedir": th(table("user_home", "uid")),
        "user.shell": th(table("user_shell", "uid")),
        "user.loginuid": th(lambda t: -1 if t.loginuid == UID_NONE else t.loginuid),
        "user.loginname": th(lambda t: None if users is None else
                             ("<NA>" if t.loginuid == UID_NONE else users.user_name(t.loginuid, t.container_id))),
    }
    g: dict[str, Extractor] = {
        "group.gid": th(lambda t: t.gid),
        "group.name": th(table("group_name", "gid")),
    }
    ufields = [
        fdef("user.uid", ft.UINT32, "effective user id"),
        fdef("user.name", ft.CHARBUF, "user name"),
        fdef("user.homedir", ft.CHARBUF, "home directory of the user"),
        fdef("user.shell", ft.CHARBUF, "shell of the user"),
        fdef("user.loginuid", ft.INT64, "audit login uid; -1 when unset"),
        fdef("user.loginname", ft.CHARBUF, "name of the audit login user"),
    ]
    gfields = [
        fdef("group.gid", ft.UINT32, "effective group id"),
        fdef("group.name", ft.CHARBUF, "group name"),
    ]

    def ub(f: FieldDef, arg: str | None) -> Extractor:
        return u[f.name]

    def gb(f: FieldDef, arg: str | None) -> Extractor:
        return g[f.name]

    return [FieldClass("user", "Information about the user executing the event", ("syscall",), ufields, ub),
            FieldClass("group", "Information about the group of the user", ("syscall",), gfields, gb)]
