"""``ka.*`` fields: Kubernetes audit events (source ``k8s_audit``, Falco's k8saudit plugin).

Every field reads the audit record parsed once per event (:func:`lanner.fields.json.payload`). Records
without ``auditID`` are not audit events: every ``ka.*`` field is missing on them. Values are text, as
in the plugin: strings as is, numbers/booleans/objects as compact JSON (``201``, ``true``). List fields
give one element per item, skip items lacking the value, and are missing when nothing is left; an
optional ``[N]`` index keeps only the Nth container / volume / rule (out of range = missing).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lanner.events.base import PluginEvent
from lanner.fields import types as ft
from lanner.fields.json import MISSING, as_text, get_path, payload
from lanner.fields.registry import (
    ARG_OPTIONAL,
    ARG_REQUIRED,
    DEPRECATED,
    Extractor,
    FieldClass,
    FieldDef,
    fdef,
    simple_binder,
)

Factory = Callable[[str | None], Extractor]
_S = ft.CHARBUF


def audit_record(e: PluginEvent) -> dict[str, Any] | None:
    """The event's audit record, or None when the payload is not a k8s audit event."""
    o = payload(e)
    if isinstance(o, dict) and "auditID" in o:
        return o
    return None


def _text_or_none(v: Any) -> str | None:
    return None if v is MISSING else as_text(v)


def _nonempty(values: list[str]) -> list[str] | None:
    return values or None


# ---- factories ---------------------------------------------------------------------------------------

def scalar(*keys: str) -> Factory:
    """A value at a fixed key path, as text."""

    def factory(arg: str | None) -> Extractor:
        def ex(e: PluginEvent) -> str | None:
            r = audit_record(e)
            if r is None:
                return None
            return _text_or_none(get_path(r, keys))
        return ex

    return factory


def list_at(*keys: str, indexed: bool = False) -> Factory:
    """An array at a key path, one text element per item (optionally only item ``[N]``)."""

    def factory(arg: str | None) -> Extractor:
        index = int(arg) if (indexed and arg is not None) else None

        def ex(e: PluginEvent) -> list[str] | None:
            r = audit_record(e)
            if r is None:
                return None
            v = get_path(r, keys)
            if not isinstance(v, list):
                return None
            if index is not None:
                v = v[index:index + 1]
            return _nonempty([as_text(x) for x in v if x is not None])
        return ex

    return factory


def _items(r: dict[str, Any], keys: tuple[str, ...], index: int | None) -> list[Any] | None:
    v = get_path(r, keys)
    if not isinstance(v, list):
        return None
    if index is not None:
        return v[index:index + 1]
    return v


def per_item(keys: tuple[str, ...], pick: Callable[[Any, dict[str, Any]], Iterable[Any]]) -> Factory:
    """A list built from each item of the array at ``keys`` (containers, volumes, rules ...).

    ``pick(item, record)`` yields the raw values contributed by one item; None/MISSING are skipped.
    """

    def factory(arg: str | None) -> Extractor:
        index = int(arg) if arg is not None else None

        def ex(e: PluginEvent) -> list[str] | None:
            r = audit_record(e)
            if r is None:
                return None
            items = _items(r, keys, index)
            if items is None:
                return None
            out = []
            for it in items:
                for v in pick(it, r):
                    if v is not MISSING and v is not None:
                        out.append(as_text(v))
            return out or None
        return ex

    return factory


def key(*keys: str) -> Callable[[Any, dict[str, Any]], Iterable[Any]]:
    """``pick`` for :func:`per_item`: the value at ``keys`` inside the item."""

    def pick(item: Any, _r: dict[str, Any]) -> Iterable[Any]:
        return (get_path(item, keys),)

    return pick


def flat(*keys: str) -> Callable[[Any, dict[str, Any]], Iterable[Any]]:
    """``pick``: every element of the array at ``keys`` inside the item."""

    def pick(item: Any, _r: dict[str, Any]) -> Iterable[Any]:
        v = get_path(item, keys)
        return v if isinstance(v, list) else ()

    return pick


