"""AWS targets on botocore (the optional extra ``lanner[aws]``): SNS, SQS, S3, Kinesis and CloudWatch Logs, as
falcosidekick sends them.

Credentials come from botocore's standard chain, as the AWS SDKs and sidekick find them: environment
(``AWS_ACCESS_KEY_ID`` …), shared ``credentials``/``config`` files and ``profile``, IRSA web identity
(``AWS_ROLE_ARN`` + ``AWS_WEB_IDENTITY_TOKEN_FILE``), container and EC2 instance-profile metadata. Keys given
in the options (sidekick's ``accesskeyid``/``secretaccesskey``/``sessiontoken``, or lanner's
``access_key_id``/``secret_access_key``/``session_token``) come first; ``rolearn`` (+ ``externalid``) assumes
that role with whichever credentials were found, refreshed before they expire.

Common options: ``region`` (else botocore's: ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile; then
``us-east-1``), ``profile``, ``endpoint`` (a compatible server; ``AWS_ENDPOINT_URL[_<SERVICE>]`` work too),
``checkidentity`` (sidekick's, default true: ``sts:GetCallerIdentity`` at start, logged when it fails),
``timeout_ms``. Proxies: botocore honours ``HTTPS_PROXY``/``NO_PROXY``.

- ``sns``: ``topicarn`` (or ``topic_arn``); ``rawjson`` false (sidekick's default): the message is the
  alert's output text, with message attributes ``priority``, ``rule``, ``source``, ``tags``, ``hostname`` and
  each string/number output field; ``rawjson: true``: the message is the JSON alert.
- ``sqs``: ``url`` (or ``queue_url``); the body is the JSON alert.
- ``aws_s3``: ``bucket``, ``prefix``, ``objectcannedacl`` (default ``bucket-owner-full-control``); one object
  per alert, key ``<prefix>/<YYYY-MM-DD>/<RFC 3339 time>.json`` (sidekick's layout), the JSON alert.
- ``aws_kinesis``: ``streamname``; ``PutRecord`` of the JSON alert with a random partition key (sidekick's).
- ``aws_cloudwatchlogs``: ``loggroup``, ``logstream`` (default: ``falcosidekick-logstream``, created if
  missing, as sidekick); events carry the JSON alert and the alert's time; queued alerts go in one
  ``PutLogEvents`` call (up to ``batch_size``, default 100).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from lanner.core.alert import Alert
from lanner.outputs.fanout.base import PermanentError, Target, TransientError
from lanner.outputs.fanout.extras import flag, need, sidekick_json

log = logging.getLogger("lanner.outputs")

COMMON_OPTIONS = frozenset({"region", "profile", "endpoint", "sts_endpoint", "checkidentity", "timeout_ms", "rolearn", "externalid",
                            "accesskeyid", "secretaccesskey", "sessiontoken", "access_key_id", "secret_access_key",
                            "session_token"})
_TRANSIENT_CODES = {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled",
                    "TooManyRequestsException", "ServiceUnavailable", "InternalError", "InternalFailure",
                    "RequestTimeout", "RequestTimeoutException", "SlowDown"}


def json_alert(event: dict[str, Any], alert: Alert) -> str:
    return sidekick_json(event, alert).decode()


def session_for(name: str, options: dict[str, Any]) -> Any:
    """A botocore session whose credentials follow the options, then the standard chain, then ``rolearn``."""
    botocore = need("botocore.session", "aws", name)
    from botocore.credentials import (
        AssumeRoleCredentialFetcher,
        CredentialProvider,
        DeferredRefreshableCredentials,
    )

    profile = options.get("profile") or None
    base = botocore.Session(profile=profile)
    ak = options.get("accesskeyid") or options.get("access_key_id")
    sk = options.get("secretaccesskey") or options.get("secret_access_key")
    if ak or sk:
        if not (ak and sk):
            raise ValueError("accesskeyid and secretaccesskey go together")
        base.set_credentials(str(ak), str(sk), str(options.get("sessiontoken") or options.get("session_token") or "")
                             or None)
    role = options.get("rolearn")
    if not role:
        return base
    source = base.get_credentials()
    if source is None:
        raise ValueError("rolearn is set but no credentials were found to assume it with")
    extra = {"RoleSessionName": f"lanner-{name}"}
    if options.get("externalid"):
        extra["ExternalId"] = str(options["externalid"])
    fetcher = AssumeRoleCredentialFetcher(base.create_client, source, str(role), extra_args=extra)

    class AssumeRole(CredentialProvider):
        METHOD = "assume-role"

        def load(self) -> Any:
            return DeferredRefreshableCredentials(fetcher.fetch_credentials, self.METHOD)

    session = botocore.Session(profile=profile)
    session.get_component("credential_provider").insert_before("env", AssumeRole())
    return session


class AwsTarget(Target):
    """A botocore client for ``service``; subclasses call it and ``classify`` turns errors into ours."""

    service = ""
    options_known: frozenset[str] = COMMON_OPTIONS

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        need("botocore", "aws", name)
        from botocore.config import Config

        self.session = session_for(name, options)
        self.region = str(options.get("region") or self.session.get_config_variable("region") or "us-east-1")
        timeout = float(options.get("timeout_ms", 5000)) / 1000
        # one attempt per call: retries are the worker's, counted and with backoff
        self._config = Config(connect_timeout=timeout, read_timeout=timeout,
                              retries={"total_max_attempts": 1, "mode": "standard"})
        self.client = self._client(self.service, options.get("endpoint") or None)
        if flag(options, "checkidentity", True):
            self.check_identity()

    def _client(self, service: str, endpoint: str | None) -> Any:
        return self.session.create_client(service, region_name=self.region, endpoint_url=endpoint,
                                          config=self._config)

    def check_identity(self) -> None:
        try:
            who = self._client("sts", self.options.get("sts_endpoint") or None).get_caller_identity()
            log.info("fanout %s (%s): AWS identity %s", self.name, self.type_name, who.get("Arn"))
        except Exception as e:  # noqa: BLE001 - reported, the target stays (sends fail, counted)
            log.error("fanout %s (%s): AWS identity check failed: %s", self.name, self.type_name, e)

    def call(self, op: str, **kw: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

        try:
            return getattr(self.client, op)(**kw)
        except ClientError as e:
            err = e.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = int(e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            msg = f"{self.service} {op}: {code}: {err.get('Message', '')}"
            if code in _TRANSIENT_CODES or status == 429 or status >= 500:
                raise TransientError(msg) from None
            raise PermanentError(msg) from None
        except (NoCredentialsError, NoRegionError) as e:
            raise PermanentError(f"{self.service}: {e}") from None
        except BotoCoreError as e:       # connection refused, timeouts, proxy errors
            raise TransientError(f"{self.service} {op}: {e}") from None


class SnsTarget(AwsTarget):
    type_name = "sns"
    service = "sns"
    options_known = COMMON_OPTIONS | {"topicarn", "topic_arn", "rawjson"}

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        self.topic = str(options.get("topicarn") or options.get("topic_arn") or "")
        if not self.topic:
            raise ValueError("option 'topicarn' is required")
        super().__init__(name, options)
        self.raw = flag(options, "rawjson", False)

    def message(self, event: dict[str, Any], alert: Alert) -> dict[str, Any]:
        """Publish's arguments, as sidekick builds them."""
        if self.raw:
            return {"TopicArn": self.topic, "Message": json_alert(event, alert)}
        attrs = {"priority": event["priority"], "rule": event["rule"], "source": event["source"]}
        if event.get("tags"):
            attrs["tags"] = ",".join(event["tags"])
        if event.get("hostname"):
            attrs["hostname"] = event["hostname"]
        out = {k: {"DataType": "String", "StringValue": str(v)} for k, v in attrs.items()}
        for k, v in (event.get("output_fields") or {}).items():
            key = k.replace("]", "").replace("[", ".")
            if isinstance(v, str) and v:
                out[key] = {"DataType": "String", "StringValue": v}
            elif isinstance(v, int | float) and not isinstance(v, bool):
                out[key] = {"DataType": "Number", "StringValue": str(v)}
        return {"TopicArn": self.topic, "Message": event["output"], "MessageAttributes": out}

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.call("publish", **self.message(event, alert))


