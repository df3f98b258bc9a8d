"""Configuration: Falco's ``falco.yaml`` layout, read unchanged.

:class:`Config` wraps the merged YAML document and answers typed look-ups by dotted key
(``config.bool("http_output.insecure", False)``). Every conversion error names the key, so a user can fix
the file. Assembly (main file, ``${VAR}`` expansion, ``config_files`` merging, ``-o`` overrides) is done
by :func:`load_config`.
"""

from __future__ import annotations

import builtins
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from lanner import safeyaml
from lanner.config_drops import DropConfigError, DropSettings, drop_settings
from lanner.config_schema import KeyNote, key_notes, schema_verdict
from lanner.core.errors import ConfigError

DEFAULT_CONFIG_PATHS = ("/etc/lanner/lanner.yaml", "/etc/falco/falco.yaml")

_TRUE = {"true", "yes", "on", "y"}
_FALSE = {"false", "no", "off", "n"}


_MISSING = object()


@dataclass
class Config:
    data: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    files: list[str] = field(default_factory=list)     # every file merged, main first
    schema_notes: dict[str, str] = field(default_factory=dict)    # file -> Falco's schema verdict
    key_notes: list[KeyNote] = field(default_factory=list)        # said once at start-up
    drops: DropSettings | None = None

    def raw(self, key: str, default: Any = None) -> Any:
        """The value at a dotted key (``a.b.c``; ``a.b[0]`` indexes a list), or ``default``."""
        node: Any = self.data
        for part in split_key(key):
            if isinstance(part, int):
                if isinstance(node, list) and -len(node) <= part < len(node):
                    node = node[part]
                else:
                    return default
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                return default
        return node

    def has(self, key: str) -> bool:
        return self.raw(key, _MISSING) is not _MISSING

    def _err(self, key: str, msg: str) -> ConfigError:
        where = f" ({self.path})" if self.path else ""
        return ConfigError(f"Error reading config file{where}: key '{key}': {msg}")

    def bool(self, key: str, default: bool = False) -> bool:
        v = self.raw(key, None)
        if v is None:
            return default
        if isinstance(v, bool):
            return v
        s = str(v).strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        raise self._err(key, f"expected a boolean (true/false), got {v!r}")

    def int(self, key: str, default: int = 0) -> int:
        v = self.raw(key, None)
        if v is None or v == "":
            return default
        if isinstance(v, bool):
            raise self._err(key, f"expected an integer, got {v!r}")
        try:
            return int(str(v).strip(), 0) if isinstance(v, str) else int(v)
        except (TypeError, ValueError):
            raise self._err(key, f"expected an integer, got {v!r}") from None

    def float(self, key: str, default: float = 0.0) -> float:
        v = self.raw(key, None)
        if v is None or v == "":
            return default
        try:
            return float(v)
        except (TypeError, ValueError):
            raise self._err(key, f"expected a number, got {v!r}") from None

    def str(self, key: str, default: str = "") -> str:
        v = self.raw(key, None)
        if v is None:
            return default
        if isinstance(v, dict | list):
            raise self._err(key, "expected a scalar value, got a " + type(v).__name__)
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    def list(self, key: builtins.str, default: Sequence[Any] = ()) -> list[Any]:
        """A sequence; a scalar is read as a one-element list (as Falco does for ``-o key=value``)."""
        v = self.raw(key, None)
        if v is None:
            return list(default)
        if isinstance(v, list):
            return v
        if isinstance(v, dict):
            raise self._err(key, "expected a sequence, got a mapping")
        return [v]

    def dict(self, key: builtins.str) -> dict[builtins.str, Any]:
        v = self.raw(key, None)
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise self._err(key, "expected a mapping")
        return v

    def choice(self, key: builtins.str, default: builtins.str, allowed: Sequence[builtins.str],
               message: builtins.str | None = None) -> builtins.str:
        v = self.str(key, default).strip()
        if v.lower() not in allowed:
            raise ConfigError(message.format(v) if message else f"{key}: '{v}' is not one of {', '.join(allowed)}")
        return v.lower()


