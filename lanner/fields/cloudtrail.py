"""``ct.*``, ``s3.*``, ``ec2.*``, ``ecr.*`` fields: AWS CloudTrail records (source ``aws_cloudtrail``,
Falco's cloudtrail plugin). One event = one CloudTrail record (JSON object); a field is missing when its
key is absent or not a string (``ct.error`` on successful calls).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lanner.events.base import PluginEvent
from lanner.fields import types as ft
from lanner.fields.json import MISSING, get_path, payload
from lanner.fields.registry import HIDDEN, Extractor, FieldClass, FieldDef, fdef, simple_binder

Getter = Callable[[dict[str, Any]], Any]


def record(e: PluginEvent) -> dict[str, Any] | None:
    o = payload(e)
    return o if isinstance(o, dict) else None


def _str_at(*keys: str) -> Getter:
    def get(r: dict[str, Any]) -> str | None:
        v = get_path(r, keys)
        return v if isinstance(v, str) else None
    return get


def _user(r: dict[str, Any]) -> str | None:
    t = get_path(r, ("userIdentity", "type"))
    if not isinstance(t, str):
        return None
    if t in ("Root", "IAMUser"):
        v = get_path(r, ("userIdentity", "userName"))
    elif t == "AWSService":
        v = get_path(r, ("userIdentity", "invokedBy"))
    elif t == "AssumedRole":
        v = get_path(r, ("userIdentity", "sessionContext", "sessionIssuer", "userName"))
        return v if isinstance(v, str) else "AssumedRole"
    elif t in ("AWSAccount", "FederatedUser"):
        return t
    else:
        return None
    return v if isinstance(v, str) else None


def _account_id(r: dict[str, Any]) -> str | None:
    v = get_path(r, ("userIdentity", "accountId"))
    if isinstance(v, str):
        return v
    v = r.get("recipientAccountId")
    return v if isinstance(v, str) else None


def _shortsrc(r: dict[str, Any]) -> str | None:
    v = r.get("eventSource")
    if not isinstance(v, str):
        return None
    suffix = ".amazonaws.com"
    return v[:-len(suffix)] if v.endswith(suffix) and len(v) > len(suffix) else v


_WRITE_PREFIXES = (
    "Start", "Stop", "Create", "Destroy", "Delete", "Add", "Remove", "Terminate", "Put", "Associate",
    "Disassociate", "Attach", "Detach", "Open", "Close", "Wipe", "Update", "Upgrade", "Unlink", "Assign",
    "Unassign", "Suspend", "Set", "Run", "Register", "Deregister", "Reboot", "Purchase", "Modify",
    "Initialize", "Enable", "Disable", "Cancel", "Admin", "Activate",
)


def _readonly(r: dict[str, Any]) -> str | None:
    ro = r.get("readOnly", MISSING)
    if ro is True:
        return "true"
    if ro is not MISSING:
        return "false"
    name = r.get("eventName")
    if not isinstance(name, str):
        return None
    # records without readOnly: guess from the verb the event name starts with
    return "false" if name.startswith(_WRITE_PREFIXES) else "true"


def _managementevent(r: dict[str, Any]) -> str:
    return "true" if r.get("managementEvent") is True else "false"


def _s3_uri(r: dict[str, Any]) -> str | None:
    b = get_path(r, ("requestParameters", "bucketName"))
    k = get_path(r, ("requestParameters", "key"))
    if isinstance(b, str) and isinstance(k, str):
        return f"s3://{b}/{k}"
    return None


def _num(v: Any) -> int:
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return max(v, 0)
    if isinstance(v, float):
        return max(int(v), 0)
    return 0


def _bytes(which: tuple[str, ...]) -> Getter:
    def get(r: dict[str, Any]) -> int | None:
        total, seen = 0, False
        for k in which:
            v = get_path(r, ("additionalEventData", k))
            if v is not MISSING:
                seen = True
                total += _num(v)
        return total if seen else None
    return get


def _cnt(names: tuple[str, ...]) -> Getter:
    def get(r: dict[str, Any]) -> int | None:
        hit = r.get("eventName") in names
        return 1 if hit else None   # the plugin reports these only when they count 1
    return get


def _ec2_name(r: dict[str, Any]) -> str | None:
    items = get_path(r, ("requestParameters", "tagSpecificationSet", "items"))
    if not isinstance(items, list):
        return None
    for it in items:
        if not isinstance(it, dict) or it.get("resourceType") != "instance":
            continue
        for tag in it.get("tags") or ():
            if isinstance(tag, dict) and tag.get("key") == "Name" and isinstance(tag.get("value"), str):
                return tag["value"] or None
    return None


def _ec2_imageid(r: dict[str, Any]) -> str | None:
    items = get_path(r, ("responseElements", "tagSpecificationSet", "items"))
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        return None
    v = items[0].get("imageId")
    return v if isinstance(v, str) and v else None


def info(r: dict[str, Any]) -> str:
    """The plugin's one-line summary (``ct.info`` and ``evt.plugininfo``): who, from where, what."""
    user = _user(r)
    if user is None:
        return "<invalid cloudtrail event: userIdentity field missing>"
    srcip = r.get("sourceIPAddress")
    if not isinstance(srcip, str):
        return "<invalid cloudtrail event: eventSource field missing>"
    name = r.get("eventName")
    if not isinstance(name, str):
        return "<invalid cloudtrail event: eventName field missing>"
    err = "!" if isinstance(r.get("errorCode"), str) else ""
    rw = "→" if _readonly(r) == "false" else "←"
    out = f"{user} via {srcip} {err}{rw} {name}"
    if name == "PutBucketPublicAccessBlock":
        cfg = get_path(r, ("requestParameters", "PublicAccessBlockConfiguration"))
        if isinstance(cfg, dict):
            out += "".join(f" {k}={'true' if cfg.get(k) is True else 'false'}" for k in
                           ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))
        return out
    size = _bytes(("bytesTransferredIn", "bytesTransferredOut"))(r)
    if size is not None:
        out += f" Size={size}"
    for label, get in (("URI", _s3_uri), ("Bucket", _str_at("requestParameters", "bucketName")),
                       ("Key", _str_at("requestParameters", "key")), ("Host", _str_at("requestParameters", "Host"))):
        v = get(r)
        if v is not None:
            return out + f" {label}={v}"
    return out


