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
Credentials (``password``, ``token``, ``url`` with a secret path, AWS keys) come from the option or
its ``*_env`` variable; they are never logged: errors show ``scheme://host:port/…`` only.
"""

from __future__ import annotations

import os
from typing import Any

from lanner.config import Config, ConfigError
from lanner.core.priority import Priority
from lanner.outputs.fanout.base import FanoutHub, Target, TargetWorker
from lanner.outputs.format import AlertFormatter

_COMMON = {"type", "name", "min_priority", "extra_fields", "queue_capacity", "retries", "backoff_ms",
           "max_backoff_ms", "enabled"}


def target_types() -> dict[str, type[Target]]:
    from lanner.outputs.fanout import aws, chat, kafka, logs, nats, redis, smtp, webhook

    classes: list[type[Target]] = [
        webhook.WebhookTarget, webhook.AlertmanagerTarget, chat.SlackTarget, chat.TeamsTarget,
        chat.DiscordTarget, chat.MattermostTarget, logs.LokiTarget, logs.ElasticsearchTarget,
        logs.OpenSearchTarget, logs.OtlpLogsTarget, kafka.KafkaTarget, nats.NatsTarget, redis.RedisTarget,
        aws.SnsTarget, aws.SqsTarget, smtp.SmtpTarget,
    ]
    return {c.type_name: c for c in classes}


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


def build_workers(entries: list[Any]) -> list[TargetWorker]:
    types = target_types()
    workers: list[TargetWorker] = []
    seen: set[str] = set()
    for i, raw in enumerate(entries):
        where = f"fanout[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping with at least 'type'")
        if raw.get("enabled") is False:
            continue
        t = str(raw.get("type", "")).lower()
        if t not in types:
            raise ConfigError(f"{where}: unknown type '{t}' (one of {', '.join(sorted(types))})")
        name = str(raw.get("name") or t)
        if name in seen:
            raise ConfigError(f"{where}: duplicate target name '{name}'")
        seen.add(name)
        opts = resolve_secrets(f"{where} ({name})", raw)
        cls = types[t]
        for req in getattr(cls, "required", ()):
            if not opts.get(req):
                raise ConfigError(f"{where} ({name}): option '{req}' (or '{req}_env') is required")
        try:
            prio = Priority.parse(str(opts.get("min_priority", "debug")))
        except ValueError:
            raise ConfigError(f"{where} ({name}): invalid min_priority {opts.get('min_priority')!r}") from None
        extra = opts.get("extra_fields") or {}
        if not isinstance(extra, dict):
            raise ConfigError(f"{where} ({name}): extra_fields must be a mapping")
        try:
            target = cls(name, {k: v for k, v in opts.items() if k not in _COMMON})
            workers.append(TargetWorker(
                target, min_priority=prio, capacity=int(opts.get("queue_capacity", 10000)),
                retries=int(opts.get("retries", 3)), backoff=float(opts.get("backoff_ms", 500)) / 1000,
                max_backoff=float(opts.get("max_backoff_ms", 10000)) / 1000, extra_fields=extra))
        except (ValueError, TypeError) as e:
            for w in workers:
                w.close(0)
            raise ConfigError(f"{where} ({name}): {e}") from None
    return workers


def build_fanout(config: Config, formatter: AlertFormatter) -> FanoutHub | None:
    entries = config.list("fanout", [])
    if not entries:
        return None
    workers = build_workers(entries)
    if not workers:
        return None
    return FanoutHub(workers, formatter, close_timeout=config.int("fanout_close_timeout_ms", 5000) / 1000)
