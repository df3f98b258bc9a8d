"""Built-in plugin-style sources, and Falco's ``load_plugins``/``plugins`` configuration mapped onto them.

lanner cannot load Falco's shared-library plugins; it provides the same capabilities natively under the
same names, so a ``falco.yaml`` that loads ``k8saudit``/``json``/``cloudtrail``/``container`` works as is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from lanner.config import Config, ConfigError
from lanner.fields.registry import FieldClass
from lanner.sources.api import SourcePlugin


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


# Plugins whose capability lives in lanner's core rather than as a source plugin.
CORE_CAPABILITIES = (ContainerPlugin.name,)


def configured_sources(config: Config) -> set[str]:
    """Event sources a configuration loads, as Falco counts them for rules (``LOAD_UNKNOWN_SOURCE``):
    ``syscall`` plus the source of each plugin ``load_plugins`` selects (every ``plugins`` entry when it
    is absent). Nothing is initialised here; a name lanner does not provide adds no source."""
    sources = {"syscall"}
    entries = [e for e in config.list("plugins") if isinstance(e, dict) and e.get("name")]
    names = ([str(n) for n in config.list("load_plugins")] if config.has("load_plugins")
             else [str(e["name"]) for e in entries])
    classes = builtin_plugin_classes()
    for n in names:
        cls = classes.get(n)
        if cls is not None and cls.source:
            sources.add(cls.source)
    return sources


FALCO_PLUGINS_DIR = "/usr/share/falco/plugins"


def missing_plugin_library(config: Config) -> str | None:
    """Falco's start-up error for a selected plugin that is not one of lanner's built-ins and whose
    ``library_path`` (relative paths are under Falco's plugins directory) does not exist; None otherwise."""
    entries = [e for e in config.list("plugins") if isinstance(e, dict) and e.get("name")]
    names = ({str(n) for n in config.list("load_plugins")} if config.has("load_plugins")
             else {str(e["name"]) for e in entries})
    classes = builtin_plugin_classes()
    for e in entries:
        name, lib = str(e["name"]), str(e.get("library_path") or "")
        if name not in names or name in classes or not lib:
            continue
        path = lib if os.path.isabs(lib) else os.path.join(FALCO_PLUGINS_DIR, lib)
        if not os.path.exists(path):
            return (f"cannot load plugin {path}: can't load plugin dynamic library: {path}: cannot open shared "
                    "object file: No such file or directory")
    return None


def configured_plugins(config: Config) -> list[PluginEntry]:
    """Plugins to load, in ``load_plugins`` order (or every ``plugins`` entry when it is absent)."""
    entries = config.list("plugins")
    by_name: dict[str, dict[str, Any]] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not e.get("name"):
            raise ConfigError(f"could not load plugins config: plugins[{i}] needs a 'name'")
        by_name[str(e["name"])] = e
    if config.has("load_plugins"):
        names = [str(n) for n in config.list("load_plugins")]
    else:
        names = list(by_name)
    classes = builtin_plugin_classes()
    out = []
    for n in names:
        e = by_name.get(n)
        if e is None:
            raise ConfigError(f"Cannot load plugin '{n}': plugin config not found for given name")
        init_config = e.get("init_config")
        open_params = str(e.get("open_params") or "").strip()
        if n in CORE_CAPABILITIES:
            out.append(PluginEntry(n, init_config, open_params, None))
            continue
        cls = classes.get(n)
        if cls is None:
            raise ConfigError(f"Cannot load plugin '{n}': lanner has no built-in plugin of that name (built-ins: "
                              + ", ".join(sorted(set(classes) | set(CORE_CAPABILITIES))) + ")")
        p = cls()
        try:
            p.init(init_config)
        except Exception as ex:  # noqa: BLE001 - surfaced as a configuration error naming the plugin
            raise ConfigError(f"Cannot load plugin '{n}': {ex}") from None
        out.append(PluginEntry(n, init_config, open_params, p))
    return out