_RP = "requestParameters"
_ROWS: list[tuple[FieldDef, Getter]] = [
    (fdef("ct.id", ft.CHARBUF, "The unique ID of the event (eventID)"), _str_at("eventID")),
    (fdef("ct.error", ft.CHARBUF, "The error code of the event; missing if there was no error"), _str_at("errorCode")),
    (fdef("ct.time", ft.CHARBUF, "The timestamp of the event (eventTime)", flags=(HIDDEN,)), _str_at("eventTime")),
    (fdef("ct.src", ft.CHARBUF, "The source of the event (eventSource)"), _str_at("eventSource")),
    (fdef("ct.shortsrc", ft.CHARBUF, "eventSource without the .amazonaws.com trailer"), _shortsrc),
    (fdef("ct.name", ft.CHARBUF, "The name of the event (eventName)"), _str_at("eventName")),
    (fdef("ct.user", ft.CHARBUF, "The user of the event (role name for AssumedRole)"), _user),
    (fdef("ct.user.accountid", ft.CHARBUF, "The account id of the user"), _account_id),
    (fdef("ct.user.identitytype", ft.CHARBUF, "The kind of user identity (Root, IAMUser, AWSService ...)"),
     _str_at("userIdentity", "type")),
    (fdef("ct.user.principalid", ft.CHARBUF, "A unique identifier of the user that made the request"),
     _str_at("userIdentity", "principalId")),
    (fdef("ct.user.arn", ft.CHARBUF, "The ARN of the user that made the request"), _str_at("userIdentity", "arn")),
    (fdef("ct.region", ft.CHARBUF, "The region of the event (awsRegion)"), _str_at("awsRegion")),
    (fdef("ct.response.subnetid", ft.CHARBUF, "The subnet ID in the response"),
     _str_at("responseElements", "subnetId")),
    (fdef("ct.response.reservationid", ft.CHARBUF, "The reservation ID in the response"),
     _str_at("responseElements", "reservationId")),
    (fdef("ct.request.availabilityzone", ft.CHARBUF, "The availability zone in the request"),
     _str_at(_RP, "availabilityZone")),
    (fdef("ct.request.cluster", ft.CHARBUF, "The cluster in the request"), _str_at(_RP, "cluster")),
    (fdef("ct.request.functionname", ft.CHARBUF, "The function name in the request"), _str_at(_RP, "functionName")),
    (fdef("ct.request.groupname", ft.CHARBUF, "The group name in the request"), _str_at(_RP, "groupName")),
    (fdef("ct.request.host", ft.CHARBUF, "The host in the request"), _str_at(_RP, "Host")),
    (fdef("ct.request.name", ft.CHARBUF, "The name of the entity acted on in the request"), _str_at(_RP, "name")),
    (fdef("ct.request.policy", ft.CHARBUF, "The policy in the request"), _str_at(_RP, "policy")),
    (fdef("ct.request.serialnumber", ft.CHARBUF, "The (MFA) serial number in the request"),
     _str_at(_RP, "serialNumber")),
    (fdef("ct.request.servicename", ft.CHARBUF, "The service name in the request"), _str_at(_RP, "serviceName")),
    (fdef("ct.request.subnetid", ft.CHARBUF, "The subnet ID in the request"), _str_at(_RP, "subnetId")),
    (fdef("ct.request.taskdefinition", ft.CHARBUF, "The task definition in the request"),
     _str_at(_RP, "taskDefinition")),
    (fdef("ct.request.username", ft.CHARBUF, "The user name in the request"), _str_at(_RP, "userName")),
    (fdef("ct.srcip", ft.CHARBUF, "The IP address generating the event (sourceIPAddress)"),
     _str_at("sourceIPAddress")),
    (fdef("ct.useragent", ft.CHARBUF, "The user agent generating the event"), _str_at("userAgent")),
    (fdef("ct.info", ft.CHARBUF, "Summary of the event: user, source IP, read/write, name and details"), info),
    (fdef("ct.managementevent", ft.CHARBUF, "'true' if the event is a management event, else 'false'"),
     _managementevent),
    (fdef("ct.readonly", ft.CHARBUF, "'true' if the event only reads information, else 'false'"), _readonly),
    (fdef("s3.uri", ft.CHARBUF, "The S3 URI (s3://<bucket>/<key>)"), _s3_uri),
    (fdef("s3.bucket", ft.CHARBUF, "The bucket name of S3 events"), _str_at(_RP, "bucketName")),
    (fdef("s3.key", ft.CHARBUF, "The S3 key name"), _str_at(_RP, "key")),
    (fdef("s3.bytes", ft.UINT64, "The size of an S3 download or upload, in bytes"),
     _bytes(("bytesTransferredIn", "bytesTransferredOut"))),
    (fdef("s3.bytes.in", ft.UINT64, "The size of an S3 upload, in bytes", flags=(HIDDEN,)),
     _bytes(("bytesTransferredIn",))),
    (fdef("s3.bytes.out", ft.UINT64, "The size of an S3 download, in bytes", flags=(HIDDEN,)),
     _bytes(("bytesTransferredOut",))),
    (fdef("s3.cnt.get", ft.UINT64, "1 for GetObject events", flags=(HIDDEN,)), _cnt(("GetObject",))),
    (fdef("s3.cnt.put", ft.UINT64, "1 for PutObject events", flags=(HIDDEN,)), _cnt(("PutObject",))),
    (fdef("s3.cnt.other", ft.UINT64, "1 for GetObject/PutObject events (as the plugin reports it)",
          flags=(HIDDEN,)), _cnt(("GetObject", "PutObject"))),
    (fdef("ec2.name", ft.CHARBUF, "The name of the EC2 instances (Name tag)"), _ec2_name),
    (fdef("ec2.imageid", ft.CHARBUF, "The image ID of the EC2 instance in the response"), _ec2_imageid),
    (fdef("ecr.repository", ft.CHARBUF, "The ECR repository named in the request"), _str_at(_RP, "repositoryName")),
    (fdef("ecr.image.tag", ft.CHARBUF, "The image tag named in the request"), _str_at(_RP, "imageTag")),
]


def _factory(get: Getter) -> Callable[[str | None], Extractor]:
    def factory(arg: str | None) -> Extractor:
        def ex(e: PluginEvent) -> Any:
            r = record(e)
            return None if r is None else get(r)
        return ex
    return factory


FIELDS: list[FieldDef] = [f for f, _ in _ROWS]
_FACTORIES = {f.name: _factory(g) for f, g in _ROWS}

SOURCES = ("aws_cloudtrail",)


def field_class(sources: tuple[str, ...] = SOURCES) -> FieldClass:
    return FieldClass("cloudtrail", "AWS CloudTrail records (cloudtrail plugin)", sources, FIELDS,
                      simple_binder(_FACTORIES))


def event_info(e: PluginEvent) -> str | None:
    """``evt.plugininfo`` of a CloudTrail event (the ``ct.info`` summary)."""
    r = record(e)
    return None if r is None else info(r)
