"""AWS targets on botocore against moto's server mode on loopback (a real HTTP server speaking the AWS
APIs): SNS (sidekick's message and raw JSON, delivered to an SQS queue), SQS, S3, CloudWatch Logs, and
the credentials chain: keys in the options, environment, a profile, IRSA web identity, an assumed role."""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lanner.core.priority import Priority
from lanner.outputs.fanout.aws import SqsTarget, rfc3339_nano
from tests.outputs.fanout.servers import free_port, run, stop
from tests.outputs.helpers import make_alert

pytest.importorskip("botocore")
import botocore.session  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/falco"


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    moto_server = pytest.importorskip("moto.server")      # heavy: imported only when these tests run
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(moto: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every AWS call of the test goes to moto; nothing from the machine's own AWS set-up is read."""
    for var in ("AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_SESSION_TOKEN",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAENVENVENVENVENV1")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return moto


def client(service: str):
    return botocore.session.Session().create_client(service)


def queue(name: str) -> str:
    return client("sqs").create_queue(QueueName=name)["QueueUrl"]


def receive(url: str, n: int) -> list[dict]:
    sqs, out = client("sqs"), []
    for _ in range(20):
        r = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        out += r.get("Messages", [])
        if len(out) >= n:
            break
    return out


def test_sqs_body_is_the_json_alert() -> None:
    url = queue("q-plain")
    p = run([{"type": "sqs", "url": url}], [make_alert(1), make_alert(2, Priority.CRITICAL)])
    assert p.stats()["fanout"]["sqs"]["sent"] == 2
    bodies = sorted((json.loads(m["Body"]) for m in receive(url, 2)), key=lambda b: b["output_fields"]["n"])
    assert [b["priority"] for b in bodies] == ["Warning", "Critical"]
    assert bodies[0]["rule"] == "Test rule" and bodies[0]["hostname"] == "node1"
    assert bodies[0]["tags"] == ["container", "shell"] and bodies[0]["output"].endswith("alert number 1 proc=bash")
    # sidekick's payload: Falco's alert plus a uuid, time in Go's RFC 3339 (trailing zeros trimmed)
    assert list(bodies[0]) == ["uuid", "output", "priority", "rule", "time", "output_fields", "source", "tags",
                               "hostname"]
    assert bodies[0]["time"] == "2026-01-05T14:03:21.12345679Z" and len(bodies[0]["uuid"]) == 36


def test_sns_message_as_sidekick_and_raw_json() -> None:
    sns = client("sns")
    topic = sns.create_topic(Name="falco")["TopicArn"]
    url = queue("q-sns")
    arn = client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    p = run([{"type": "sns", "name": "plain", "topicarn": topic},
             {"type": "sns", "name": "raw", "topicarn": topic, "rawjson": True}], [make_alert(1)])
    assert p.stats()["fanout"]["plain"]["sent"] == 1 and p.stats()["fanout"]["raw"]["sent"] == 1
    notes = [json.loads(m["Body"]) for m in receive(url, 2)]
    plain = next(n for n in notes if not n["Message"].startswith("{"))
    raw = next(n for n in notes if n["Message"].startswith("{"))
    assert plain["Message"].endswith("Warning alert number 1 proc=bash")
    attrs = {k: (v["Type"], v["Value"]) for k, v in plain["MessageAttributes"].items()}
    assert attrs["priority"] == ("String", "Warning") and attrs["rule"] == ("String", "Test rule")
    assert attrs["tags"] == ("String", "container,shell") and attrs["hostname"] == ("String", "node1")
    assert attrs["proc.name"] == ("String", "bash") and attrs["n"] == ("Number", "1")
    assert json.loads(raw["Message"])["output_fields"]["proc.name"] == "bash"


def test_s3_object_per_alert_with_sidekicks_key() -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="alerts", CreateBucketConfiguration={"LocationConstraint": "eu-west-3"})
    a = make_alert(7)
    p = run([{"type": "aws_s3", "bucket": "alerts", "prefix": "falco"}], [a])
    assert p.stats()["fanout"]["aws_s3"]["sent"] == 1
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="alerts")["Contents"]]
    assert keys == [f"falco/2026-01-05/{rfc3339_nano(a.time_ns)}.json"]
    assert keys[0] == "falco/2026-01-05/2026-01-05T14:03:21.123456796Z.json"
    body = json.loads(s3.get_object(Bucket="alerts", Key=keys[0])["Body"].read())
    assert body["output_fields"]["n"] == 7
    grants = s3.get_object_acl(Bucket="alerts", Key=keys[0])["Grants"]
    assert grants and all(g["Permission"] == "FULL_CONTROL" for g in grants)


