"""``--config-schema``: the JSON schema of lanner's configuration, built from the key tree of
:mod:`lanner.config_schema` (Falco 0.44's keys plus lanner's own), so the printed schema and the
start-up validation can never disagree.

Laid out as Falco prints its own (draft-06, a ``$ref`` to one root definition, closed mappings with
``additionalProperties: false``); a leaf typed ``any`` accepts every value.
"""

from __future__ import annotations

import json
from typing import Any

from lanner.config_schema import KNOWN

_LEAF = {"bool": {"type": "boolean"}, "int": {"type": "integer"}, "num": {"type": "number"},
         "str": {"type": "string"}, "list": {"type": "array"}, "map": {"type": "object"}, "any": {}}


def _node(spec: Any) -> dict[str, Any]:
    if isinstance(spec, dict):
        return {"type": "object", "additionalProperties": False,
                "properties": {k: _node(v) for k, v in sorted(spec.items())}}
    return dict(_LEAF.get(spec, {}))


def config_json_schema() -> dict[str, Any]:
    """The schema document, as a JSON-ready mapping."""
    root = _node(KNOWN)
    root["title"] = "LannerConfig"
    return {"$schema": "http://json-schema.org/draft-06/schema#", "$ref": "#/definitions/LannerConfig",
            "definitions": {"LannerConfig": root}}


def config_schema_text() -> str:
    """The text ``--config-schema`` prints: keys sorted, two-space indent, as Falco's."""
    return json.dumps(config_json_schema(), indent=2, sort_keys=True) + "\n"
