"""The ``json`` plugin: field extraction only (``json.*`` and ``jevt.*``) over JSON-payload sources.

Falco's k8s audit and CloudTrail rules require it (``required_plugin_versions: json >= 0.7.0``);
``load_plugins: [k8saudit, json]`` maps onto this class.
"""

from __future__ import annotations

from typing import Any

from lanner.fields import json as json_fields
from lanner.fields.registry import FieldClass
from lanner.sources.api import SourcePlugin
from lanner.sources.cloudtrail.plugin import SOURCE as CLOUDTRAIL
from lanner.sources.k8saudit.plugin import SOURCE as K8S_AUDIT
from lanner.sources.k8saudit.plugin import parse_init_config


class JsonPlugin(SourcePlugin):
    name = "json"
    version = "0.7.0"
    description = "Extract values from any JSON payload with JSON pointers"
    source = ""
    #: the JSON-payload sources of lanner's other plugins
    extract_sources = (K8S_AUDIT, CLOUDTRAIL)

    def init(self, init_config: Any) -> None:
        parse_init_config(init_config, self.name)   # validates; the plugin has no options

    def field_classes(self) -> list[FieldClass]:
        return [json_fields.field_class(self.extract_sources)]
