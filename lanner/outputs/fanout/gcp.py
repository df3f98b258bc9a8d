"""Google Cloud Pub/Sub (REST ``topics.publish``) and Cloud Storage (JSON API upload), with falcosidekick's
message and object layout.

``POST {base}/v1/projects/<project_id>/topics/<topic>:publish`` with one message: ``data`` = the alert as
sidekick's JSON (base64), ``attributes`` = ``custom_attributes``. With ``PUBSUB_EMULATOR_HOST`` set (as
for Google's client libraries) the emulator at that address is used, without credentials. Otherwise an
OAuth token comes from google-auth (the optional extra ``lanner[gcp]``): ``credentials`` is sidekick's
base64-encoded service-account key (or the JSON itself), else Application Default Credentials
(``GOOGLE_APPLICATION_CREDENTIALS``, workload identity / the metadata server). Token requests go through
lanner's HTTP client like the publish itself.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from typing import Any
from urllib.parse import quote

import orjson

from lanner.core.alert import Alert
from lanner.core.errors import HttpError
from lanner.outputs.fanout.base import TransientError
from lanner.outputs.fanout.extras import need
from lanner.outputs.fanout.falcopayload import as_json, go_rfc3339
from lanner.outputs.fanout.httpbase import HttpTarget, tls_from
from lanner.outputs.httpclient import HttpClient

SCOPE = "https://www.googleapis.com/auth/pubsub"


class _Response:
    """google-auth's transport response over lanner's :class:`Response`."""

    def __init__(self, status: int, headers: dict[str, str], data: bytes) -> None:
        self.status = status
        self.headers = headers
        self.data = data


class _Request:
    """google-auth's transport request (callable), on lanner's HTTP client."""

    def __init__(self, client: HttpClient) -> None:
        self.client = client

    def __call__(self, url: str, method: str = "GET", body: bytes | None = None,
                 headers: dict[str, str] | None = None, timeout: float | None = None, **_: Any) -> _Response:
        from google.auth import exceptions
        try:
            r = self.client.request(method, url, body or b"", dict(headers or {}))
        except HttpError as e:
            raise exceptions.TransportError(str(e)) from None
        return _Response(r.status, r.headers, r.body)


def _service_account_info(raw: str) -> dict[str, Any]:
    text = raw.strip()
    if not text.startswith("{"):
        try:
            text = base64.b64decode(text, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ValueError("credentials must be a base64-encoded service-account JSON key (or the JSON)") from None
    try:
        info = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"credentials: not a JSON key: {e}") from None
    if not isinstance(info, dict):
        raise ValueError("credentials: not a JSON key object")
    return info


class _GcpTarget(HttpTarget):
    """OAuth for Google APIs: none on an emulator, else google-auth credentials refreshed on lanner's client."""

    scope = SCOPE
    emulator_env = ""

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        self.emulator = os.environ.get(self.emulator_env, "") if self.emulator_env else ""
        self.creds: Any = None
        self._auth_request: _Request | None = None
        if self.emulator and not options.get("credentials"):
            return
        need("google.auth", "gcp", name)
        from google.auth import default
        from google.auth.exceptions import DefaultCredentialsError
        from google.oauth2 import service_account
        if options.get("credentials"):
            info = _service_account_info(str(options["credentials"]))
            try:
                self.creds = service_account.Credentials.from_service_account_info(info, scopes=[self.scope])
            except (ValueError, KeyError) as e:
                raise ValueError(f"credentials: {e}") from None
        else:
            try:
                self.creds, _ = default(scopes=[self.scope])
            except DefaultCredentialsError as e:
                raise ValueError(f"no GCP credentials (set credentials, or Application Default Credentials): {e}") from None
        timeout = float(options.get("timeout_ms", 5000)) / 1000.0
        self._auth_request = _Request(HttpClient(tls=tls_from(options), connect_timeout=timeout, timeout=timeout))

    def token(self) -> str:
        from google.auth.exceptions import GoogleAuthError
        assert self._auth_request is not None
        if not self.creds.valid:
            try:
                self.creds.refresh(self._auth_request)
            except GoogleAuthError as e:
                raise TransientError(f"GCP token: {e}") from None
        return str(self.creds.token)

    def auth_headers(self) -> dict[str, str] | None:
        return {"Authorization": f"Bearer {self.token()}"} if self.creds is not None else None

    def close(self) -> None:
        super().close()
        if self._auth_request is not None:
            self._auth_request.client.close()


class PubSubTarget(_GcpTarget):
    type_name = "gcppubsub"
    required = ("project_id", "topic")
    emulator_env = "PUBSUB_EMULATOR_HOST"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        base = str(options.get("url") or (f"http://{self.emulator}" if self.emulator else "https://pubsub.googleapis.com"))
        self.endpoint = (f"{base.rstrip('/')}/v1/projects/{quote(str(options['project_id']), safe='')}/topics/"
                         f"{quote(str(options['topic']), safe='')}:publish")
        attrs = options.get("custom_attributes") or {}
        if not isinstance(attrs, dict):
            raise ValueError("custom_attributes must be a mapping")
        self.attributes = {str(k): str(v) for k, v in attrs.items()}

    def payload(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        msg: dict[str, Any] = {"data": base64.b64encode(orjson.dumps(as_json(event, alert))).decode()}
        if self.attributes:
            msg["attributes"] = self.attributes
        return {"messages": [msg]}

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.post_json(self.endpoint, self.payload(event, alert), self.auth_headers())


class StorageTarget(_GcpTarget):
    """Cloud Storage: one object per alert, sidekick's key ``<prefix>/<YYYY-MM-DD>/<RFC 3339 nano time>.json``
    (send time, as sidekick), the alert JSON as content; JSON API media upload. ``STORAGE_EMULATOR_HOST``
    (fake-gcs-server and Google's libraries use it) points it at an emulator without credentials."""

    type_name = "gcpstorage"
    required = ("bucket",)
    scope = "https://www.googleapis.com/auth/devstorage.read_write"
    emulator_env = "STORAGE_EMULATOR_HOST"

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        emu = self.emulator if "://" in self.emulator else (f"http://{self.emulator}" if self.emulator else "")
        self.base = str(options.get("url") or emu or "https://storage.googleapis.com").rstrip("/")
        self.bucket = str(options["bucket"])
        self.prefix = str(options.get("prefix") or "")

    def key(self, now_ns: int) -> str:
        day = time.strftime("%Y-%m-%d", time.gmtime(now_ns // 1_000_000_000))
        return f"{self.prefix}/{day}/{go_rfc3339(now_ns)}.json"

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        url = (f"{self.base}/upload/storage/v1/b/{quote(self.bucket, safe='')}/o?uploadType=media&name="
               f"{quote(self.key(time.time_ns()), safe='')}")
        headers = {"Content-Type": "application/json", **(self.auth_headers() or {})}
        self.post(url, orjson.dumps(as_json(event, alert)), headers)