def effective(name: str) -> Callable[[Any, dict[str, Any]], Iterable[Any]]:
    """``pick``: the container's securityContext value, else the pod's, else ``0``."""

    def pick(item: Any, r: dict[str, Any]) -> Iterable[Any]:
        v = get_path(item, ("securityContext", name))
        if v is MISSING or v is None:
            v = get_path(r, ("requestObject", "spec", "securityContext", name))
        if v is MISSING or v is None:
            v = "0"
        return (v,)

    return pick


def _host_ports(item: Any, _r: dict[str, Any]) -> Iterable[Any]:
    ports = get_path(item, ("ports",))
    if not isinstance(ports, list):
        return ()
    out = []
    for p in ports:
        if isinstance(p, dict):
            out.append(p.get("hostPort", p.get("containerPort", MISSING)))
    return out


def _image_repository(item: Any, _r: dict[str, Any]) -> Iterable[Any]:
    img = get_path(item, ("image",))
    if not isinstance(img, str):
        return ()
    # the plugin's rule, kept for compatibility: text before the first ':' then before '@'
    return (img.split(":", 1)[0].split("@", 1)[0],)


def _volume_types(item: Any, _r: dict[str, Any]) -> Iterable[Any]:
    if not isinstance(item, dict):
        return ()
    return [k for k in item if k != "name"]


def _subjects(kind: str, with_ns: bool = False) -> Factory:
    def factory(arg: str | None) -> Extractor:
        def ex(e: PluginEvent) -> list[str] | None:
            r = audit_record(e)
            if r is None:
                return None
            subs = get_path(r, ("requestObject", "subjects"))
            if not isinstance(subs, list):
                return None
            out = []
            for s in subs:
                if not isinstance(s, dict) or s.get("kind") != kind or "name" not in s:
                    continue
                if with_ns:
                    out.append(f"{as_text(s.get('namespace', ''))}:{as_text(s['name'])}")
                else:
                    out.append(as_text(s["name"]))
            return out or None
        return ex

    return factory


def _uri_param(arg: str | None) -> Extractor:
    name = arg or ""

    def ex(e: PluginEvent) -> str | None:
        r = audit_record(e)
        if r is None:
            return None
        uri = r.get("requestURI")
        if not isinstance(uri, str):
            return None
        try:
            q = parse_qs(urlsplit(uri).query, keep_blank_values=True)
        except ValueError:
            return None
        vals = q.get(name)
        return vals[0] if vals else None

    return ex


def _first_container(pick: Callable[[Any, dict[str, Any]], Iterable[Any]]) -> Factory:
    inner = per_item(("requestObject", "spec", "containers"), pick)

    def factory(arg: str | None) -> Extractor:
        get = inner("0")

        def ex(e: PluginEvent) -> str | None:
            v = get(e)
            return v[0] if v else None
        return ex

    return factory


def _any_privileged(arg: str | None) -> Extractor:
    def ex(e: PluginEvent) -> str | None:
        r = audit_record(e)
        if r is None:
            return None
        cs = get_path(r, ("requestObject", "spec", "containers"))
        if not isinstance(cs, list):
            return None
        hit = any(get_path(c, ("securityContext", "privileged")) is True for c in cs)
        return "true" if hit else "false"

    return ex


def _volume_hostpath(arg: str | None) -> Extractor:
    pattern = arg or ""
    prefix = pattern[:-1] if pattern.endswith("*") else None

    def ex(e: PluginEvent) -> str | None:
        r = audit_record(e)
        if r is None:
            return None
        vols = get_path(r, ("requestObject", "spec", "volumes"))
        if not isinstance(vols, list):
            return None
        for v in vols:
            p = get_path(v, ("hostPath", "path"))
            if isinstance(p, str) and (p == pattern or (prefix is not None and p.startswith(prefix))):
                return "true"
        return "false"

    return ex


