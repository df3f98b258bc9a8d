"""Fan-out configuration: lanner's list and falcosidekick's shape, option checking, sidekick's globals."""

from __future__ import annotations

from pathlib import Path

import pytest

from lanner.config import Config, ConfigError
from lanner.core.priority import Priority
from lanner.outputs.fanout.config import build_fanout
from lanner.outputs.fanout.gotemplate import Template, TemplateError
from lanner.outputs.format import AlertFormatter
from lanner.outputs.pipeline import OutputPipeline
from tests.outputs.helpers import RecordingServer, make_alert

CFG = "/etc/lanner/lanner.yaml"


def _pipeline(data: dict) -> OutputPipeline:
    return OutputPipeline.from_config(Config(data=data, path=CFG), AlertFormatter(hostname="node1"))


def _error(data: dict) -> str:
    with pytest.raises(ConfigError) as e:
        hub = build_fanout(Config(data=data, path=CFG), AlertFormatter())
        if hub is not None:
            hub.close()
    return str(e.value)


def test_sidekick_shape_minimumpriority_disabled_outputs_and_globals(http_server: RecordingServer) -> None:
    u = http_server.url
    p = _pipeline({"fanout": {
        "customfields": {"cluster": "prod"}, "customtags": ["k8s"],
        "webhook": {"address": u + "/hook", "minimumpriority": "error", "customheaders": {"X-Token": "t"}},
        "Slack": {"WebhookURL": u + "/slack", "MinimumPriority": "warning"},   # viper: keys case-insensitive
        "discord": {"webhookurl": ""},                                       # empty required option: off
        "kubeless": {"namespace": "", "function": ""},                       # an output lanner lacks, off
        "aws": {"sqs": {"url": ""}, "region": "eu-west-1"},
    }})
    assert sorted(p.fanout.stats()) == ["slack", "webhook"]
    for n, prio in enumerate((Priority.NOTICE, Priority.WARNING, Priority.CRITICAL)):
        p.submit(make_alert(n, prio))
    p.close()
    reqs = http_server.wait_for(3)
    hooks = [r for r in reqs if r.path == "/hook"]
    slacks = [r for r in reqs if r.path == "/slack"]
    assert [r.json()["priority"] for r in hooks] == ["Critical"]          # minimumpriority: error
    assert len(slacks) == 2                                                # warning and critical, not notice
    ev = hooks[0].json()
    assert hooks[0].headers["X-Token"] == "t"
    assert ev["output_fields"]["cluster"] == "prod" and ev["tags"] == ["container", "k8s", "shell"]
    assert list(ev) == ["uuid", "output", "priority", "rule", "time", "output_fields", "source", "tags", "hostname"]
    assert slacks[0].json()["username"] == "Falcosidekick"               # sidekick's default applies


def test_unknown_sidekick_option_names_file_section_and_nearest() -> None:
    msg = _error({"fanout": {"slack": {"webhookurl": "http://127.0.0.1:1/x", "minimumprority": "error"}}})
    assert msg == (f"{CFG}: fanout: falcosidekick section 'slack': unknown option 'minimumprority' "
                   "(did you mean 'minimumpriority'?)")
    msg = _error({"fanout": {"aws": {"sqs": {"ulr": "x"}}}})
    assert "section 'aws.sqs': unknown option 'ulr' (did you mean 'url'?)" in msg
    assert "top level: unknown option 'slak' (did you mean 'slack'?)" in _error({"fanout": {"slak": {}}})


def test_unknown_list_option_is_an_error_with_a_hint() -> None:
    msg = _error({"fanout": [{"type": "webhook", "url": "http://127.0.0.1:1/", "min_prority": "error"}]})
    assert msg == (f"{CFG}: fanout[0] (webhook): unknown option 'min_prority' for type 'webhook' "
                   "(did you mean 'min_priority'?)")
    msg = _error({"fanout": [{"type": "slack", "url": "http://127.0.0.1:1/", "minimumpriority": "error"}]})
    assert "unknown option 'minimumpriority'" in msg and "'min_priority' here" in msg
    assert "did you mean 'slack'" in _error({"fanout": [{"type": "slak", "url": "x"}]})
    # a disabled entry is still checked
    assert "unknown option 'bogus'" in _error({"fanout": [{"type": "webhook", "enabled": False, "bogus": 1}]})


def test_enabled_sidekick_output_lanner_lacks_is_an_error() -> None:
    msg = _error({"fanout": {"kubeless": {"namespace": "ns", "function": "f"}}})
    assert "falcosidekick output 'kubeless' is enabled (namespace, function set) but lanner has no such output" in msg


