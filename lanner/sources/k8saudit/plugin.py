"""The ``k8saudit`` source: Kubernetes audit events from the API server's webhook or from files.

Configured as Falco configures the k8saudit plugin::

    plugins:
      - name: k8saudit
        library_path: libk8saudit.so        # ignored: the source is built in
        init_config: {sslCertificate: /etc/falco/falco.pem, maxEventSize: 262144,
                      webhookMaxBatchSize: 12582912,
                      # lanner only: authenticate the API server (see webhook.py)
                      webhookBearerTokenFile: /etc/lanner/audit-token, webhookClientCA: /etc/lanner/ca.pem}
        open_params: "http://:9765/k8s-audit" # or https://..., or a file / directory path

Bad input (a malformed file, a bad event in a batch) is reported through :attr:`on_error` (default: the
``lanner.k8saudit`` logger), kept in :attr:`errors`, and skipped; the source keeps going.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Iterator
from typing import Any

import orjson

from lanner.events.base import Event, PluginEvent
from lanner.fields import k8saudit as ka_fields
from lanner.fields.registry import FieldClass
from lanner.sources.api import SourceError, SourcePlugin
from lanner.sources.k8saudit.files import list_files, read_file
from lanner.sources.k8saudit.parse import DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_EVENT_SIZE
from lanner.sources.k8saudit.webhook import AuditWebhook, CustomFieldHeader

SOURCE = "k8s_audit"
POLL_S = 0.1
_log = logging.getLogger("lanner.k8saudit")


def parse_init_config(init_config: Any, plugin: str) -> dict[str, Any]:
    """``init_config`` as Falco passes it (a map, a JSON string, empty) -> dict; SourceError otherwise."""
    if init_config is None or init_config == "":
        return {}
    if isinstance(init_config, dict):
        return init_config
    if isinstance(init_config, str | bytes):
        try:
            v = orjson.loads(init_config)
        except orjson.JSONDecodeError as e:
            raise SourceError(f"{plugin}: init_config is not valid JSON: {e}") from None
        if v is None:
            return {}
        if isinstance(v, dict):
            return v
    raise SourceError(f"{plugin}: init_config must be a map (or a JSON object string)")


def config_int(cfg: dict[str, Any], key: str, default: int, plugin: str) -> int:
    v = cfg.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise SourceError(f"{plugin}: init_config.{key}: expected a positive integer, got {v!r}")
    try:
        n = int(v)
    except ValueError:
        raise SourceError(f"{plugin}: init_config.{key}: expected a positive integer, got {v!r}") from None
    if n <= 0:
        raise SourceError(f"{plugin}: init_config.{key}: expected a positive integer, got {v!r}")
    return n


class K8sAuditPlugin(SourcePlugin):
    name = "k8saudit"
    version = "0.18.0"
    description = "Kubernetes audit events from the API server webhook or from files"
    source = SOURCE
    plugin_id = 1
    extract_sources = (SOURCE,)

    def __init__(self) -> None:
        self.ssl_certificate = "/etc/falco/falco.pem"
        self.max_event_size = DEFAULT_MAX_EVENT_SIZE
        self.max_batch_size = DEFAULT_MAX_BATCH_SIZE
        self.custom_fields: list[CustomFieldHeader] = []
        self.bearer_token: str | None = None
        self.client_ca: str | None = None
        self.errors: deque[str] = deque(maxlen=1000)
        self.n_events = 0
        self.n_errors = 0
        self.webhook: AuditWebhook | None = None

    def on_error(self, msg: str) -> None:
        """Report bad input; replaceable (the engine may route it to its own log)."""
        self.n_errors += 1
        self.errors.append(msg)
        _log.error("k8saudit: %s", msg)

    def init(self, init_config: Any) -> None:
        cfg = parse_init_config(init_config, self.name)
        self.ssl_certificate = str(cfg.get("sslCertificate") or self.ssl_certificate)
        self.max_event_size = config_int(cfg, "maxEventSize", DEFAULT_MAX_EVENT_SIZE, self.name)
        self.max_batch_size = config_int(cfg, "webhookMaxBatchSize", DEFAULT_MAX_BATCH_SIZE, self.name)
        self.custom_fields = self._custom_fields(cfg.get("customFieldsHeaders"))
        self.bearer_token = self._token(cfg)
        self.client_ca = str(cfg["webhookClientCA"]) if cfg.get("webhookClientCA") else None

    def _token(self, cfg: dict[str, Any]) -> str | None:
        """lanner's ``webhookBearerToken`` / ``webhookBearerTokenFile``: the token the webhook requires."""
        token = cfg.get("webhookBearerToken")
        path = cfg.get("webhookBearerTokenFile")
        if token and path:
            raise SourceError(f"{self.name}: init_config: give webhookBearerToken or webhookBearerTokenFile, not both")
        if path:
            try:
                with open(str(path), encoding="utf-8") as f:
                    token = f.read().strip()
            except (OSError, UnicodeDecodeError) as e:
                raise SourceError(f"{self.name}: init_config.webhookBearerTokenFile: cannot read {path}: "
                                  f"{getattr(e, 'strerror', None) or e}") from None
            if not token:
                raise SourceError(f"{self.name}: init_config.webhookBearerTokenFile: {path} is empty")
        if token is not None and not isinstance(token, str):
            raise SourceError(f"{self.name}: init_config.webhookBearerToken must be a string")
        return token or None

    def _custom_fields(self, raw: Any) -> list[CustomFieldHeader]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            raise SourceError(f"{self.name}: init_config.customFieldsHeaders must be a list")
        out = []
        for i, item in enumerate(raw):
            where = f"{self.name}: init_config.customFieldsHeaders[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("header"), str):
                raise SourceError(f"{where}: 'header' (string) is required")
            fields = item.get("customFields")
            if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
                raise SourceError(f"{where}: 'customFields' (list of names) is required")
            pattern = None
            if item.get("pattern"):
                try:
                    pattern = re.compile(str(item["pattern"]))
                except re.error as e:
                    raise SourceError(f"{where}: invalid pattern: {e}") from None
            elif len(fields) != 1:
                raise SourceError(f"{where}: without 'pattern' exactly one custom field can be defined")
            out.append(CustomFieldHeader(item["header"], fields, pattern))
        return out

    def field_classes(self) -> list[FieldClass]:
        return [ka_fields.field_class()]

    def open(self, params: str) -> Iterator[Event | None]:
        params = (params or "").strip()
        if not params:
            raise SourceError("k8saudit: open_params is empty: give a webhook URL (http://:9765/k8s-audit) "
                              "or a file/directory path")
        if params.startswith(("http://", "https://")):
            wh = AuditWebhook(params, ssl_certificate=self.ssl_certificate, max_batch_size=self.max_batch_size,
                              max_event_size=self.max_event_size, on_error=self.on_error,
                              custom_fields=self.custom_fields, bearer_token=self.bearer_token,
                              client_ca=self.client_ca)
            wh.start()
            self.webhook = wh
            return self._from_webhook(wh)
        if "://" in params:
            raise SourceError(f'k8saudit: scheme "{params.split("://", 1)[0]}" is not supported')
        files = list_files(params)     # raises now when the path does not exist
        return self._from_records(r for f in files for r in read_file(f, self.max_event_size, self.on_error))

    def _event(self, num: int, rec: Any) -> PluginEvent:
        self.n_events += 1
        return PluginEvent(num, rec.ts, SOURCE, rec.data, self.name, rec.obj)

    def _from_records(self, records: Iterator[Any]) -> Iterator[Event | None]:
        for num, rec in enumerate(records, 1):
            yield self._event(num, rec)

    def _from_webhook(self, wh: AuditWebhook) -> Iterator[Event | None]:
        num = 0
        try:
            while True:
                rec = wh.get(POLL_S)
                if rec is None:
                    yield None
                    continue
                num += 1
                yield self._event(num, rec)
        finally:
            wh.stop()

    def close(self) -> None:
        if self.webhook is not None:
            self.webhook.stop()
            self.webhook = None

    def event_info(self, evt: PluginEvent) -> str | None:
        """``evt.plugininfo``: the event JSON, as the k8saudit plugin renders it."""
        return ka_fields.event_info(evt)

    def metrics(self) -> dict[str, int]:
        """Counters for ``/metrics`` (``falcosecurity_plugins_k8saudit_*``)."""
        out = {"n_evts": self.n_events, "n_errors": self.n_errors}
        if self.webhook is not None:
            st = self.webhook.stats
            out.update(webhook_requests=st.requests, webhook_rejected=st.rejected)
        return out