def _always_true(arg: str | None) -> Extractor:
    def ex(e: PluginEvent) -> str | None:
        return "true" if audit_record(e) is not None else None

    return ex


def _target_pod_name(arg: str | None) -> Extractor:
    def ex(e: PluginEvent) -> str | None:
        r = audit_record(e)
        if r is None:
            return None
        if get_path(r, ("objectRef", "resource")) != "pods":
            return None
        for path in (("objectRef", "name"), ("responseObject", "metadata", "name"),
                     ("requestObject", "metadata", "name")):
            v = get_path(r, path)
            if isinstance(v, str) and v:
                return v
        return None

    return ex


# ---- the table ---------------------------------------------------------------------------------------

_ROWS: list[tuple[FieldDef, Factory]] = []


def _row(name: str, desc: str, factory: Factory, *, is_list: bool = False, arg: str = "none",
         arg_kind: str = "", deprecated: bool = False) -> None:
    _ROWS.append((fdef(name, _S, desc, arg=arg, arg_kind=arg_kind, is_list=is_list,
                       flags=(DEPRECATED,) if deprecated else ()), factory))


def _idx_row(name: str, desc: str, factory: Factory) -> None:
    _row(name, desc, factory, is_list=True, arg=ARG_OPTIONAL, arg_kind="index")


_ANN = "annotations"
_row("ka.auditid", "The unique id of the audit event", scalar("auditID"))
_row("ka.stage", "Stage of the request (RequestReceived, ResponseComplete ...)", scalar("stage"))
_row("ka.auth.decision", "The authorization decision", scalar(_ANN, "authorization.k8s.io/decision"))
_row("ka.auth.reason", "The authorization reason", scalar(_ANN, "authorization.k8s.io/reason"))
_row("ka.auth.openshift.decision", "The authentication decision of the OpenShift apiserver extension",
     scalar(_ANN, "authentication.openshift.io/decision"))
_row("ka.auth.openshift.username", "The user name of the OpenShift authentication operation",
     scalar(_ANN, "authentication.openshift.io/username"))
_row("ka.validations.admission.policy.failure", "The validation failure of a Validating Admission Policy",
     scalar(_ANN, "validation.policy.admission.k8s.io/validation_failure"))
_row("ka.security.pod.violations", "The pod security admission violations",
     scalar(_ANN, "pod-security.kubernetes.io/audit-violations"))
_row("ka.user.name", "The user name performing the request", scalar("user", "username"))
_row("ka.user.groups", "The groups to which the user belongs", list_at("user", "groups"), is_list=True)
_row("ka.impuser.name", "The impersonated user name", scalar("impersonatedUser", "username"))
_row("ka.verb", "The action being performed", scalar("verb"))
_row("ka.uri", "The request URI as sent from client to server", scalar("requestURI"))
_row("ka.uri.param", "The value of a query parameter of the URI (uri=/foo?key=val: ka.uri.param[key] is val)",
     _uri_param, arg=ARG_REQUIRED, arg_kind="key")
_row("ka.target.name", "The target object name", scalar("objectRef", "name"))
_row("ka.target.namespace", "The target object namespace", scalar("objectRef", "namespace"))
_row("ka.target.resource", "The target object resource", scalar("objectRef", "resource"))
_row("ka.target.subresource", "The target object subresource", scalar("objectRef", "subresource"))
_row("ka.target.pod.name", "The target pod name (requests on pods)", _target_pod_name)
_row("ka.req.binding.subjects", "Subjects of a (cluster)role binding, each as JSON text",
     list_at("requestObject", "subjects"), is_list=True)
_row("ka.req.binding.subjects.user_names", "User names among the subjects of a binding",
     _subjects("User"), is_list=True)
_row("ka.req.binding.subjects.serviceaccount_names", "Service account names among the subjects of a binding",
     _subjects("ServiceAccount"), is_list=True)
_row("ka.req.binding.subjects.serviceaccount_ns_names",
     "Service accounts among the subjects of a binding, as namespace:name",
     _subjects("ServiceAccount", with_ns=True), is_list=True)
