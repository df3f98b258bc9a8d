"""The upstream aws_cloudtrail_rules.yaml run by ``lanner`` over CloudTrail records through the built-in
``cloudtrail`` and ``json`` sources (as ``load_plugins: [cloudtrail, json]`` in falco.yaml): each rule
fires on its record, with its output fields, and near-misses (failed calls, MFA used, an approved
region) stay quiet."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ROOT, shared_path

ACCOUNT = "123456789012"


def record(name: str, source: str, n: int, identity: dict | None = None, **extra) -> dict:
    rec = {
        "eventVersion": "1.08", "eventTime": f"2026-03-01T10:00:{n:02d}Z", "eventSource": source,
        "eventName": name, "awsRegion": "eu-west-1", "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0", "eventID": f"00000000-0000-4000-8000-{n:012d}",
        "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT, "readOnly": False, "managementEvent": True,
        "userIdentity": identity or {"type": "IAMUser", "principalId": "AIDAEXAMPLE1", "accountId": ACCOUNT,
                                     "arn": f"arn:aws:iam::{ACCOUNT}:user/alice", "userName": "alice"},
    }
    rec.update(extra)
    return rec


ROOT_ID = {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT}
ROLE_ID = {"type": "AssumedRole", "principalId": "AROAEXAMPLE:bob", "accountId": ACCOUNT,
           "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/bob",
           "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "Admin"}}}


def login(n: int, identity: dict | None, mfa: str, result: str = "Success") -> dict:
    return record("ConsoleLogin", "signin.amazonaws.com", n, identity, eventType="AwsConsoleSignIn",
                  responseElements={"ConsoleLogin": result}, additionalEventData={"MFAUsed": mfa})


RECORDS = [
    login(1, None, "No"),                                                 # IAM user, no MFA
    login(2, ROOT_ID, "No"),                                              # root, no MFA
    login(3, ROLE_ID, "No"),                                              # through an assumed role
    login(4, None, "Yes"),                                                # near-miss: MFA used
    login(5, None, "No", result="Failure"),                               # near-miss: failed login
    record("CreateUser", "iam.amazonaws.com", 6, requestParameters={"userName": "mallory"}),
    record("CreateUser", "iam.amazonaws.com", 7, requestParameters={"userName": "eve"},
           errorCode="AccessDenied", errorMessage="not authorized"),      # near-miss: refused
    record("DeactivateMFADevice", "iam.amazonaws.com", 8, ROOT_ID,
           requestParameters={"userName": "AWS ROOT USER", "serialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/root"}),
    record("RunInstances", "ec2.amazonaws.com", 9,
           requestParameters={"availabilityZone": "eu-west-1a"},
           responseElements={"reservationId": "r-0abc", "instancesSet": {"items": [{"subnetId": "subnet-1"}]},
                             "subnetId": "subnet-1"}),
    record("StopLogging", "cloudtrail.amazonaws.com", 10,
           requestParameters={"name": f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/main"}),
    record("PutBucketPolicy", "s3.amazonaws.com", 11, requestParameters={"bucketName": "logs", "Host": "s3"}),
    record("DescribeInstances", "ec2.amazonaws.com", 12, readOnly=True),  # near-miss: read-only call
]


def run_rules(tmp_path: Path) -> list[dict]:
    rules = shared_path("upstream", "rules", "aws_cloudtrail_rules.yaml")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / f"{ACCOUNT}_CloudTrail_eu-west-1_20260301T1000Z_x.json").write_text(json.dumps({"Records": RECORDS}))
    cfg = tmp_path / "lanner.yaml"
    cfg.write_text(yaml.safe_dump({
        "load_plugins": ["cloudtrail", "json"], "json_output": True, "rule_matching": "all",
        "stdout_output": {"enabled": True}, "webserver": {"enabled": False}, "watch_config_files": False,
        "plugins": [{"name": "cloudtrail", "library_path": "libcloudtrail.so", "init_config": "",
                     "open_params": str(logs)},
                    {"name": "json", "library_path": "libjson.so", "init_config": ""}]}))
    # the syscall source would keep running after the logs end (as in Falco): disabled here
    p = subprocess.run([sys.executable, "-m", "lanner", "-c", str(cfg), "-r", str(rules), "--disable-source", "syscall"],
                       cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    assert "Events detected: " in p.stdout
    return [json.loads(ln) for ln in p.stdout.splitlines() if ln.startswith("{")]


def test_cloudtrail_rules_fire_on_their_records(tmp_path: Path) -> None:
    alerts = run_rules(tmp_path)
    fired = sorted((a["time"][17:19], a["rule"]) for a in alerts)
    assert fired == [
        ("01", "Console Login Without MFA"),
        ("02", "Console Login Without MFA"),
        ("02", "Console Root Login Without MFA"),
        ("03", "Console Login Through Assume Role"),
        ("06", "Create AWS user"),
        ("08", "Deactivate MFA for Root User"),
        ("09", "Run Instances"),
        ("09", "Run Instances in Non-approved Region"),
        ("10", "CloudTrail Logging Disabled"),
        ("11", "Put Bucket Policy"),
    ]
    by = {(a["time"][17:19], a["rule"]): a for a in alerts}
    assert all(a["source"] == "aws_cloudtrail" for a in alerts)
    f = by[("01", "Console Login Without MFA")]["output_fields"]
    assert (f["ct.user"], f["ct.srcip"], f["ct.region"]) == ("alice", "203.0.113.7", "eu-west-1")
    f = by[("02", "Console Root Login Without MFA")]["output_fields"]
    assert f["ct.user"] is None and f["ct.srcip"] == "203.0.113.7"   # a root identity carries no userName
    f = by[("03", "Console Login Through Assume Role")]["output_fields"]
    assert (f["ct.user.principalid"], f["ct.user.arn"]) == ("AROAEXAMPLE:bob",
                                                          f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/bob")
    assert by[("06", "Create AWS user")]["output_fields"]["ct.request.username"] == "mallory"
    assert by[("08", "Deactivate MFA for Root User")]["output_fields"]["ct.request.serialnumber"] == \
        f"arn:aws:iam::{ACCOUNT}:mfa/root"
    f = by[("09", "Run Instances")]["output_fields"]
    assert (f["ct.request.availabilityzone"], f["ct.response.reservationid"]) == ("eu-west-1a", "r-0abc")
    assert by[("11", "Put Bucket Policy")]["output_fields"]["s3.bucket"] == "logs"
