"""Every fan-out output: its ``type``, class, options, and how falcosidekick's section maps onto it.

One :class:`OutputSpec` row per output. The option names are checked when the configuration is read, so
a misspelling is an error naming the option and the nearest valid one instead of a silently ignored key.
Target classes are imported only when used: an optional client library (an extra) costs nothing unless
its output is configured.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lanner.outputs.fanout.base import Target

TargetClass = type[Target]

# options every target takes (``X_env`` also works for every option X)
COMMON = frozenset({"type", "name", "min_priority", "extra_fields", "queue_capacity", "retries", "backoff_ms",
                    "max_backoff_ms", "enabled"})
# options of the shared HTTP plumbing (httpbase.HttpTarget)
HTTP = frozenset({"url", "headers", "username", "password", "timeout_ms", "insecure", "ca_cert", "client_cert",
                  "client_key", "user_agent"})
TLS = frozenset({"tls", "insecure", "ca_cert", "client_cert", "client_key", "timeout_ms"})

SK_ICON = "https://raw.githubusercontent.com/falcosecurity/falcosidekick/master/imgs/falcosidekick_color.png"
SK_FOOTER = "https://github.com/falcosecurity/falcosidekick"


@dataclass(frozen=True)
class OutputSpec:
    """One output type.

    ``rename`` maps a falcosidekick option of ``sidekick`` (its section path, e.g. ``aws.sqs``) to the lanner
    option it sets; ``parent`` does the same for options of the enclosing section (``aws.region``);
    ``defaults`` are sidekick's own defaults, applied to sidekick-shaped configs only so that a moved config
    behaves as it did; ``enable`` lists the sidekick options that must all be non-empty for the output to
    start (sidekick's rule); ``ignored`` are sidekick options lanner accepts but does not apply.
    """

    type: str
    target: str
    options: frozenset[str] = frozenset()
    http: bool = True
    sidekick: str = ""
    rename: Mapping[str, str] = field(default_factory=dict)
    parent: Mapping[str, str] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    enable: tuple[str, ...] = ()
    ignored: frozenset[str] = frozenset()
    extra: str = ""

    def accepted(self) -> frozenset[str]:
        return COMMON | self.options | (HTTP if self.http else frozenset())

    def load(self) -> TargetClass:
        module, _, cls = self.target.partition(":")
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            hint = f" (pip install 'lanner[{self.extra}]')" if self.extra else ""
            raise ImportError(f"output type '{self.type}' needs {e.name or e}{hint}") from None
        target: TargetClass = getattr(mod, cls)
        return target


_CHAT = {"webhookurl": "url", "username": "username", "icon": "icon_url", "outputformat": "output_format",
         "messageformat": "message_format", "footer": "footer"}
# aws.py reads sidekick's names itself (h16libs); the parent section's keys pass through unchanged
_AWS = frozenset({"region", "profile", "endpoint", "sts_endpoint", "checkidentity", "timeout_ms", "rolearn",
                  "externalid", "accesskeyid", "secretaccesskey", "sessiontoken", "access_key_id",
                  "secret_access_key", "session_token"})
_AWS_PARENT = {k: k for k in ("region", "accesskeyid", "secretaccesskey", "rolearn", "externalid", "checkidentity")}
_SK_TLS = frozenset({"checkcert", "mutualtls", "cacertfile", "certfile", "keyfile"})

SPECS: tuple[OutputSpec, ...] = (
    OutputSpec("webhook", "lanner.outputs.fanout.webhook:WebhookTarget", frozenset({"method", "format"}),
               sidekick="webhook", rename={"address": "url", "method": "method", "customheaders": "headers"},
               defaults={"method": "POST", "format": "sidekick"}, enable=("address",)),
    OutputSpec("alertmanager", "lanner.outputs.fanout.webhook:AlertmanagerTarget",
               frozenset({"expires_after_s", "endpoint", "extra_labels", "extra_annotations", "custom_severity_map",
                          "drop_event_thresholds", "drop_event_default_priority"}), sidekick="alertmanager",
               rename={"hostport": "url", "endpoint": "endpoint", "expiresafter": "expires_after_s",
                       "customheaders": "headers", "extralabels": "extra_labels",
                       "extraannotations": "extra_annotations", "customseveritymap": "custom_severity_map",
                       "dropeventthresholds": "drop_event_thresholds",
                       "dropeventdefaultpriority": "drop_event_default_priority"},
               defaults={"endpoint": "/api/v2/alerts"}, enable=("hostport",)),
    OutputSpec("slack", "lanner.outputs.fanout.chat:SlackTarget",
               frozenset({"icon_url", "channel", "output_format", "message_format", "footer"}),
               sidekick="slack", rename={**_CHAT, "channel": "channel"},
               defaults={"username": "Falcosidekick", "icon": SK_ICON, "footer": SK_FOOTER, "outputformat": "all"},
               enable=("webhookurl",)),
    OutputSpec("mattermost", "lanner.outputs.fanout.chat:MattermostTarget",
               frozenset({"icon_url", "channel", "output_format", "message_format", "footer"}),
               sidekick="mattermost", rename=_CHAT,
               defaults={"username": "Falcosidekick", "icon": SK_ICON, "footer": SK_FOOTER, "outputformat": "all"},
               enable=("webhookurl",)),
    OutputSpec("rocketchat", "lanner.outputs.fanout.chat:RocketchatTarget",
               frozenset({"icon_url", "output_format", "message_format"}), sidekick="rocketchat",
               rename={k: v for k, v in _CHAT.items() if k != "footer"},
               defaults={"username": "Falcosidekick", "icon": SK_ICON, "outputformat": "all"},
               enable=("webhookurl",), ignored=frozenset({"footer"})),
    OutputSpec("cliq", "lanner.outputs.fanout.chat:CliqTarget",
               frozenset({"icon_url", "output_format", "message_format", "use_emoji"}), sidekick="cliq",
               rename={"webhookurl": "url", "icon": "icon_url", "outputformat": "output_format",
                       "messageformat": "message_format", "useemoji": "use_emoji"},
               defaults={"icon": SK_ICON, "outputformat": "all", "username": "Falcosidekick"},
               enable=("webhookurl",)),
    OutputSpec("teams", "lanner.outputs.fanout.chat:TeamsTarget",
               frozenset({"output_format", "activity_image", "card", "title"}), sidekick="teams",
               rename={"webhookurl": "url", "activityimage": "activity_image", "outputformat": "output_format"},
               defaults={"activityimage": SK_ICON, "outputformat": "all", "card": "messagecard",
                         "title": "Falcosidekick"},
               enable=("webhookurl",)),
    OutputSpec("googlechat", "lanner.outputs.fanout.chat:GoogleChatTarget",
               frozenset({"output_format", "message_format"}), sidekick="googlechat",
               rename={"webhookurl": "url", "outputformat": "output_format", "messageformat": "message_format"},
               defaults={"outputformat": "all"}, enable=("webhookurl",)),
    OutputSpec("webex", "lanner.outputs.fanout.chat:WebexTarget", sidekick="webex", rename={"webhookurl": "url"},
               enable=("webhookurl",)),
    OutputSpec("discord", "lanner.outputs.fanout.chat:DiscordTarget", frozenset({"icon_url"}), sidekick="discord",
               rename={"webhookurl": "url", "icon": "icon_url"}, defaults={"icon": SK_ICON},
               enable=("webhookurl",)),
    OutputSpec("pagerduty", "lanner.outputs.fanout.saas:PagerdutyTarget", frozenset({"routing_key", "region"}),
               sidekick="pagerduty", rename={"routingkey": "routing_key", "region": "region"},
               enable=("routingkey",)),
    OutputSpec("opsgenie", "lanner.outputs.fanout.saas:OpsgenieTarget", frozenset({"api_key", "region", "entity"}),
               sidekick="opsgenie", rename={"apikey": "api_key", "region": "region"},
               defaults={"entity": "Falcosidekick"}, enable=("apikey",)),
    OutputSpec("datadog", "lanner.outputs.fanout.saas:DatadogTarget", frozenset({"api_key", "site"}),
               sidekick="datadog", rename={"apikey": "api_key", "host": "url"}, enable=("apikey",)),
    OutputSpec("splunk", "lanner.outputs.fanout.saas:SplunkTarget", frozenset({"token"}), sidekick="splunk",
               rename={"host": "url", "token": "token", "customheaders": "headers"}, enable=("host",)),
    OutputSpec("telegram", "lanner.outputs.fanout.saas:TelegramTarget",
               frozenset({"token", "chat_id", "message_thread_id"}), sidekick="telegram",
               rename={"host": "url", "token": "token", "chatid": "chat_id", "messagethreadid": "message_thread_id"},
               enable=("chatid", "token")),
    OutputSpec("gcppubsub", "lanner.outputs.fanout.gcp:PubSubTarget",
               frozenset({"project_id", "topic", "credentials", "custom_attributes"}), sidekick="gcp.pubsub",
               rename={"projectid": "project_id", "topic": "topic", "customattributes": "custom_attributes"},
               parent={"credentials": "credentials"}, enable=("projectid", "topic"),
               ignored=frozenset({"workloadidentity"}), extra="gcp"),
    OutputSpec("n8n", "lanner.outputs.fanout.jsonposts:JsonPostTarget", frozenset({"header_auth_name", "header_auth_value"}), sidekick="n8n",
               rename={"address": "url", "user": "username", "password": "password",
                       "headerauthname": "header_auth_name", "headerauthvalue": "header_auth_value"},
               enable=("address",)),
    OutputSpec("nodered", "lanner.outputs.fanout.jsonposts:NodeRedTarget", sidekick="nodered",
               rename={"address": "url", "user": "username", "password": "password", "customheaders": "headers"},
               enable=("address",)),
    OutputSpec("tekton", "lanner.outputs.fanout.jsonposts:TektonTarget", sidekick="tekton", rename={"eventlistener": "url"},
               enable=("eventlistener",)),
    OutputSpec("talon", "lanner.outputs.fanout.jsonposts:TalonTarget", sidekick="talon", rename={"address": "url"}, enable=("address",)),
    OutputSpec("webui", "lanner.outputs.fanout.jsonposts:WebUiTarget", sidekick="webui", rename={"url": "url"}, enable=("url",)),
    OutputSpec("grafanaoncall", "lanner.outputs.fanout.jsonposts:GrafanaOnCallTarget", sidekick="grafanaoncall",
               rename={"webhookurl": "url", "customheaders": "headers"}, enable=("webhookurl",)),
    OutputSpec("grafana", "lanner.outputs.fanout.jsonposts:GrafanaTarget",
               frozenset({"api_key", "dashboard_id", "panel_id", "all_fields_as_tags"}), sidekick="grafana",
               rename={"hostport": "url", "apikey": "api_key", "dashboardid": "dashboard_id", "panelid": "panel_id",
                       "allfieldsastags": "all_fields_as_tags", "customheaders": "headers"},
               enable=("hostport", "apikey")),
    OutputSpec("datadoglogs", "lanner.outputs.fanout.saas:DatadogLogsTarget", frozenset({"api_key", "site", "service"}),
               sidekick="datadoglogs", rename={"apikey": "api_key", "host": "url", "service": "service"},
               enable=("apikey",)),
    OutputSpec("sumologic", "lanner.outputs.fanout.jsonposts:SumoLogicTarget", frozenset({"source_category", "source_host", "source_name"}),
               sidekick="sumologic",
               rename={"receiverurl": "url", "sourcecategory": "source_category", "sourcehost": "source_host",
                       "name": "source_name"}, enable=("receiverurl",)),
    OutputSpec("openobserve", "lanner.outputs.fanout.jsonposts:OpenObserveTarget", frozenset({"organization", "stream"}), sidekick="openobserve",
               rename={"hostport": "url", "organizationname": "organization", "streamname": "stream",
                       "username": "username", "password": "password", "customheaders": "headers"},
               enable=("hostport",)),
    OutputSpec("kafkarest", "lanner.outputs.fanout.jsonposts:KafkaRestTarget", frozenset({"version"}), sidekick="kafkarest",
               rename={"address": "url", "version": "version"}, enable=("address",)),
    OutputSpec("gcpcloudrun", "lanner.outputs.fanout.jsonposts:CloudRunTarget", frozenset({"jwt"}), sidekick="gcp.cloudrun",
               rename={"endpoint": "url", "jwt": "jwt"}, enable=("endpoint", "jwt")),
    OutputSpec("cloudevents", "lanner.outputs.fanout.jsonposts:CloudEventsTarget", frozenset({"extensions"}), sidekick="cloudevents",
               rename={"address": "url", "extensions": "extensions"}, enable=("address",)),
    OutputSpec("gotify", "lanner.outputs.fanout.saas:GotifyTarget", frozenset({"token", "format"}), sidekick="gotify",
               rename={"hostport": "url", "token": "token", "format": "format"}, defaults={"format": "markdown"},
               enable=("hostport",)),
    OutputSpec("zincsearch", "lanner.outputs.fanout.jsonposts:ZincSearchTarget", frozenset({"index"}), sidekick="zincsearch",
               rename={"hostport": "url", "index": "index", "username": "username", "password": "password"},
               defaults={"index": "falco"}, enable=("hostport",)),
    OutputSpec("quickwit", "lanner.outputs.fanout.jsonposts:QuickwitTarget", frozenset({"index", "api_endpoint"}), sidekick="quickwit",
               rename={"hostport": "url", "index": "index", "apiendpoint": "api_endpoint", "customheaders": "headers"},
               defaults={"index": "falco", "apiendpoint": "api/v1"}, enable=("hostport",),
               ignored=frozenset({"autocreateindex", "version"})),
    OutputSpec("syslog", "lanner.outputs.fanout.netsyslog:SyslogTarget",
               frozenset({"host", "port", "protocol", "format", "timeout_ms"}), http=False, sidekick="syslog",
               rename={"host": "host", "port": "port", "protocol": "protocol", "format": "format"},
               defaults={"format": "json"}, enable=("host",)),
    OutputSpec("gcpstorage", "lanner.outputs.fanout.gcp:StorageTarget", frozenset({"bucket", "prefix", "credentials"}),
               sidekick="gcp.storage", rename={"bucket": "bucket", "prefix": "prefix"},
               parent={"credentials": "credentials"}, enable=("bucket",), extra="gcp"),
    OutputSpec("dynatrace", "lanner.outputs.fanout.saas:DynatraceTarget", frozenset({"api_token"}),
               sidekick="dynatrace", rename={"apiurl": "url", "apitoken": "api_token"},
               enable=("apitoken", "apiurl")),
    OutputSpec("logstash", "lanner.outputs.fanout.logstash:LogstashTarget",
               frozenset({"address", "port", "tags", "mutualtls", "checkcert", "cacertfile", "certfile",
                          "keyfile"}) | TLS, http=False, sidekick="logstash",
               rename={k: k for k in ("address", "port", "tls", "tags", "cacertfile", "certfile", "keyfile")},
               enable=("address",)),
    OutputSpec("timescaledb", "lanner.outputs.fanout.timescaledb:TimescaleDbTarget",
               frozenset({"host", "port", "user", "password", "database", "hypertable", "columns", "timeout_ms"}),
               http=False, sidekick="timescaledb",
               rename={k: k for k in ("host", "port", "user", "password", "database")} | {"hypertablename": "hypertable"},
               defaults={"port": "5432", "user": "postgres", "password": "postgres", "database": "falcosidekick",
                         "hypertablename": "falcosidekick_events"},
               enable=("host",), extra="postgres"),
    OutputSpec("loki", "lanner.outputs.fanout.logs:LokiTarget",
               frozenset({"tenant", "extra_labels", "format", "endpoint", "label_fields"}), sidekick="loki",
               rename={"hostport": "url", "user": "username", "apikey": "password", "tenant": "tenant",
                       "format": "format", "endpoint": "endpoint", "customheaders": "headers",
                       "extralabels": "label_fields"},
               defaults={"format": "text", "endpoint": "/loki/api/v1/push"}, enable=("hostport",)),
    OutputSpec("elasticsearch", "lanner.outputs.fanout.logs:ElasticsearchTarget",
               frozenset({"index", "suffix", "api_key", "doc_type", "pipeline", "flatten_fields"}), sidekick="elasticsearch",
               rename={"hostport": "url", "index": "index", "suffix": "suffix", "username": "username",
                       "password": "password", "apikey": "api_key", "customheaders": "headers", "type": "doc_type",
                       "pipeline": "pipeline", "flattenfields": "flatten_fields"},
               defaults={"index": "falco", "suffix": "daily", "type": "_doc"}, enable=("hostport",),
               ignored=frozenset({"createindextemplate", "enablecompression", "numberofshards", "numberofreplicas",
                                  "batching"})),
    OutputSpec("opensearch", "lanner.outputs.fanout.logs:OpenSearchTarget",
               frozenset({"index", "suffix", "api_key", "doc_type", "pipeline", "flatten_fields"})),
    OutputSpec("otlp", "lanner.outputs.fanout.logs:OtlpLogsTarget", frozenset({"service_name"}), sidekick="otlp.logs",
               rename={"endpoint": "url"}, enable=("endpoint",),
               ignored=frozenset({"protocol", "headers", "timeout", "extraenvvars", "tls", "synced"})),
    OutputSpec("kafka", "lanner.outputs.fanout.kafka:KafkaTarget",
               frozenset({"address", "topic", "acks", "batch_size", "client_id", "compression", "key", "librdkafka",
                          "linger_ms", "partition", "sasl_mechanism", "sasl_username", "sasl_password", "sasl",
                          "requiredacks", "balancer", "async", "topiccreation"}) | TLS,
               http=False, sidekick="kafka",
               rename={"hostport": "address", "topic": "topic", "clientid": "client_id", "compression": "compression",
                       "username": "sasl_username", "password": "sasl_password", "sasl": "sasl",
                       "tls": "tls", "balancer": "balancer", "requiredacks": "requiredacks", "async": "async",
                       "topiccreation": "topiccreation"},
               defaults={"requiredacks": "NONE", "balancer": "round_robin"}, enable=("hostport", "topic"),
               extra="kafka"),
    OutputSpec("nats", "lanner.outputs.fanout.nats:NatsTarget",
               frozenset({"hostport", "address", "subjecttemplate", "subject", "user", "password", "token",
                          "credsfile", "checkcert", "mutualtls", "cacertfile", "certfile", "keyfile"}) | TLS,
               http=False, sidekick="nats", rename={"hostport": "hostport", "subjecttemplate": "subjecttemplate"},
               enable=("hostport",), extra="nats"),
    OutputSpec("redis", "lanner.outputs.fanout.redis:RedisTarget",
               frozenset({"address", "username", "password", "database", "key", "storagetype", "maxlen",
                          "checkcert", "mutualtls", "cacertfile", "certfile", "keyfile"}) | TLS, http=False,
               sidekick="redis",
               rename={k: k for k in ("address", "password", "username", "database", "key", "storagetype", "tls",
                                      "cacertfile", "certfile", "keyfile")},
               enable=("address",), ignored=frozenset({"version"}), extra="redis"),
    OutputSpec("sns", "lanner.outputs.fanout.aws:SnsTarget", _AWS | {"topicarn", "topic_arn", "rawjson"}, http=False,
               sidekick="aws.sns", rename={"topicarn": "topicarn", "rawjson": "rawjson"}, parent=_AWS_PARENT,
               enable=("topicarn",), extra="aws"),
    OutputSpec("sqs", "lanner.outputs.fanout.aws:SqsTarget", _AWS | {"url", "queue_url"}, http=False,
               sidekick="aws.sqs", rename={"url": "url"}, parent=_AWS_PARENT, enable=("url",), extra="aws"),
    OutputSpec("aws_s3", "lanner.outputs.fanout.aws:S3Target", _AWS | {"bucket", "prefix", "objectcannedacl"},
               http=False, sidekick="aws.s3",
               rename={"bucket": "bucket", "prefix": "prefix", "objectcannedacl": "objectcannedacl",
                       "endpoint": "endpoint"},
               parent=_AWS_PARENT, enable=("bucket",), extra="aws"),
    OutputSpec("aws_kinesis", "lanner.outputs.fanout.aws:KinesisTarget", _AWS | {"streamname"}, http=False,
               sidekick="aws.kinesis", rename={"streamname": "streamname"}, parent=_AWS_PARENT,
               enable=("streamname",), extra="aws"),
    OutputSpec("aws_cloudwatchlogs", "lanner.outputs.fanout.aws:CloudWatchLogsTarget",
               _AWS | {"loggroup", "logstream", "batch_size"}, http=False, sidekick="aws.cloudwatchlogs",
               rename={"loggroup": "loggroup", "logstream": "logstream"}, parent=_AWS_PARENT,
               enable=("loggroup",), extra="aws"),
    OutputSpec("statsd", "lanner.outputs.fanout.statsd:StatsdTarget", frozenset({"forwarder", "namespace", "tags"}),
               http=False, sidekick="statsd", rename={k: k for k in ("forwarder", "namespace", "tags")},
               enable=("forwarder",)),
    OutputSpec("dogstatsd", "lanner.outputs.fanout.statsd:DogstatsdTarget",
               frozenset({"forwarder", "namespace", "tags"}), http=False, sidekick="dogstatsd",
               rename={k: k for k in ("forwarder", "namespace", "tags")}, enable=("forwarder",)),
    OutputSpec("mqtt", "lanner.outputs.fanout.mqtt:MqttTarget",
               frozenset({"broker", "topic", "qos", "retained", "user", "password"}) | _SK_TLS | TLS, http=False,
               sidekick="mqtt", rename={k: k for k in ("broker", "topic", "qos", "retained", "user", "password")},
               enable=("broker",), extra="mqtt"),
    OutputSpec("rabbitmq", "lanner.outputs.fanout.rabbitmq:RabbitmqTarget",
               frozenset({"url", "queue"}) | _SK_TLS | TLS, http=False, sidekick="rabbitmq",
               rename={"url": "url", "queue": "queue"}, enable=("url", "queue"), extra="rabbitmq"),
    OutputSpec("influxdb", "lanner.outputs.fanout.influxdb:InfluxdbTarget",
               frozenset({"hostport", "database", "organization", "bucket", "precision", "user", "token"}) | _SK_TLS,
               sidekick="influxdb",
               rename={k: k for k in ("hostport", "database", "organization", "bucket", "precision", "user",
                                      "password", "token")},
               enable=("hostport",)),
    OutputSpec("smtp", "lanner.outputs.fanout.smtp:SmtpTarget",
               frozenset({"address", "from", "to", "user", "password"}) | TLS, http=False, sidekick="smtp",
               rename={"hostport": "address", "from": "from", "to": "to", "user": "user", "password": "password"},
               enable=("hostport", "from", "to"),
               ignored=frozenset({"outputformat", "authmechanism", "token", "identity", "trace", "tls"})),
)


def specs() -> dict[str, OutputSpec]:
    """type name -> spec."""
    return {s.type: s for s in SPECS}