_row("ka.req.binding.subjects.group_names", "Group names among the subjects of a binding",
     _subjects("Group"), is_list=True)
_row("ka.req.binding.role", "The role a (cluster)role binding refers to", scalar("requestObject", "roleRef", "name"))
_row("ka.req.binding.subject.has_name", "Deprecated, always true. Only kept for backwards compatibility",
     _always_true, arg=ARG_REQUIRED, arg_kind="key", deprecated=True)
_row("ka.req.configmap.name", "The configmap name", scalar("objectRef", "name"))
_row("ka.req.configmap.obj", "The configmap data, as JSON text", scalar("requestObject", "data"))

_SPEC = ("requestObject", "spec")
for _kind, _label in (("containers", "containers"), ("initContainers", "init containers"),
                      ("ephemeralContainers", "ephemeral containers")):
    _p = f"ka.req.pod.{_kind}"
    _keys = (*_SPEC, _kind)
    _idx_row(f"{_p}.name", f"Names of the pod's {_label}", per_item(_keys, key("name")))
    _idx_row(f"{_p}.image", f"Images of the pod's {_label}", per_item(_keys, key("image")))
    _idx_row(f"{_p}.image.repository", f"Image repositories of the pod's {_label} (text before ':'/'@')",
             per_item(_keys, _image_repository))
    _idx_row(f"{_p}.command", f"Commands of the pod's {_label}, each as JSON text", per_item(_keys, key("command")))
    _idx_row(f"{_p}.args", f"Arguments of the pod's {_label}, each as JSON text", per_item(_keys, key("args")))
    if _kind != "ephemeralContainers":
        _idx_row(f"{_p}.host_port", f"hostPort (else containerPort) values of the pod's {_label}",
                 per_item(_keys, _host_ports))
    _idx_row(f"{_p}.privileged", f"securityContext.privileged of the pod's {_label} that set it",
             per_item(_keys, key("securityContext", "privileged")))
    _idx_row(f"{_p}.allow_privilege_escalation", f"allowPrivilegeEscalation of the pod's {_label}",
             per_item(_keys, key("securityContext", "allowPrivilegeEscalation")))
    _idx_row(f"{_p}.read_only_fs", f"readOnlyRootFilesystem of the pod's {_label}",
             per_item(_keys, key("securityContext", "readOnlyRootFilesystem")))
    _idx_row(f"{_p}.run_as_user", f"runAsUser of the pod's {_label}",
             per_item(_keys, key("securityContext", "runAsUser")))
    _idx_row(f"{_p}.eff_run_as_user", f"Effective initial uid of the pod's {_label} (container, else pod, else 0)",
             per_item(_keys, effective("runAsUser")))
    _idx_row(f"{_p}.run_as_group", f"runAsGroup of the pod's {_label}",
             per_item(_keys, key("securityContext", "runAsGroup")))
    _idx_row(f"{_p}.eff_run_as_group", f"Effective initial gid of the pod's {_label} (container, else pod, else 0)",
             per_item(_keys, effective("runAsGroup")))
    _idx_row(f"{_p}.proc_mount", f"procMount types of the pod's {_label}",
             per_item(_keys, key("securityContext", "procMount")))
    _idx_row(f"{_p}.add_capabilities", f"Capabilities added to the pod's {_label}",
             per_item(_keys, flat("securityContext", "capabilities", "add")))

_row("ka.req.container.image", "Deprecated by ka.req.pod.containers.image: image of the first container",
     _first_container(key("image")), deprecated=True)
_row("ka.req.container.image.repository",
     "Deprecated by ka.req.pod.containers.image.repository: repository of the first container",
     _first_container(_image_repository), deprecated=True)
_row("ka.req.container.privileged",
     "Deprecated by ka.req.pod.containers.privileged: true if any container is privileged, else false",
     _any_privileged, deprecated=True)
_row("ka.req.container.host_network", "Deprecated alias of ka.req.pod.host_network",
     scalar(*_SPEC, "hostNetwork"), deprecated=True)
