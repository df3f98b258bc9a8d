"""Config files and ``-o`` maps go through the same checked YAML reading as rules: bad encodings, custom
tags and alias bombs are ConfigErrors naming the file and position, never tracebacks (issue 19 item 4)."""

from __future__ import annotations

import pytest
import yaml

from lanner import safeyaml
from lanner.config import ConfigError, load_config, parse_option
from tests.conftest import finishes


def config_error(tmp_path, data: bytes) -> str:
    p = tmp_path / "falco.yaml"
    p.write_bytes(data)
    with pytest.raises(ConfigError) as ei:
        load_config(str(p), search_defaults=False)
    assert str(p) in str(ei.value)
    return str(ei.value)


def test_utf16_config(tmp_path) -> None:
    assert "UTF-16 encoded" in config_error(tmp_path, "json_output: true\n".encode("utf-16"))


def test_non_utf8_config(tmp_path) -> None:
    msg = config_error(tmp_path, b"json_output: true\nlog_level: \xc3\x28\n")
    assert "invalid UTF-8 byte 0xc3" in msg and "line 2" in msg


def test_custom_tag_in_config(tmp_path) -> None:
    msg = config_error(tmp_path, b"json_output: !!python/object/apply:os.system [id]\n")
    assert "tag '!!python/object/apply:os.system' is not allowed" in msg


def test_alias_bomb_in_config(tmp_path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    prev = "a"
    for c in "bcdefghi":
        lines.append(f"{c}: &{c} [" + ",".join([f"*{prev}"] * 10) + "]")
        prev = c
    msg = finishes(lambda: config_error(tmp_path, ("\n".join(lines) + "\n").encode()))   # 10^9 items expanded
    assert "aliases expand to more than" in msg


def test_local_tag_in_config_is_ignored(tmp_path) -> None:
    p = tmp_path / "falco.yaml"
    p.write_bytes(b"log_level: !mine info\n")
    assert load_config(str(p), search_defaults=False).str("log_level", "") == "info"


def test_utf8_bom_is_accepted(tmp_path) -> None:
    p = tmp_path / "falco.yaml"
    p.write_bytes(b"\xef\xbb\xbfjson_output: true\n")
    assert load_config(str(p), search_defaults=False).bool("json_output", False) is True


def test_option_map_with_tag_refused() -> None:
    with pytest.raises(ConfigError, match="not allowed"):
        parse_option("x={a: !!python/name:os.system b}")


def test_check_node_counts_shared_aliases_once_per_use() -> None:
    node = yaml.compose("a: &x [1, 2, 3]\nb: [*x, *x, *x]\n", Loader=yaml.SafeLoader)
    safeyaml.check_node(node, limit=20)   # map + 2 keys + [1,2,3] (4) + [*x,*x,*x] (1 + 3 x 4)
    with pytest.raises(safeyaml.YamlInputError):
        safeyaml.check_node(node, limit=19)
