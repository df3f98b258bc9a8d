"""One root for user-facing errors: every exception class of lanner derives from LannerError, and a
LannerError is not re-raised as another class that only copies its message."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import lanner
from lanner.core.errors import ConfigError, LannerError

PKG = Path(lanner.__file__).resolve().parent

# Re-wraps kept on purpose: the new class changes what the error means to the code that catches it.
KEPT_REWRAPS = {
    ("lanner.rules.compiler", "CompileError"): "a bad operand value is a compile error of the condition "
                                               "(the loader reports LOAD_ERR_COMPILE_CONDITION)",
    ("lanner.sources.ebpf.loader", "ProbeError"): "libbpf / tracefs failures are the live source failing",
}


def _modules() -> list[str]:
    return [m.name for m in pkgutil.walk_packages(lanner.__path__, "lanner.")
            if "_generated" not in m.name and not m.name.endswith(("_pb2", "_pb2_grpc", "__main__"))]


def _exception_classes() -> tuple[list[type], list[str]]:
    """Every exception class defined in an importable lanner module (nested classes too), and the
    modules that could not be imported here (an optional dependency or a C extension missing)."""
    found: list[type] = []
    skipped = []
    for name in _modules():
        try:
            mod = importlib.import_module(name)
        except ImportError:
            skipped.append(name)
            continue
        todo = [c for c in vars(mod).values() if isinstance(c, type) and c.__module__ == name]
        while todo:
            c = todo.pop()
            if issubclass(c, BaseException):
                found.append(c)
            todo.extend(v for v in vars(c).values() if isinstance(v, type) and v.__module__ == name
                        and v.__qualname__.startswith(c.__qualname__ + "."))
    return found, skipped


def test_every_exception_class_derives_from_lanner_error():
    classes, skipped = _exception_classes()
    assert len(classes) > 30 and len(skipped) < 5, skipped
    bad = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, LannerError)]
    assert bad == []


def test_configuration_errors_below_config_are_config_errors():
    from lanner.config_drops import DropConfigError
    from lanner.filemodes import ModeError, parse_mode
    assert issubclass(ModeError, ConfigError) and issubclass(DropConfigError, ConfigError)
    try:
        parse_mode("rw-r--r--", "security.file_mode", 0o600)
    except ConfigError as e:
        assert "security.file_mode" in str(e)
    else:
        raise AssertionError("a bad mode must be refused")


def _message_only_rewraps(tree: ast.AST, lanner_errors: set[str]) -> list[tuple[int, str]]:
    """``except <LannerError subclass> as e: ... raise X(str(e)) from None``: the new error carries
    nothing but the old message (its class, code and fields are lost)."""
    out = []
    for h in ast.walk(tree):
        if not isinstance(h, ast.ExceptHandler) or h.name is None or h.type is None:
            continue
        types = h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]
        names = {t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute) else "" for t in types}
        if not names & lanner_errors:
            continue
        for r in ast.walk(h):
            if isinstance(r, ast.Raise) and isinstance(r.exc, ast.Call) and isinstance(r.exc.func, ast.Name) \
                    and len(r.exc.args) == 1 and not r.exc.keywords \
                    and isinstance(r.cause, ast.Constant) and r.cause.value is None:
                a = r.exc.args[0]
                if isinstance(a, ast.Call) and isinstance(a.func, ast.Name) and a.func.id == "str" \
                        and len(a.args) == 1 and isinstance(a.args[0], ast.Name) and a.args[0].id == h.name:
                    out.append((r.lineno, r.exc.func.id))
    return out


def test_no_lanner_error_is_rewrapped_with_its_message_only():
    classes, _ = _exception_classes()
    lanner_errors = {c.__name__ for c in classes if issubclass(c, LannerError)}
    found = []
    for name in _modules():
        rel = name.removeprefix("lanner.").replace(".", "/")
        path = PKG / f"{rel}.py" if (PKG / f"{rel}.py").exists() else PKG / rel / "__init__.py"
        if not path.exists():
            continue  # a C extension
        for line, cls in _message_only_rewraps(ast.parse(path.read_text()), lanner_errors):
            if (name, cls) not in KEPT_REWRAPS:
                found.append(f"{name}:{line} -> {cls}")
    assert found == []


def test_the_rewrap_check_can_fail():
    src = ("try:\n    f()\nexcept StoreError as e:\n    raise TuneError(str(e)) from None\n"
           "try:\n    f()\nexcept StoreError as e:\n    raise TuneError(f'{path}: {e}') from None\n"
           "try:\n    f()\nexcept OSError as e:\n    raise TuneError(str(e)) from None\n")
    assert _message_only_rewraps(ast.parse(src), {"StoreError", "TuneError"}) == [(4, "TuneError")]