_row("ka.req.pod.host_ipc", "spec.hostIPC of the pod", scalar(*_SPEC, "hostIPC"))
_row("ka.req.pod.host_network", "spec.hostNetwork of the pod", scalar(*_SPEC, "hostNetwork"))
_row("ka.req.pod.host_pid", "spec.hostPID of the pod", scalar(*_SPEC, "hostPID"))
_row("ka.req.pod.run_as_user", "Pod-level securityContext.runAsUser", scalar(*_SPEC, "securityContext", "runAsUser"))
_row("ka.req.pod.run_as_group", "Pod-level securityContext.runAsGroup",
     scalar(*_SPEC, "securityContext", "runAsGroup"))
_row("ka.req.pod.fs_group", "Pod-level securityContext.fsGroup", scalar(*_SPEC, "securityContext", "fsGroup"))
_row("ka.req.pod.supplemental_groups", "Pod-level securityContext.supplementalGroups",
     list_at(*_SPEC, "securityContext", "supplementalGroups"), is_list=True)
_idx_row("ka.req.pod.volumes.hostpath", "hostPath paths of the pod's volumes",
         per_item((*_SPEC, "volumes"), key("hostPath", "path")))
_idx_row("ka.req.pod.volumes.flexvolume_driver", "flexVolume drivers of the pod's volumes",
         per_item((*_SPEC, "volumes"), key("flexVolume", "driver")))
_idx_row("ka.req.pod.volumes.volume_type", "Volume types (keys other than name) of the pod's volumes",
         per_item((*_SPEC, "volumes"), _volume_types))
_row("ka.req.volume.hostpath",
     "Deprecated by ka.req.pod.volumes.hostpath: true if a volume uses this host path (trailing * = prefix)",
     _volume_hostpath, arg=ARG_REQUIRED, arg_kind="key", deprecated=True)
_row("ka.req.role.rules", "Rules of a (cluster)role, each as JSON text",
     list_at("requestObject", "rules"), is_list=True)
for _name, _k in (("apiGroups", "apiGroups"), ("nonResourceURLs", "nonResourceURLs"), ("verbs", "verbs"),
                  ("resources", "resources")):
    _idx_row(f"ka.req.role.rules.{_name}", f"All {_k} of all rules of a (cluster)role",
             per_item(("requestObject", "rules"), flat(_k)))
_row("ka.req.service.type", "The service spec.type", scalar(*_SPEC, "type"))
_idx_row("ka.req.service.ports", "The service ports, each as JSON text", per_item((*_SPEC, "ports"),
                                                                                lambda it, _r: (it,)))
_row("ka.resp.name", "The response object name", scalar("responseObject", "metadata", "name"))
_row("ka.response.code", "The response code (text)", scalar("responseStatus", "code"))
_row("ka.response.reason", "The response reason (usually only on failures)", scalar("responseStatus", "reason"))
_row("ka.useragent", "The user agent of the client", scalar("userAgent"))
_row("ka.sourceips", "The client IP addresses", list_at("sourceIPs", indexed=True), is_list=True,
     arg=ARG_OPTIONAL, arg_kind="index")
_row("ka.cluster.name", "The cluster name, when a custom field `cluster_name` was added to the event",
     scalar("cluster_name"))

FIELDS: list[FieldDef] = [f for f, _ in _ROWS]
_FACTORIES: dict[str, Factory] = {f.name: fac for f, fac in _ROWS}

SOURCES = ("k8s_audit",)


def field_class(sources: tuple[str, ...] = SOURCES) -> FieldClass:
    return FieldClass("k8saudit", "Kubernetes audit events (k8saudit plugin)", sources, FIELDS,
                      simple_binder(_FACTORIES))


def event_info(e: PluginEvent) -> str | None:
    """``evt.plugininfo`` of an audit event: the event JSON itself, as the k8saudit plugin prints it."""
    data = getattr(e, "data", None)
    if not data:
        return None
    return data.decode("utf-8", "replace")
