"""Property-based fuzzing of the five input parsers (issue 19 item 6): the condition parser and compiler,
the rules loader, the capture reader, the audit parser and the config loader. The only property: any input
gives a result or that parser's own clean error, never another exception. Bounded by conftest.py's profile
(derandomized, 150 examples per target by default: a few seconds each)."""

from __future__ import annotations

import json

import yaml
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import targets

# ---- condition language ------------------------------------------------------------------------------

FIELDS = ["test.str", "test.num", "test.u32", "test.path", "test.buf", "test.ip", "test.net", "test.bool",
          "test.list", "test.list[1]", "test.anc[2]", "test.either", "evt.type", "test.double", "test.port"]
OPS = ["=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains", "bcontains", "startswith", "bstartswith",
       "endswith", "glob", "iglob", "regex", "pmatch", "in", "intersects", "exists"]
VALUES = ["abc", "'a b'", '"x\\"y"', "1", "-3", "0x1f", "1.5e+3", "(a, b)", "()", "(1,2)", "127.0.0.1",
          "10.0.0.0/8", "'(a+)+$'", "'['", "'*'", "val(test.str)", "tolower(test.str)", "b64(test.str)",
          "anyof (a, b)", "allof (a)", "'\\\\d'", "open", "/etc/*", "'\\x00'", "''"]
JOINERS = [" ", " and ", " or ", " and not ", "(", ")", "not "]

token = st.one_of(st.sampled_from(FIELDS), st.sampled_from(OPS), st.sampled_from(VALUES), st.sampled_from(JOINERS),
                  st.text(alphabet="abc.()[]'\"\\,=!<> \t\n*?x0", max_size=6))
check = st.builds(lambda f, o, v: f"{f} {o} {v}", st.sampled_from(FIELDS), st.sampled_from(OPS),
                  st.sampled_from(VALUES))


@given(st.one_of(st.lists(token, max_size=12).map(" ".join), st.lists(check, min_size=1, max_size=4).map(
    " and ".join), st.text(max_size=80)))
def test_condition_parser_and_compiler(text: str) -> None:
    targets.condition(text)


# ---- rules files -------------------------------------------------------------------------------------

scalar = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.sampled_from(VALUES + FIELDS + [
    "evt.type = open", "proc.name in (my_list)", "my_macro", "WARNING", "INFO", "0.10.0", "syscall", "k8s_audit",
    "%proc.name %fd.name", "replace", "append"]), st.text(max_size=12))
value = st.recursive(scalar, lambda c: st.one_of(st.lists(c, max_size=4),
                                                  st.dictionaries(st.sampled_from(["name", "fields", "comps",
                                                                                   "values", "items"]), c,
                                                                  max_size=3)), max_leaves=10)
KEYS = ["rule", "macro", "list", "desc", "condition", "output", "priority", "items", "append", "override",
        "enabled", "tags", "source", "exceptions", "required_engine_version", "required_plugin_versions",
        "warn_evttypes", "skip-if-unknown-filter", "capture", "name"]
item = st.dictionaries(st.sampled_from(KEYS), value, min_size=1, max_size=7)


def dump(doc: object) -> str:
    return yaml.safe_dump(doc, default_flow_style=False, allow_unicode=True)


@given(st.one_of(st.lists(item, max_size=5).map(dump), value.map(dump), st.text(max_size=200), st.binary(max_size=80),
                 st.lists(item, min_size=1, max_size=4).map(dump).flatmap(
                     lambda t: st.integers(0, len(t)).map(lambda i: t[:i]))))
def test_rules_loader(text: str | bytes) -> None:
    targets.rules(text)


# ---- k8s audit ---------------------------------------------------------------------------------------

jscalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10))
jvalue = st.recursive(jscalar, lambda c: st.one_of(st.lists(c, max_size=3),
                                                    st.dictionaries(st.text(max_size=6), c, max_size=3)),
                      max_leaves=12)
event = st.fixed_dictionaries({"kind": st.sampled_from(["Event", "EventList", "Other", 3]),
                               "stageTimestamp": st.one_of(st.sampled_from(
                                   ["2024-01-01T00:00:00Z", "2024-13-01T00:00:00Z", "x", ""]), jscalar)},
                              optional={"items": st.lists(jvalue, max_size=3), "requestObject": jvalue,
                                        "objectRef": jvalue, "verb": jvalue})