_KEY_PART = re.compile(r"((?:[^.\[\]\\]|\\[.\[\]\\])+)((?:\[\d*\])*)")


def split_key(key: str) -> list[str | int]:
    """Split ``a.b[0].c\\.d`` into ``["a", "b", 0, "c.d"]``; ``[]`` becomes ``-1`` (append)."""
    parts: list[str | int] = []
    pos = 0
    n = len(key)
    while pos < n:
        m = _KEY_PART.match(key, pos)
        if not m:
            raise ConfigError(f'Config error at key "{key}": Parsing error: unexpected character at position {pos}')
        parts.append(re.sub(r"\\(.)", r"\1", m.group(1)))
        for idx in re.findall(r"\[(\d*)\]", m.group(2)):
            parts.append(int(idx) if idx else -1)
        pos = m.end()
        if pos < n:
            if key[pos] != ".":
                raise ConfigError(f'Config error at key "{key}": Parsing error: unexpected character at position {pos}')
            pos += 1
            if pos == n:
                raise ConfigError(f'Config error at key "{key}": Parsing error: key ends with "."')
    if not parts:
        raise ConfigError(f'Config error at key "{key}": Parsing error: empty key')
    return parts


def expand_env(value: Any) -> Any:
    """Apply ``${VAR}`` expansion to every string scalar (``$${x}`` yields the literal ``${x}``)."""
    if isinstance(value, str):
        return _expand_str(value)
    if isinstance(value, list):
        return [expand_env(v) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v) for k, v in value.items()}
    return value


def _expand_str(s: str) -> str:
    if "$" not in s:
        return s
    out = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "$" and s.startswith("$${", i):
            end = s.find("}", i + 3)
            if end >= 0:
                out.append(s[i + 1:end + 1])
                i = end + 1
                continue
        if c == "$" and s.startswith("${", i):
            end = s.find("}", i + 2)
            if end >= 0:
                out.append(os.environ.get(s[i + 2:end], ""))
                i = end + 1
                continue
        out.append(c)
        i += 1
    return "".join(out)


