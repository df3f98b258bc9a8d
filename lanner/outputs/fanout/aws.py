"""AWS SNS and SQS (query APIs) with Signature Version 4; any compatible endpoint works.

Options: ``region`` (default ``AWS_REGION``/``AWS_DEFAULT_REGION`` or ``us-east-1``),
``access_key_id``/``secret_access_key``/``session_token`` (else ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``), ``endpoint`` (override, e.g. a local emulator).
SNS: ``topic_arn``; ``Publish`` with the JSON alert as message and ``priority``/``rule``/``source``
message attributes. SQS: ``queue_url``; ``SendMessage`` with the JSON alert as body.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import orjson

from lanner.core.alert import Alert
from lanner.outputs.fanout.httpbase import HttpTarget


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def sigv4_headers(method: str, url: str, body: bytes, headers: dict[str, str], *, region: str, service: str,
                  access_key: str, secret_key: str, session_token: str = "",
                  amz_date: str | None = None) -> dict[str, str]:
    """Headers to add (``X-Amz-Date``, ``Authorization``, token) so the request is SigV4-signed."""
    u = urlsplit(url)
    amz_date = amz_date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    date = amz_date[:8]
    out = {"X-Amz-Date": amz_date}
    if session_token:
        out["X-Amz-Security-Token"] = session_token
    host = u.hostname or ""
    if u.port and not ((u.scheme == "https" and u.port == 443) or (u.scheme == "http" and u.port == 80)):
        host += f":{u.port}"
    all_h = {"host": host, **{k.lower(): v for k, v in headers.items()}, **{k.lower(): v for k, v in out.items()}}
    names = sorted(all_h)
    canon_headers = "".join(f"{n}:{' '.join(str(all_h[n]).split())}\n" for n in names)
    signed = ";".join(names)
    query = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~"))
                   for k, _, v in (p.partition("=") for p in u.query.split("&") if p))
    canon_query = "&".join(f"{k}={v}" for k, v in query)
    canon = "\n".join([method, quote(u.path or "/", safe="/-_.~"), canon_query, canon_headers, signed,
                       hashlib.sha256(body).hexdigest()])
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canon.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret_key).encode(), date), region), service), "aws4_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out["Authorization"] = f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={sig}"
    return out


class _AwsTarget(HttpTarget):
    service = ""
    required = ()

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        super().__init__(name, options)
        env = os.environ
        self.region = str(options.get("region") or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1")
        self.access_key = str(options.get("access_key_id") or env.get("AWS_ACCESS_KEY_ID", ""))
        self.secret_key = str(options.get("secret_access_key") or env.get("AWS_SECRET_ACCESS_KEY", ""))
        self.session_token = str(options.get("session_token") or env.get("AWS_SESSION_TOKEN", ""))
        if not self.access_key or not self.secret_key:
            raise ValueError(f"fanout {name}: no AWS credentials (access_key_id/secret_access_key or "
                             "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")

    def signed_post(self, url: str, params: dict[str, str]) -> None:
        body = urlencode(params).encode()
        h = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        h.update(sigv4_headers("POST", url, body, h, region=self.region, service=self.service,
                               access_key=self.access_key, secret_key=self.secret_key,
                               session_token=self.session_token))
        self.post(url, body, h)


class SnsTarget(_AwsTarget):
    type_name = "sns"
    service = "sns"

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        url = str(self.options.get("endpoint") or f"https://sns.{self.region}.amazonaws.com/")
        params = {"Action": "Publish", "Version": "2010-03-31", "TopicArn": str(self.options.get("topic_arn", "")),
                  "Message": orjson.dumps(event, default=str, option=orjson.OPT_SORT_KEYS).decode()}
        for i, (k, v) in enumerate((("priority", event["priority"]), ("rule", alert.rule),
                                    ("source", event["source"])), start=1):
            params[f"MessageAttributes.entry.{i}.Name"] = k
            params[f"MessageAttributes.entry.{i}.Value.DataType"] = "String"
            params[f"MessageAttributes.entry.{i}.Value.StringValue"] = v
        self.signed_post(url, params)


class SqsTarget(_AwsTarget):
    type_name = "sqs"
    service = "sqs"

    def send(self, event: dict[str, Any], alert: Alert) -> None:
        queue_url = str(self.options.get("queue_url", ""))
        url = str(self.options.get("endpoint") or queue_url)
        params = {"Action": "SendMessage", "Version": "2012-11-05", "QueueUrl": queue_url,
                  "MessageBody": orjson.dumps(event, default=str, option=orjson.OPT_SORT_KEYS).decode()}
        self.signed_post(url, params)