def shaped(draw_value: st.SearchStrategy) -> st.SearchStrategy:
    """An audit event whose known paths (user, objectRef, pod spec, response) hold arbitrary values."""
    container = st.one_of(jvalue, st.fixed_dictionaries({}, optional={
        "image": jvalue, "securityContext": st.one_of(jvalue, st.fixed_dictionaries({}, optional={
            "privileged": jvalue, "capabilities": jvalue, "runAsUser": jvalue})), "name": jvalue}))
    spec = st.fixed_dictionaries({}, optional={
        "containers": st.one_of(jvalue, st.lists(container, max_size=3)), "hostNetwork": jvalue,
        "hostPID": jvalue, "volumes": st.one_of(jvalue, st.lists(st.fixed_dictionaries({}, optional={
            "hostPath": st.one_of(jvalue, st.fixed_dictionaries({"path": jvalue}))}), max_size=2)),
        "securityContext": jvalue, "rules": jvalue, "subjects": jvalue})
    return st.fixed_dictionaries({
        "kind": st.just("Event"), "stageTimestamp": st.just("2024-01-01T00:00:00.123Z")}, optional={
        "verb": st.one_of(st.sampled_from(["create", "delete", "get", "patch"]), jvalue),
        "user": st.one_of(jvalue, st.fixed_dictionaries({}, optional={"username": jvalue, "groups": jvalue})),
        "objectRef": st.one_of(jvalue, st.fixed_dictionaries({}, optional={
            "resource": st.one_of(st.sampled_from(["pods", "secrets", "configmaps", "namespaces"]), jvalue),
            "namespace": jvalue, "name": jvalue, "subresource": jvalue})),
        "requestObject": st.one_of(jvalue, st.fixed_dictionaries({}, optional={"spec": spec, "rules": jvalue,
                                                                               "data": jvalue, "metadata": jvalue,
                                                                               "roleRef": jvalue})),
        "responseObject": jvalue, "responseStatus": jvalue, "requestURI": jvalue, "sourceIPs": jvalue,
        "userAgent": jvalue, "annotations": jvalue, "impersonatedUser": jvalue, "auditID": draw_value})


def nested(depth: int) -> dict:
    obj: dict = {"kind": "Event", "stageTimestamp": "2024-01-01T00:00:00Z"}
    inner: object = 1
    for _ in range(depth):
        inner = {"a": inner}
    obj["requestObject"] = inner
    return obj


@given(st.one_of(event.map(lambda e: json.dumps(e).encode()),
                 shaped(jvalue).map(lambda e: json.dumps(e).encode()),
                 st.lists(event, max_size=3).map(lambda e: json.dumps(e).encode()),
                 st.integers(200, 1100).map(lambda d: json.dumps({"kind": "EventList", "items": [nested(d)]})
                                            .encode()),
                 st.binary(max_size=100)))
def test_audit_parser(data: bytes) -> None:
    targets.audit(data)


# ---- configuration -----------------------------------------------------------------------------------

CONFIG_KEYS = ["json_output", "rules_files", "webserver", "outputs_queue", "http_output", "file_output",
               "priority", "engine", "plugins", "load_plugins", "config_files", "metrics", "output_timeout",
               "syscall_event_drops", "base_syscalls", "append_output", "static_fields", "log_level"]
config_doc = st.dictionaries(st.sampled_from(CONFIG_KEYS), value, max_size=6)


@given(st.one_of(config_doc.map(lambda d: dump(d).encode()), st.binary(max_size=120),
                 st.text(max_size=120).map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_config_loader(data: bytes) -> None:
    targets.config(data)


# ---- captures ----------------------------------------------------------------------------------------

SEED = targets.seed_capture()


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(SEED)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "byte", "cut", "insert", "u32"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "u32" and len(data) >= pos + 4:
            data[pos:pos + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00",
                                                      b"\xff\xff\xff\x7f", b"\x01\x00\x00\x80"]))
    return bytes(data)


@given(mutated())
def test_capture_reader(data: bytes) -> None:
    targets.capture(data)
