"""The ``fanout`` configuration key (a lanner extension to falco.yaml).

```yaml
fanout:
  - type: slack                # webhook slack teams discord mattermost loki elasticsearch opensearch
                               # kafka nats redis sns sqs smtp alertmanager otlp
    name: sec-slack            # unique; default = type
    min_priority: warning      # least severe priority sent (default debug = everything)
    extra_fields: {cluster: prod}   # merged into output_fields of every alert sent to this target
    url_env: SLACK_WEBHOOK_URL # any option X may be given as X_env: the environment variable to read
    queue_capacity: 10000      # per-target queue; alerts arriving when full are dropped (counted)
    retries: 3                 # extra attempts on transient failures (connect, timeout, 429, 5xx)
    backoff_ms: 500            # first retry delay, doubled each retry up to max_backoff_ms (10000)
    timeout_ms: 5000           # connect/request timeout
    insecure / ca_cert / client_cert / client_key   # TLS for https/tls targets
    # type-specific options: see each target module (chat, webhook, logs, redis, nats, kafka, aws, smtp)
fanout_close_timeout_ms: 5000  # how long shutdown waits for targets to drain
```
``fanout:`` may instead be a mapping in falcosidekick's ``config.yaml`` shape (``slack: {webhookurl: ...}``),
and ``falcosidekick_config: /etc/falcosidekick/config.yaml`` reads a sidekick file unchanged; both are
translated by :mod:`lanner.outputs.fanout.sidekick` and may be combined with a list given elsewhere.
Every option is checked against the output's schema (:mod:`lanner.outputs.fanout.registry`): an unknown
one is an error naming the file, the entry and the nearest valid option.
Credentials (``password``, ``token``, ``url`` with a secret path, AWS keys) come from the option or
its ``*_env`` variable; they are never logged: errors show ``scheme://host:port/…`` only.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from lanner.config import Config, ConfigError, read_yaml_file
from lanner.core.priority import Priority
from lanner.outputs.fanout.base import FanoutHub, Target, TargetWorker
from lanner.outputs.fanout.httpbase import HttpTarget
from lanner.outputs.fanout.registry import SPECS, OutputSpec, specs
from lanner.outputs.fanout.sidekick import Globals, nearest, translate
from lanner.outputs.format import AlertFormatter

log = logging.getLogger("lanner.outputs")

# falcosidekick option names a user may carry into lanner's list form, and lanner's name for them
_SIDEKICK_HINTS = {"minimumpriority": "min_priority", "checkcert": "insecure (inverted)",
                   "customheaders": "headers", "webhookurl": "url", "hostport": "url", "address": "url"}


def target_types() -> dict[str, type[Target]]:
    """type name -> target class (imports every output module: for tests and tools, not the run path)."""
    out: dict[str, type[Target]] = {}
    for s in SPECS:
        try:
            out[s.type] = s.load()
        except ImportError:
            continue
    return out


def resolve_secrets(where: str, options: dict[str, Any]) -> dict[str, Any]:
    """``X_env: VAR`` → ``X`` = ``$VAR`` (an explicit ``X`` wins); a missing variable is an error."""
    out = dict(options)
    for k, v in options.items():
        if k.endswith("_env") and isinstance(v, str):
            base = k[:-4]
            if out.get(base):
                continue
            if v not in os.environ:
                raise ConfigError(f"{where}: option '{k}' names environment variable {v}, which is not set")
            out[base] = os.environ[v]
    return out


def check_options(where: str, spec: OutputSpec, raw: dict[str, Any]) -> None:
    """Every key of a list entry must be one of the output's options (or ``X_env`` of one)."""
    accepted = spec.accepted()
    try:      # a target class may list more options itself (``options_known``)
        accepted = accepted | frozenset(getattr(spec.load(), "options_known", ()))
    except ImportError:
        pass
    for k in raw:
        key = str(k)
        base = key[:-4] if key.endswith("_env") else key
        if base in accepted:
            continue
        hint = ""
        lk = key.lower()
        if lk in spec.rename and spec.rename[lk] in accepted:
            hint = f" (falcosidekick's '{lk}' is '{spec.rename[lk]}' here)"
        elif lk in _SIDEKICK_HINTS and _SIDEKICK_HINTS[lk].split()[0] in accepted:
            hint = f" (falcosidekick's '{lk}' is '{_SIDEKICK_HINTS[lk]}' here)"
        else:
            hint = nearest(base, accepted)
        raise ConfigError(f"{where}: unknown option '{key}' for type '{spec.type}'{hint}")


def build_workers(entries: list[Any], where: str = "fanout", *, dry_run: bool = False) -> list[TargetWorker]:
    """Workers for lanner-list entries. ``dry_run``: every check, but no target is started (HTTP targets,
    which open nothing until the first alert, are built and closed so that their own checks run too)."""
    types = specs()
    workers: list[TargetWorker] = []
    seen: set[str] = set()
    try:
        for i, raw in enumerate(entries):
            at = f"{where}[{i}]"
            if not isinstance(raw, dict):
                raise ConfigError(f"{at}: expected a mapping with at least 'type'")
            t = str(raw.get("type", "")).lower()
            if t not in types:
                raise ConfigError(f"{at}: unknown type '{t}'{nearest(t, types)} (one of {', '.join(sorted(types))})")
            spec = types[t]
            name = str(raw.get("name") or t)
            at = f"{at} ({name})"
            check_options(at, spec, raw)
            if raw.get("enabled") is False:
                continue
            if name in seen:
                raise ConfigError(f"{at}: duplicate target name '{name}'")
            seen.add(name)
            worker = _worker(at, spec, name, resolve_secrets(at, raw), dry_run)
            if worker is not None:
                workers.append(worker)
    except BaseException:
        for w in workers:
            w.close(0)
        raise
    return workers


