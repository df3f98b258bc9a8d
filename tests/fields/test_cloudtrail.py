"""ct.* / s3.* fields over CloudTrail records, including those aws_cloudtrail_rules.yaml uses."""

from __future__ import annotations

import orjson
import pytest

from lanner.events.base import PluginEvent
from lanner.fields import cloudtrail
from lanner.fields import json as jf
from lanner.fields.registry import FieldRegistry

REG = FieldRegistry([cloudtrail.field_class(), jf.field_class(("aws_cloudtrail",))])

CONSOLE_LOGIN = {
    "eventVersion": "1.08", "eventID": "e-1", "eventTime": "2024-01-02T03:04:05Z",
    "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.9", "userAgent": "Mozilla/5.0",
    "userIdentity": {"type": "IAMUser", "principalId": "AIDA1", "arn": "arn:aws:iam::1:user/alice",
                     "accountId": "111122223333", "userName": "alice"},
    "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "No"},
    "readOnly": False, "managementEvent": True,
}
GET_OBJECT = {
    "eventID": "e-2", "eventTime": "2024-01-02T03:04:06Z", "eventSource": "s3.amazonaws.com",
    "eventName": "GetObject", "awsRegion": "eu-west-1", "sourceIPAddress": "198.51.100.1",
    "userIdentity": {"type": "AssumedRole", "sessionContext": {"sessionIssuer": {"userName": "reader"}}},
    "requestParameters": {"bucketName": "logs", "key": "a/b.txt", "Host": "logs.s3.amazonaws.com"},
    "additionalEventData": {"bytesTransferredIn": 0, "bytesTransferredOut": 33.0},
    "errorCode": "AccessDenied",
}


def ev(rec) -> PluginEvent:
    return PluginEvent(1, 1, "aws_cloudtrail", orjson.dumps(rec), "cloudtrail")


def f(rec, name, arg=None):
    return REG.resolve("aws_cloudtrail", name, arg).bind()(ev(rec))


@pytest.mark.parametrize("name,expected", [
    ("ct.id", "e-1"), ("ct.name", "ConsoleLogin"), ("ct.src", "signin.amazonaws.com"), ("ct.shortsrc", "signin"),
    ("ct.region", "us-east-1"), ("ct.srcip", "203.0.113.9"), ("ct.user", "alice"),
    ("ct.user.identitytype", "IAMUser"), ("ct.user.principalid", "AIDA1"), ("ct.user.arn", "arn:aws:iam::1:user/alice"),
    ("ct.user.accountid", "111122223333"), ("ct.error", None), ("ct.readonly", "false"),
    ("ct.managementevent", "true"), ("ct.useragent", "Mozilla/5.0"), ("s3.bucket", None),
    ("ct.info", "alice via 203.0.113.9 → ConsoleLogin"),
])
def test_console_login(name, expected) -> None:
    assert f(CONSOLE_LOGIN, name) == expected


def test_rules_json_pointers() -> None:
    assert f(CONSOLE_LOGIN, "json.value", "/additionalEventData/MFAUsed") == "No"
    assert f(CONSOLE_LOGIN, "json.value", "/responseElements/ConsoleLogin") == "Success"


def test_s3_get_object() -> None:
    assert f(GET_OBJECT, "ct.user") == "reader"
    assert f(GET_OBJECT, "ct.error") == "AccessDenied"
    assert f(GET_OBJECT, "s3.bucket") == "logs"
    assert f(GET_OBJECT, "s3.uri") == "s3://logs/a/b.txt"
    assert f(GET_OBJECT, "s3.bytes") == 33
    assert f(GET_OBJECT, "s3.cnt.get") == 1
    assert f(GET_OBJECT, "s3.cnt.put") is None
    assert f(GET_OBJECT, "ct.readonly") == "true"          # no readOnly key: guessed from "Get"
    assert f(GET_OBJECT, "ct.info") == "reader via 198.51.100.1 !← GetObject Size=33 URI=s3://logs/a/b.txt"


def present(rec) -> dict:
    """Every field of the source that has a value for ``rec`` (``/x`` as the argument where one is required)."""
    out = {}
    for _c, fd in REG.all_fields("aws_cloudtrail"):
        arg = "/x" if fd.arg == "required" else None
        v = REG.resolve("aws_cloudtrail", fd.name, arg).bind()(ev(rec))
        if v is not None:
            out[fd.name] = v
    return out


def test_every_field_binds_and_tolerates_odd_records() -> None:
    for rec in (CONSOLE_LOGIN, GET_OBJECT):
        assert all(isinstance(v, str | int) for v in present(rec).values())
    odd = {"userIdentity": "x", "requestParameters": [1]}
    for rec in ({}, odd):
        raw = orjson.dumps(rec, option=orjson.OPT_INDENT_2).decode()
        assert present(rec) == {
            "ct.info": "<invalid cloudtrail event: userIdentity field missing>", "ct.managementevent": "false",
            "json.obj": raw, "json.rawtime": "1", "jevt.obj": raw, "jevt.rawtime": "1"}
