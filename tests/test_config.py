"""Configuration assembly (config-and-cli.md 1): -o grammar, ${VAR} expansion, config_files merging."""

from __future__ import annotations

from pathlib import Path

import pytest

from lanner.config import Config, ConfigError, expand_env, load_config, parse_option, set_key, split_key


def test_split_key_grammar() -> None:
    assert split_key("webserver.listen_port") == ["webserver", "listen_port"]
    assert split_key("plugins[0].init_config.engines.docker.enabled") == [
        "plugins", 0, "init_config", "engines", "docker", "enabled"]
    assert split_key("append_output[]") == ["append_output", -1]
    assert split_key(r"static_fields.kubernetes\.io/role") == ["static_fields", "kubernetes.io/role"]
    for bad in ("a..b", "a.", ".a", "a[x]"):
        with pytest.raises(ConfigError, match="Config error at key"):
            split_key(bad)


def test_set_key_creates_nodes_and_appends() -> None:
    d: dict = {}
    set_key(d, "a.b[0].c", "1")
    set_key(d, "a.b[]", "x")
    set_key(d, "rules_files", "/x.yaml")
    assert d == {"a": {"b": [{"c": "1"}, "x"]}, "rules_files": "/x.yaml"}
    assert Config(d).list("rules_files") == ["/x.yaml"]


def test_parse_option() -> None:
    assert parse_option("json_output=true") == ("json_output", "true")
    assert parse_option("a=b=c") == ("a", "b=c")
    key, val = parse_option("append_output[]={match: {source: syscall}, extra_output: \"on CPU %evt.cpu\"}")
    assert val == {"match": {"source": "syscall"}, "extra_output": "on CPU %evt.cpu"}
    with pytest.raises(ConfigError, match="Must be of the form key=val"):
        parse_option("novalue")


def test_typed_getters_name_the_key() -> None:
    c = Config({"a": {"b": "yes", "n": "12", "bad": "maybe"}}, path="/x.yaml")
    assert c.bool("a.b") is True and c.int("a.n") == 12 and c.bool("missing", True) is True
    with pytest.raises(ConfigError, match="key 'a.bad'"):
        c.bool("a.bad")


def test_env_expansion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANNER_X", "val")
    monkeypatch.delenv("LANNER_UNSET", raising=False)
    assert expand_env({"a": ["${LANNER_X}/p", "$${LANNER_X}", "$5", "${open", "${LANNER_UNSET}x"]}) == {
        "a": ["val/p", "${LANNER_X}", "$5", "${open", "x"]}


def test_config_files_strategies(tmp_path: Path) -> None:
    d = tmp_path / "config.d"
    d.mkdir()
    (d / "a.yaml").write_text("load_plugins: [container]\nwebserver: {listen_port: 9000}\n")
    (d / "b").write_text("priority: notice\n")
    main = tmp_path / "main.yaml"
    main.write_text(f"load_plugins: []\nwebserver: {{enabled: true, listen_port: 1}}\npriority: debug\n"
                    f"config_files:\n  - {d}\n  - path: {tmp_path / 'add.yaml'}\n    strategy: add-only\n")
    (tmp_path / "add.yaml").write_text("priority: error\nrule_matching: all\n")
    c = load_config(str(main))
    assert c.list("load_plugins") == ["container"]
    assert c.dict("webserver") == {"listen_port": 9000}
    assert c.str("priority") == "notice"
    assert c.str("rule_matching") == "all"
    c = load_config(str(main), ["priority=warning", "webserver.listen_port=7"])
    assert c.str("priority") == "warning" and c.int("webserver.listen_port") == 7


def test_config_files_errors(tmp_path: Path) -> None:
    main = tmp_path / "main.yaml"
    main.write_text(f"config_files: [{main}]\n")
    with pytest.raises(ConfigError, match="recursively include main config file"):
        load_config(str(main))
    inc = tmp_path / "inc.yaml"
    inc.write_text("config_files: [/x]\n")
    main.write_text(f"config_files: [{inc}]\n")
    with pytest.raises(ConfigError, match="'config_files' directive in included config file"):
        load_config(str(main))
    with pytest.raises(ConfigError, match="Could not find configuration file at /nonexistent"):
        load_config("/nonexistent/falco.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [unclosed\n")
    with pytest.raises(ConfigError, match="Cannot read config file"):
        load_config(str(bad))