def _worker(at: str, spec: OutputSpec, name: str, opts: dict[str, Any], dry_run: bool = False) -> TargetWorker | None:
    try:
        cls = spec.load()
    except ImportError as e:
        raise ConfigError(f"{at}: {e}") from None
    for req in getattr(cls, "required", ()):
        if not opts.get(req):
            raise ConfigError(f"{at}: option '{req}' (or '{req}_env') is required")
    try:
        prio = Priority.parse(str(opts.get("min_priority", "debug")))
    except ValueError:
        raise ConfigError(f"{at}: invalid min_priority {opts.get('min_priority')!r}") from None
    extra = opts.get("extra_fields") or {}
    if not isinstance(extra, dict):
        raise ConfigError(f"{at}: extra_fields must be a mapping")
    try:
        if dry_run:
            if issubclass(cls, HttpTarget):
                cls(name, {k: v for k, v in opts.items() if k not in _COMMON}).close()
            return None
        target = cls(name, {k: v for k, v in opts.items() if k not in _COMMON})
        return TargetWorker(
            target, min_priority=prio, capacity=int(opts.get("queue_capacity", 10000)),
            retries=int(opts.get("retries", 3)), backoff=float(opts.get("backoff_ms", 500)) / 1000,
            max_backoff=float(opts.get("max_backoff_ms", 10000)) / 1000, extra_fields=extra)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{at}: {e}") from None


_COMMON = {"type", "name", "min_priority", "extra_fields", "queue_capacity", "retries", "backoff_ms",
           "max_backoff_ms", "enabled"}


def collect(config: Config) -> tuple[list[tuple[str, list[Any]]], Globals | None]:
    """The fan-out entries of every source (lanner list, inline sidekick mapping, sidekick file)."""
    groups: list[tuple[str, list[Any]]] = []
    globals_: Globals | None = None
    cfg_name = config.path or "configuration"
    raw = config.raw("fanout")
    if isinstance(raw, list):
        groups.append((f"{cfg_name}: fanout", raw))
    elif isinstance(raw, dict):
        tr = translate(f"{cfg_name}: fanout", raw)
        groups.append((f"{cfg_name}: fanout (falcosidekick shape)", tr.entries))
        globals_ = tr.globals
        _note(f"{cfg_name}: fanout", tr.not_applied)
    elif raw is not None:
        raise ConfigError(f"{cfg_name}: fanout must be a list of targets or a falcosidekick-style mapping")
    path = config.str("falcosidekick_config", "")
    if path:
        try:
            doc = read_yaml_file(path)
        except (OSError, ConfigError) as e:
            raise ConfigError(f"{cfg_name}: falcosidekick_config: cannot read {path}: {e}") from None
        tr = translate(path, doc)
        groups.append((f"{path}", tr.entries))
        if globals_ is not None and globals_.active() and tr.globals.active():
            raise ConfigError(f"{path}: sidekick global settings are also given in {cfg_name}: fanout; keep one")
        if globals_ is None or not globals_.active():
            globals_ = tr.globals
        _note(path, tr.not_applied)
    return groups, globals_


def _note(where: str, keys: list[str]) -> None:
    if keys:
        log.warning("%s: falcosidekick settings accepted but not applied by lanner: %s", where, ", ".join(keys))


def build_fanout(config: Config, formatter: AlertFormatter) -> FanoutHub | None:
    groups, globals_ = collect(config)
    workers: list[TargetWorker] = []
    try:
        for where, entries in groups:
            new = build_workers(entries, where)
            names = {w.name for w in workers}
            workers.extend(new)
            for w in new:
                if w.name in names:
                    raise ConfigError(f"{where}: target name '{w.name}' is used twice; set 'name' to tell them apart")
    except BaseException:
        for w in workers:
            w.close(0)
        raise
    if not workers:
        return None
    for w in workers:          # falcosidekick-ui lists the enabled outputs with every event
        if hasattr(w.target, "peers"):
            w.target.peers = [x.name for x in workers]
    prepare = globals_.apply if globals_ is not None and globals_.active() else None
    return FanoutHub(workers, formatter, close_timeout=config.int("fanout_close_timeout_ms", 5000) / 1000,
                     prepare=prepare)


def check_fanout(config: Config) -> None:
    """Every fan-out check a start performs (for ``--dry-run``), without starting any target."""
    groups, _ = collect(config)
    names: set[str] = set()
    for where, entries in groups:
        build_workers(entries, where, dry_run=True)
        for i, raw in enumerate(entries):
            if isinstance(raw, dict) and raw.get("enabled") is not False:
                name = str(raw.get("name") or raw.get("type"))
                if name in names:
                    raise ConfigError(f"{where}[{i}]: target name '{name}' is used twice; set 'name' to tell them apart")
                names.add(name)