def test_cloudwatch_logs_stream_created_and_batched() -> None:
    logs = client("logs")
    logs.create_log_group(logGroupName="falco")
    now = time.time_ns()
    alerts = [replace(make_alert(i), time_ns=now + i * 1_000_000) for i in range(5)]
    p = run([{"type": "aws_cloudwatchlogs", "loggroup": "falco", "batch_size": 10}], alerts)
    assert p.stats()["fanout"]["aws_cloudwatchlogs"]["sent"] == 5
    events = logs.get_log_events(logGroupName="falco", logStreamName="falcosidekick-logstream")["events"]
    assert [json.loads(e["message"])["output_fields"]["n"] for e in events] == [0, 1, 2, 3, 4]
    assert [e["timestamp"] for e in events] == [a.time_ns // 1_000_000 for a in alerts]
    logs.create_log_stream(logGroupName="falco", logStreamName="mine")
    old = make_alert(9)           # January 2026: outside CloudWatch's 14-day window, rejected
    p = run([{"type": "aws_cloudwatchlogs", "loggroup": "falco", "logstream": "mine", "retries": 2}],
            [replace(make_alert(8), time_ns=now), old])
    st = p.stats()["fanout"]["aws_cloudwatchlogs"]
    assert st["sent"] == 1 and st["failed"] == 1 and st["retries"] == 0
    events = logs.get_log_events(logGroupName="falco", logStreamName="mine")["events"]
    assert [json.loads(e["message"])["output_fields"]["n"] for e in events] == [8]


def test_kinesis_record_per_alert() -> None:
    kinesis = client("kinesis")
    kinesis.create_stream(StreamName="falco", ShardCount=1)
    p = run([{"type": "aws_kinesis", "streamname": "falco"}], [make_alert(1), make_alert(2)])
    assert p.stats()["fanout"]["aws_kinesis"]["sent"] == 2
    shard = kinesis.describe_stream(StreamName="falco")["StreamDescription"]["Shards"][0]["ShardId"]
    it = kinesis.get_shard_iterator(StreamName="falco", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=it["ShardIterator"])["Records"]
    assert [json.loads(r["Data"])["output_fields"]["n"] for r in records] == [1, 2]
    assert len({r["PartitionKey"] for r in records}) == 2


def method_of(options: dict) -> str:
    t = SqsTarget("t", {"url": "http://unused", "checkidentity": False, **options})
    return t.session.get_credentials().method


def test_credentials_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert method_of({}) == "env"
    assert method_of({"accesskeyid": "AKIAOPTIONS000000001", "secretaccesskey": "s"}) == "explicit"
    creds = tmp_path / "credentials"
    creds.write_text("[sec]\naws_access_key_id = AKIAPROFILE000000001\naws_secret_access_key = p\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert method_of({"profile": "sec"}) == "shared-credentials-file"
    # IRSA: the token file and role the EKS webhook injects; STS (moto) exchanges them for keys
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZmFsY286ZmFsY28ifQ.c2ln")
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    url = queue("q-irsa")
    t = SqsTarget("irsa", {"url": url, "checkidentity": False})
    c = t.session.get_credentials()
    assert c.method == "assume-role-with-web-identity"
    assert c.get_frozen_credentials().access_key.startswith("ASIA")
    p = run([{"type": "sqs", "url": url}], [make_alert()])
    assert p.stats()["fanout"]["sqs"]["sent"] == 1


class MetadataServer:
    """EC2 instance metadata (IMDSv2) and the ECS/EKS container credentials endpoint, as botocore reads them."""

    def __init__(self) -> None:
        creds = {"Code": "Success", "AccessKeyId": "ASIAMETADATA00000001", "SecretAccessKey": "m",
                 "Token": "tok", "Expiration": "2099-01-01T00:00:00Z"}
        seen = self.seen = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def _send(self, body: str) -> None:
                seen.append((self.command, self.path))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def do_PUT(self) -> None:      # IMDSv2 session token
                self._send("imds-token")

            def do_GET(self) -> None:
                if self.path.endswith("/security-credentials/"):
                    self._send("falco-node")
                elif self.path.endswith("/security-credentials/falco-node") or self.path == "/creds":
                    self._send(json.dumps({**creds, "AccessKeyId": creds["AccessKeyId"][:-1] +
                                           ("2" if self.path == "/creds" else "1")}))
                else:
                    self.send_error(404)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_instance_profile_and_container_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    md = MetadataServer()
    try:
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        monkeypatch.delenv("AWS_EC2_METADATA_DISABLED")
        monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", md.url + "/")
        c = SqsTarget("t", {"url": "http://unused", "checkidentity": False}).session.get_credentials()
        assert c.method == "iam-role" and c.get_frozen_credentials().access_key == "ASIAMETADATA00000001"
        assert ("PUT", "/latest/api/token") in md.seen
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", md.url + "/creds")
        c = SqsTarget("t", {"url": "http://unused", "checkidentity": False}).session.get_credentials()
        assert c.method == "container-role" and c.get_frozen_credentials().access_key == "ASIAMETADATA00000002"
    finally:
        md.stop()


def test_rolearn_is_assumed(caplog: pytest.LogCaptureFixture) -> None:
    url = queue("q-role")
    t = SqsTarget("role", {"url": url, "rolearn": ROLE, "externalid": "x-1", "checkidentity": False})
    c = t.session.get_credentials()
    assert c.method == "assume-role" and c.get_frozen_credentials().access_key.startswith("ASIA")
    with caplog.at_level(logging.INFO, logger="lanner.outputs"):
        p = run([{"type": "sqs", "url": url, "rolearn": ROLE}], [make_alert()])
    assert p.stats()["fanout"]["sqs"]["sent"] == 1
    assert "AWS identity arn:aws:sts::123456789012:assumed-role/falco/" in caplog.text


def test_through_an_http_proxy(aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.outputs.test_httpclient_proxy import start_tinyproxy
    url = queue("q-proxy")
    proc, tp = start_tinyproxy(tmp_path)
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{tp.port}")      # botocore reads it itself
        p = run([{"type": "sqs", "url": url, "checkidentity": False}], [make_alert()])
    finally:
        stop(proc)
        monkeypatch.delenv("HTTP_PROXY")
    assert p.stats()["fanout"]["sqs"]["sent"] == 1
    assert f"POST {aws_env}/ HTTP/1.1" in tp.seen() and len(receive(url, 1)) == 1


def test_failures_are_classified() -> None:
    missing = run([{"type": "sqs", "url": "http://127.0.0.1/123456789012/nope", "retries": 2, "backoff_ms": 1,
                    "checkidentity": False}], [make_alert()])
    st = missing.stats()["fanout"]["sqs"]
    assert st["failed"] == 1 and st["retries"] == 0
    down = run([{"type": "sqs", "url": "http://q", "endpoint": f"http://127.0.0.1:{free_port()}", "retries": 1,
                 "backoff_ms": 1, "checkidentity": False}], [make_alert()])
    st = down.stats()["fanout"]["sqs"]
    assert st["failed"] == 1 and st["retries"] == 1


def test_required_options_are_config_errors() -> None:
    from lanner.config import ConfigError
    for t, opt in (("sns", "topicarn"), ("sqs", "url"), ("aws_s3", "bucket"), ("aws_cloudwatchlogs", "loggroup"),
                   ("aws_kinesis", "streamname")):
        with pytest.raises(ConfigError, match=opt):
            run([{"type": t, "checkidentity": False}], [])