class SqsTarget(AwsTarget):
    type_name = "sqs"
    service = "sqs"
    options_known = COMMON_OPTIONS | {"url", "queue_url"}

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        self.queue_url = str(options.get("url") or options.get("queue_url") or "")
        if not self.queue_url:
            raise ValueError("option 'url' (the queue URL) is required")
        super().__init__(name, options)

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.call("send_message", QueueUrl=self.queue_url, MessageBody=json_alert(event, alert))


def rfc3339_nano(time_ns: int) -> str:
    """Go's RFC3339Nano in UTC: fraction without trailing zeros, ``Z``."""
    s, ns = divmod(time_ns, 1_000_000_000)
    frac = f"{ns:09d}".rstrip("0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + (f".{frac}" if frac else "") + "Z"


class S3Target(AwsTarget):
    type_name = "aws_s3"
    service = "s3"
    options_known = COMMON_OPTIONS | {"bucket", "prefix", "objectcannedacl"}

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        self.bucket = str(options.get("bucket") or "")
        if not self.bucket:
            raise ValueError("option 'bucket' is required")
        super().__init__(name, options)
        self.prefix = str(options.get("prefix") or "")
        self.acl = str(options.get("objectcannedacl") or "bucket-owner-full-control")

    def key_for(self, alert: Alert) -> str:
        stamp = rfc3339_nano(alert.time_ns)
        return f"{self.prefix}/{stamp[:10]}/{stamp}.json"

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.call("put_object", Bucket=self.bucket, Key=self.key_for(alert), Body=json_alert(event, alert).encode(),
                  ACL=self.acl, ChecksumAlgorithm="CRC32", ContentType="application/json")


class KinesisTarget(AwsTarget):
    type_name = "aws_kinesis"
    service = "kinesis"
    options_known = COMMON_OPTIONS | {"streamname"}

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        self.stream = str(options.get("streamname") or "")
        if not self.stream:
            raise ValueError("option 'streamname' is required")
        super().__init__(name, options)

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        self.call("put_record", StreamName=self.stream, Data=json_alert(event, alert).encode(),
                  PartitionKey=str(uuid.uuid4()))


class CloudWatchLogsTarget(AwsTarget):
    type_name = "aws_cloudwatchlogs"
    service = "logs"
    options_known = COMMON_OPTIONS | {"loggroup", "logstream", "batch_size"}

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        self.group = str(options.get("loggroup") or "")
        if not self.group:
            raise ValueError("option 'loggroup' is required")
        super().__init__(name, options)
        self.stream = str(options.get("logstream") or "")
        self.max_batch = max(1, min(int(options.get("batch_size", 100)), 10000))

    def _ensure_stream(self) -> None:
        if self.stream:
            return
        try:
            self.call("create_log_stream", logGroupName=self.group, logStreamName="falcosidekick-logstream")
        except PermanentError as e:
            if "ResourceAlreadyExists" not in str(e):
                raise
        self.stream = "falcosidekick-logstream"

    def send_batch(self, items: list[tuple[dict[str, Any], Alert]]) -> list[Exception | None]:
        try:
            self._ensure_stream()
            # PutLogEvents wants the events of a call in time order
            events: list[dict[str, Any]] = sorted(
                ({"timestamp": alert.time_ns // 1_000_000, "message": json_alert(event, alert)} for event, alert in items),
                key=lambda e: int(e["timestamp"]))
            resp = self.call("put_log_events", logGroupName=self.group, logStreamName=self.stream,
                             logEvents=events)
        except (TransientError, PermanentError) as e:
            return [e] * len(items)
        return self._rejected(items, events, resp.get("rejectedLogEventsInfo") or {})

    @staticmethod
    def _rejected(items: list[tuple[dict[str, Any], Alert]], events: list[dict[str, Any]],
                  info: dict[str, Any]) -> list[Exception | None]:
        """CloudWatch accepts the call but drops events outside its time window: those alerts failed."""
        bad: dict[int, str] = {}
        for i in range(info.get("tooOldLogEventEndIndex", -1) + 1):
            bad[events[i]["timestamp"]] = "older than the log group accepts"
        if "tooNewLogEventStartIndex" in info:
            for i in range(info["tooNewLogEventStartIndex"], len(events)):
                bad[events[i]["timestamp"]] = "too far in the future"
        for i in range(info.get("expiredLogEventEndIndex", -1) + 1):
            bad.setdefault(events[i]["timestamp"], "past the log group's retention")
        return [PermanentError(f"logs PutLogEvents: event rejected: {bad[ts]}") if ts in bad else None
                for ts in (alert.time_ns // 1_000_000 for _e, alert in items)]

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        err = self.send_batch([(event, alert)])[0]
        if err is not None:
            raise err
