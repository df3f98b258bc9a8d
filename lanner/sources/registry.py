"""Falco's ``load_plugins``/``plugins`` configuration: which plugin serves each entry.

An entry whose ``library_path`` exists loads that shared library (``sources/plugins``). lanner also
provides four plugins natively (``k8saudit`` and its managed-cluster variants, ``json``, ``cloudtrail``,
``container``); one of those serves an entry when its library is absent, or when the entry says
``lanner_builtin: true``. ``container`` is always lanner's own (its state engine keeps container
identity). An entry with neither a library nor a built-in is Falco's start-up error naming the path.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from lanner.config import Config, ConfigError
from lanner.fields.registry import FieldClass
from lanner.sources.api import SourcePlugin
from lanner.sources.plugins.library import resolve_path
from lanner.sources.plugins.source import LibraryPlugin
from lanner.sources.plugins.tables import TableRegistry

log = logging.getLogger("lanner")

#: library file names of the plugins lanner also provides natively
BUILTIN_LIBRARIES = {"libk8saudit.so": "k8saudit", "libk8saudit-eks.so": "k8saudit-eks",
                     "libk8saudit-gke.so": "k8saudit-gke", "libk8saudit-aks.so": "k8saudit-aks",
                     "libk8saudit-ovh.so": "k8saudit-ovh", "libjson.so": "json", "libcloudtrail.so": "cloudtrail",
                     "libcontainer.so": "container"}


class ContainerPlugin(SourcePlugin):
    """Falco's ``container`` plugin: lanner's state engine and runtime look-ups provide its capability
    (container and k8s metadata fields over syscall events), so this object only carries its facts."""

    name = "container"
    version = "0.6.0"
    description = "Container and Kubernetes metadata of syscall events (built into lanner's state engine)"
    extract_sources = ("syscall",)


def _variant(base: type[SourcePlugin], name: str, version: str) -> type[SourcePlugin]:
    """A Falco plugin lanner serves with ``base`` (the k8saudit variants of the managed clusters)."""
    return type(f"{base.__name__}_{name.replace('-', '_')}", (base,), {"name": name, "version": version})


def builtin_plugin_classes() -> dict[str, type[SourcePlugin]]:
    """Every plugin name lanner provides natively -> its class (name, version, source, fields)."""
    from lanner.sources.cloudtrail.plugin import CloudTrailPlugin
    from lanner.sources.json_plugin import JsonPlugin
    from lanner.sources.k8saudit.plugin import K8sAuditPlugin
    classes: dict[str, type[SourcePlugin]] = {c.name: c for c in (K8sAuditPlugin, JsonPlugin, CloudTrailPlugin)}
    for alias, version in (("k8saudit-eks", "0.12.0"), ("k8saudit-gke", "0.6.0"), ("k8saudit-aks", "0.6.0"),
                           ("k8saudit-ovh", "0.6.0")):
        classes[alias] = _variant(K8sAuditPlugin, alias, version)
    classes[ContainerPlugin.name] = ContainerPlugin
    return classes


def builtin_plugins() -> list[SourcePlugin]:
    """The built-in plugins ``--list-plugins`` prints: one per capability (the k8saudit variants and the
    container capability are served by these)."""
    classes = builtin_plugin_classes()
    return [classes[n]() for n in ("k8saudit", "json", "cloudtrail")]


def plugin_versions() -> dict[str, str]:
    """Plugin name -> version of every plugin lanner provides (``required_plugin_versions``, ``/versions``)."""
    return {name: cls.version for name, cls in builtin_plugin_classes().items()}


def plugin_field_classes() -> list[FieldClass]:
    """The field classes the built-in plugins extract (k8saudit, cloudtrail, json over their sources)."""
    return [c for p in builtin_plugins() for c in p.field_classes()]


@dataclass
class PluginEntry:
    name: str
    init_config: Any
    open_params: str
    plugin: SourcePlugin | None     # None for entries lanner handles elsewhere (container)
    library_path: str = ""
    origin: str = "builtin"         # "library" (a shared library), "builtin" or "core"


# Plugins whose capability lives in lanner's core rather than as a source plugin.
CORE_CAPABILITIES = (ContainerPlugin.name,)


def _entries(config: Config) -> list[tuple[str, dict[str, Any]]]:
    """The ``plugins`` entries ``load_plugins`` selects, in its order (every entry when it is absent)."""
    by_name: dict[str, dict[str, Any]] = {}
    for i, e in enumerate(config.list("plugins")):
        if not isinstance(e, dict) or not e.get("name"):
            raise ConfigError(f"could not load plugins config: plugins[{i}] needs a 'name'")
        by_name[str(e["name"])] = e
    names = [str(n) for n in config.list("load_plugins")] if config.has("load_plugins") else list(by_name)
    out = []
    for n in names:
        e = by_name.get(n)
        if e is None:
            raise ConfigError(f"Cannot load plugin '{n}': plugin config not found for given name")
        out.append((n, e))
    return out


def _builtin_name(name: str, entry: dict[str, Any]) -> str | None:
    classes = builtin_plugin_classes()
    if name in classes:
        return name
    lib = os.path.basename(str(entry.get("library_path") or ""))
    return BUILTIN_LIBRARIES.get(lib)


def _library(entry: dict[str, Any]) -> str:
    lib = str(entry.get("library_path") or "")
    return resolve_path(lib) if lib else ""


def _wants_builtin(entry: dict[str, Any]) -> bool:
    v = entry.get("lanner_builtin", False)
    return v is True or str(v).lower() in ("true", "yes", "on", "1")


def configured_plugins(config: Config, *, init: bool = True,
                       tables: TableRegistry | None = None) -> list[PluginEntry]:
    """The plugins of the configuration, loaded (and initialised unless ``init`` is false), in order.

    Which one serves an entry is logged, as Falco logs ``Loaded plugin 'name@version' from file path``.
    """
    classes = builtin_plugin_classes()
    tables = tables if tables is not None else TableRegistry()
    out: list[PluginEntry] = []
    for n, e in _entries(config):
        init_config = e.get("init_config")
        open_params = str(e.get("open_params") or "").strip()
        path = _library(e)
        builtin = _builtin_name(n, e)
        exists = bool(path) and os.path.exists(path)
        if builtin == "container":
            out.append(PluginEntry(n, init_config, open_params, None, path, "core"))
            log.info("Loaded plugin '%s@%s' (built into lanner: the state engine provides container metadata%s)",
                     n, ContainerPlugin.version, f"; {path} not loaded" if exists else "")
            continue
        if exists and not (builtin and _wants_builtin(e)):
            p: SourcePlugin = LibraryPlugin(path, tables)
            if init:
                p.init(init_config)
            out.append(PluginEntry(n, init_config, open_params, p, path, "library"))
            log.info("Loaded plugin '%s@%s' from file %s", n, p.version, path)
            continue
        if builtin is None:
            shown = path or n
            raise ConfigError(f"cannot load plugin {shown}: can't load plugin dynamic library: {shown}: cannot open "
                              "shared object file: No such file or directory")
        p = classes[builtin]()
        if init:
            try:
                p.init(init_config)
            except Exception as ex:  # noqa: BLE001 - surfaced as a configuration error naming the plugin
                raise ConfigError(f"Cannot load plugin '{n}': {ex}") from None
        why = ("lanner_builtin: true" if exists else f"{path} not found") if path else "no library_path"
        log.info("Loaded plugin '%s@%s' (lanner's built-in %s; %s)", n, p.version, builtin, why)
        out.append(PluginEntry(n, init_config, open_params, p, path, "builtin"))
    return out