def read_yaml_file(path: str) -> Any:
    try:
        with open(path, "rb") as f:
            return safeyaml.load(safeyaml.decode(f.read()))
    except OSError as e:
        raise ConfigError(f"Could not find configuration file at {path}: {e.strerror}") from None
    except safeyaml.YamlInputError as e:
        raise ConfigError(f"Cannot read config file ({path}): {e.message}{e.where()}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"Cannot read config file ({path}): {e}") from None


def set_key(data: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted/indexed key, creating missing nodes (the ``-o`` grammar)."""
    parts = split_key(key)
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        nxt: Any = None if last else ([] if isinstance(parts[i + 1], int) else {})
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ConfigError(f'Config error at key "{key}": Parsing error: not a sequence')
            if part == -1 or part == len(node):
                node.append(value if last else nxt)
                node = node[-1]
                continue
            if part > len(node):
                raise ConfigError(f'Config error at key "{key}": Parsing error: index {part} out of range')
            if last:
                node[part] = value
            else:
                if not isinstance(node[part], dict | list):
                    node[part] = nxt
                node = node[part]
        else:
            if not isinstance(node, dict):
                raise ConfigError(f'Config error at key "{key}": Parsing error: not a mapping')
            if last:
                node[part] = value
            else:
                if not isinstance(node.get(part), dict | list) or (
                        isinstance(nxt, list) != isinstance(node.get(part), list)):
                    node[part] = nxt
                node = node[part]


def parse_option(opt: str) -> tuple[str, Any]:
    """Split one ``-o key=value`` option; a ``{...}`` value is parsed as a YAML flow map."""
    if "=" not in opt:
        raise ConfigError(f'Error parsing config option "{opt}". Must be of the form key=val or key.subkey=val')
    key, value = opt.split("=", 1)
    v: Any = value
    if value.startswith("{") and value.endswith("}"):
        try:
            v = safeyaml.load(value)
        except (yaml.YAMLError, safeyaml.YamlInputError) as e:
            raise ConfigError(f'Error parsing config option "{opt}": {e}') from None
    split_key(key)
    return key, v


def _merge_include(data: dict[str, Any], inc: dict[str, Any], strategy: str) -> None:
    for k, v in inc.items():
        if strategy == "add-only":
            data.setdefault(k, v)
        elif strategy == "append" and isinstance(v, list) and isinstance(data.get(k), list):
            data[k] = data[k] + v
        else:
            data[k] = v


def _config_file_entries(data: dict[str, Any]) -> list[tuple[str, str]]:
    raw = data.get("config_files")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raw = [raw]
    out = []
    for e in raw:
        if isinstance(e, dict):
            if "path" not in e:
                raise ConfigError("Config error: 'config_files' entry without 'path'")
            strategy = str(e.get("strategy") or "append")
            if strategy not in ("append", "override", "add-only"):
                strategy = "append"
            out.append((str(e["path"]), strategy))
        elif e is not None:
            out.append((str(e), "append"))
    return out


def engine_defaults(options: Sequence[str] = ()) -> Config:
    """The keys of the packaged default configuration that shape alerts (``append_output``), plus ``-o`` options,
    without reading the host's files: ``lanner test`` and the benches judge rules as a default run does, and a
    configuration that lacks ``append_output`` appends nothing, as in Falco."""
    defaults = read_yaml_file(os.path.join(os.path.dirname(__file__), "data", "lanner.yaml")) or {}
    data: dict[str, Any] = {"append_output": defaults.get("append_output") or []}
    for k, v in (parse_option(o) for o in options):
        set_key(data, k, v)
    return Config(data=data)


def load_config(path: str | None, options: Sequence[str] = (), *, search_defaults: bool = True) -> Config:
    """Assemble the configuration as Falco does (config-and-cli.md 1.2)."""
    data: dict[str, Any] = {}
    cfg_path = path
    if path is None and search_defaults:
        cfg_path = next((p for p in DEFAULT_CONFIG_PATHS if os.path.isfile(p)), None)
    files: list[str] = []
    verdicts: dict[str, str] = {}
    if cfg_path is not None:
        if not os.path.isfile(cfg_path):
            raise ConfigError(f"Could not find configuration file at {cfg_path}")
        doc = read_yaml_file(cfg_path)
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise ConfigError(f"Error reading config file ({cfg_path}): the document is not a mapping")
        data = expand_env(doc)
        files.append(cfg_path)
        verdicts[cfg_path] = schema_verdict(doc)
    parsed = [parse_option(o) for o in options]
    for k, v in parsed:
        if k.startswith("config_files"):
            set_key(data, k, v)
    main_real = os.path.realpath(cfg_path) if cfg_path else None
    for inc_path, strategy in _config_file_entries(data):
        if not os.path.exists(inc_path):
            continue
        if os.path.isdir(inc_path):
            names = sorted(os.path.join(inc_path, n) for n in os.listdir(inc_path))
            paths = [p for p in names if os.path.isfile(p)]
        else:
            paths = [inc_path]
        for p in paths:
            if main_real and os.path.realpath(p) == main_real:
                raise ConfigError(
                    f"Config error: 'config_files' directive tried to recursively include main config file: {p}.")
            inc = read_yaml_file(p)
            if inc is None:
                continue
            if not isinstance(inc, dict):
                raise ConfigError(f"Error reading config file ({p}): the document is not a mapping")
            if "config_files" in inc:
                raise ConfigError(f"Config error: 'config_files' directive in included config file {p}.")
            _merge_include(data, expand_env(inc), strategy)
            files.append(p)
            verdicts[p] = schema_verdict(inc)
    for k, v in parsed:
        set_key(data, k, v)
    try:
        drops = drop_settings(data)
    except DropConfigError as e:
        sep = "" if e.nospace else " "
        raise ConfigError(f"Error reading config file{sep}({cfg_path or ''}): {e}") from None
    return Config(data=data, path=cfg_path, files=files, schema_notes=verdicts, key_notes=key_notes(data),
                  drops=drops)