def test_bad_minimumpriority_is_an_error() -> None:
    msg = _error({"fanout": {"webhook": {"address": "http://127.0.0.1:1/", "minimumpriority": "urgent"}}})
    assert "falcosidekick webhook.minimumpriority: invalid priority 'urgent'" in msg


def test_sidekick_file_env_overrides_and_error_names_the_file(tmp_path: Path, http_server: RecordingServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "config.yaml"
    f.write_text("webhook:\n  address: ''\n  minimumpriority: critical\nalertmanager:\n  hostport: ''\n")
    monkeypatch.setenv("WEBHOOK_ADDRESS", http_server.url + "/from-env")     # sidekick's viper env form
    p = _pipeline({"falcosidekick_config": str(f),
                   "fanout": [{"type": "webhook", "name": "mine", "url": http_server.url + "/list"}]})
    assert sorted(p.fanout.stats()) == ["mine", "webhook"]
    p.submit(make_alert(1, Priority.ERROR))
    p.submit(make_alert(2, Priority.CRITICAL))
    p.close()
    paths = sorted(r.path for r in http_server.wait_for(3))
    assert paths == ["/from-env", "/list", "/list"]
    monkeypatch.delenv("WEBHOOK_ADDRESS")
    f.write_text("webhook:\n  adress: x\n")
    assert _error({"falcosidekick_config": str(f)}).startswith(f"{f}: falcosidekick section 'webhook': unknown option "
                                                               "'adress' (did you mean 'address'?)")


def test_alertmanager_hostport_list_gives_one_target_per_host(http_server: RecordingServer) -> None:
    p = _pipeline({"fanout": {"alertmanager": {"hostport": [http_server.url, http_server.url + "/b"],
                                               "endpoint": "/custom/alerts"}}})
    assert sorted(p.fanout.stats()) == ["alertmanager", "alertmanager-2"]
    p.submit(make_alert(1))
    p.close()
    assert sorted(r.path for r in http_server.wait_for(2)) == ["/b/custom/alerts", "/custom/alerts"]


def test_templatedfields_bracketreplacer_outputfieldformat(http_server: RecordingServer) -> None:
    from lanner.core.alert import Alert
    p = _pipeline({"fanout": {
        "webhook": {"address": http_server.url},
        "customfields": {"env": "prod"},
        "templatedfields": {"who": '{{ or (index . "user.name") "nobody" }}-{{ index . "proc.name" }}'},
        "bracketreplacer": "_",
        "outputFieldFormat": "<timestamp>: <priority> <output> (<custom_fields>) [<tags>]",
    }})
    p.submit(Alert(time_ns=1_767_621_801_123_456_789, rule="R", priority=Priority.WARNING, source="syscall",
                   message="bash ran", output_fields={"proc.name": "bash", "proc.aname[2]": "sshd"},
                   tags=("b", "a"), hostname="node1"))
    p.close()
    ev = http_server.wait_for(1)[0].json()
    assert ev["output_fields"]["who"] == "nobody-bash"
    assert ev["output_fields"]["proc.aname_2"] == "sshd" and "proc.aname[2]" not in ev["output_fields"]
    assert ev["output"].endswith(": Warning bash ran (env=prod) [a,b]")
    assert ev["output"].startswith("14:03:21.123456789")


def test_go_template_subset() -> None:
    t = Template('{{- " x " -}} {{ .a.b }}|{{ index .m "k.1" }}|{{ printf "%s=%v" "n" 3 }}|{{ .missing }}')
    res = t.render({"a": {"b": [1, 2]}, "m": {"k.1": None}}, lambda o, n: o.get(n) if isinstance(o, dict) else None)
    assert res == " x [1 2]|<no value>|n=3|<no value>"
    for bad in ("{{ if .Rule }}x{{ end }}", "{{ range .Tags }}{{ . }}{{ end }}", "{{ upper .Rule }}", "{{ .Rule "):
        with pytest.raises(TemplateError):
            Template(bad)


def test_messageformat_with_an_unknown_payload_field_is_an_error() -> None:
    msg = _error({"fanout": {"slack": {"webhookurl": "http://127.0.0.1:1/", "messageformat": "{{ .Rulez }}"}}})
    assert "message_format" in msg and "can't evaluate field Rulez" in msg


def _empty_config(schema: dict) -> dict:
    empty = {"str": "", "int": 0, "bool": False, "map": {}, "list": []}
    return {k: _empty_config(v) if isinstance(v, dict) else empty[v] for k, v in schema.items()}


def test_a_full_sidekick_config_with_every_output_off_is_accepted() -> None:
    from lanner.outputs.fanout.sidekick import translate
    from lanner.outputs.fanout.sidekick_keys import KEYS
    tr = translate("config.yaml", _empty_config(KEYS), env={})
    assert tr.entries == [] and not tr.globals.active()


def test_registry_and_sidekick_tables_agree() -> None:
    from lanner.outputs.fanout.registry import SPECS
    from lanner.outputs.fanout.sidekick import _keys_of
    from lanner.outputs.fanout.sidekick_keys import ENABLE, KEYS
    for sect in ENABLE:
        assert set(ENABLE[sect]) <= set(_keys_of(sect)), sect
    for s in SPECS:
        if not s.sidekick:
            continue
        keys = _keys_of(s.sidekick)
        assert keys, f"{s.type}: no sidekick section {s.sidekick}"
        assert s.enable == ENABLE[s.sidekick], s.type
        assert set(s.rename) <= set(keys), (s.type, set(s.rename) - set(keys))
        assert set(s.rename.values()) <= s.accepted(), (s.type, set(s.rename.values()) - s.accepted())
        assert not {"type", "name"} & set(s.rename.values()), s.type      # those keys name the entry itself
        parent = KEYS[s.sidekick.split(".")[0]] if "." in s.sidekick else {}
        assert set(s.parent) <= set(parent), s.type


def test_environment_only_sidekick_config_as_the_chart_gives_it() -> None:
    from lanner.outputs.fanout.sidekick import translate
    env = {"SLACK_WEBHOOKURL": "http://127.0.0.1:1/s", "SLACK_MINIMUMPRIORITY": "error", "AWS_SQS_URL": "http://q",
           "AWS_REGION": "eu-west-1", "AWS_CHECKIDENTITY": "false", "POLICYREPORT_ENABLED": "false",
           "CUSTOMFIELDS": "a:b,c:d", "WEBHOOK_ADDRESS": "", "WEBHOOK_CUSTOMHEADERS": "X-A:1"}
    tr = translate("/dev/null", None, env=env)          # an empty document: everything from the environment
    by_type = {e["type"]: e for e in tr.entries}
    assert sorted(by_type) == ["slack", "sqs"]           # webhook's address is empty: off; policyreport false: off
    assert by_type["slack"]["min_priority"] == "error" and by_type["slack"]["url"] == "http://127.0.0.1:1/s"
    assert by_type["sqs"] == {"type": "sqs", "name": "aws.sqs", "region": "eu-west-1", "checkidentity": False,
                              "url": "http://q"}
    assert tr.globals.customfields == {"a": "b", "c": "d"}


def test_sidekick_checkcert_mutualtls_and_tlsclient_cacert(pki, tmp_path: Path) -> None:
    from tests.outputs.helpers import server_tls
    plain = RecordingServer(tls=server_tls(pki))                         # server cert from the test CA
    mutual = RecordingServer(tls=server_tls(pki, require_client=True))   # also wants a client certificate
    certs = tmp_path / "certs"
    certs.mkdir()
    for src, dst in ((pki.client_cert, "client.crt"), (pki.client_key, "client.key"), (pki.ca, "ca.crt")):
        (certs / dst).write_bytes(src.read_bytes())
    try:
        p = _pipeline({"fanout": {
            "webhook": {"address": plain.url + "/unchecked", "checkcert": False},
            "slack": {"webhookurl": mutual.url + "/mutual", "mutualtls": True},     # files from mutualtlsfilespath
            "mutualtlsfilespath": str(certs),
            "loki": {"hostport": plain.url},                                        # verified with tlsclient's CA
            "tlsclient": {"cacertfile": str(pki.ca)},
        }})
        p.submit(make_alert(1))
        p.close()
        assert [r.path for r in plain.wait_for(2)] != [] and {r.path for r in plain.requests} == {
            "/unchecked", "/loki/api/v1/push"}
        got = mutual.wait_for(1)
        assert [r.path for r in got] == ["/mutual"] and got[0].client_cert is not None
        st = p.fanout.stats() if p.fanout else {}
        assert all(s["sent"] == 1 for s in st.values()), st
    finally:
        plain.stop()
        mutual.stop()


def test_sidekick_checkcert_true_refuses_an_unknown_ca(pki) -> None:
    from tests.outputs.helpers import server_tls
    srv = RecordingServer(tls=server_tls(pki))
    try:
        p = _pipeline({"fanout": {"webhook": {"address": srv.url, "checkcert": True}}})
        p.submit(make_alert(1))
        p.close()
        assert srv.requests == [] and p.fanout.stats()["webhook"]["failed"] == 1
    finally:
        srv.stop()
