"""falcosidekick's configuration keys (v2.x ``config.yaml``), lower-cased, with their value kind.

Used to tell a misspelled sidekick option (an error, with the nearest name) from a real one that lanner
does not act on. Kinds: ``str``, ``int``, ``bool``, ``map``, ``list``; a nested mapping is a section.
Sidekick (viper) matches keys case-insensitively, so the file's spelling is lower-cased before lookup.
"""

from __future__ import annotations

from typing import Any

KEYS: dict[str, Any] = {
    "bracketreplacer": "str", "customfields": "map", "customtags": "list", "debug": "bool",
    "listenaddress": "str", "listenport": "int", "mutualtlsfilespath": "str", "outputfieldformat": "str",
    "templatedfields": "map",
    "alertmanager": {
        "checkcert": "bool", "customheaders": "map", "customseveritymap": "map",
        "dropeventdefaultpriority": "str", "dropeventthresholds": "str", "endpoint": "str",
        "expiresafter": "int", "extraannotations": "map", "extralabels": "map", "hostport": "list",
        "maxconcurrentrequests": "int", "minimumpriority": "str", "mutualtls": "bool",
    },
    "aws": {
        "accesskeyid": "str", "checkidentity": "bool", "externalid": "str", "region": "str",
        "rolearn": "str", "secretaccesskey": "str",
        "cloudwatchlogs": {
            "loggroup": "str", "logstream": "str", "minimumpriority": "str",
        },
        "kinesis": {
            "minimumpriority": "str", "streamname": "str",
        },
        "lambda": {
            "functionname": "str", "invocationtype": "str", "logtype": "str", "minimumpriority": "str",
        },
        "s3": {
            "bucket": "str", "endpoint": "str", "minimumpriority": "str", "objectcannedacl": "str",
            "prefix": "str",
        },
        "securitylake": {
            "accountid": "str", "batchsize": "int", "bucket": "str", "interval": "int",
            "minimumpriority": "str", "prefix": "str", "region": "str",
        },
        "sns": {
            "minimumpriority": "str", "rawjson": "bool", "topicarn": "str",
        },
        "sqs": {
            "minimumpriority": "str", "url": "str",
        },
    },
    "azure": {
        "eventhub": {
            "minimumpriority": "str", "name": "str", "namespace": "str",
        },
    },
    "cliq": {
        "checkcert": "bool", "icon": "str", "maxconcurrentrequests": "int", "messageformat": "str",
        "minimumpriority": "str", "mutualtls": "bool", "outputformat": "str", "useemoji": "bool",
        "webhookurl": "str",
    },
    "cloudevents": {
        "address": "str", "checkcert": "bool", "extensions": "map", "maxconcurrentrequests": "int",
        "minimumpriority": "str", "mutualtls": "bool",
    },
    "datadog": {
        "apikey": "str", "checkcert": "bool", "host": "str", "maxconcurrentrequests": "int",
        "minimumpriority": "str", "mutualtls": "bool",
    },
    "datadoglogs": {
        "apikey": "str", "checkcert": "bool", "host": "str", "maxconcurrentrequests": "int",
        "minimumpriority": "str", "mutualtls": "bool", "service": "str",
    },
    "discord": {
        "checkcert": "bool", "icon": "str", "maxconcurrentrequests": "int", "minimumpriority": "str",
        "mutualtls": "bool", "webhookurl": "str",
    },
    "dogstatsd": {
        "forwarder": "str", "namespace": "str", "tags": "list",
    },
    "dynatrace": {
        "apitoken": "str", "apiurl": "str", "checkcert": "bool", "minimumpriority": "str",
    },
    "elasticsearch": {
        "apikey": "str", "checkcert": "bool", "createindextemplate": "bool", "customheaders": "map",
        "enablecompression": "bool", "flattenfields": "bool", "hostport": "str", "index": "str",
        "maxconcurrentrequests": "int", "minimumpriority": "str", "mutualtls": "bool",
        "numberofreplicas": "int", "numberofshards": "int", "password": "str", "pipeline": "str",
        "suffix": "str", "type": "str", "username": "str",
        "batching": {
            "batchsize": "int", "enabled": "bool", "flushinterval": "int",
        },
    },
    "fission": {
        "checkcert": "bool", "function": "str", "kubeconfig": "str", "maxconcurrentrequests": "int",
        "minimumpriority": "str", "mutualtls": "bool", "routernamespace": "str", "routerport": "int",
        "routerservice": "str",
    },
    "gcp": {
        "credentials": "str", "workloadidentity": "bool",
        "chronicle": {
            "instanceid": "str", "logtype": "str", "minimumpriority": "str", "projectid": "str",
            "region": "str",
        },
        "cloudfunctions": {
            "minimumpriority": "str", "name": "str",
        },
        "cloudrun": {
            "endpoint": "str", "jwt": "str", "minimumpriority": "str",
        },
        "pubsub": {
            "customattributes": "map", "minimumpriority": "str", "projectid": "str", "topic": "str",
        },
        "storage": {
            "bucket": "str", "minimumpriority": "str", "prefix": "str",
        },
    },
    "googlechat": {
        "checkcert": "bool", "maxconcurrentrequests": "int", "messageformat": "str",
        "minimumpriority": "str", "mutualtls": "bool", "outputformat": "str", "webhookurl": "str",
    },
    "gotify": {
        "checkcert": "bool", "format": "str", "hostport": "str", "minimumpriority": "str", "token": "str",
    },
    "grafana": {
        "allfieldsastags": "bool", "apikey": "str", "checkcert": "bool", "customheaders": "map",
        "dashboardid": "int", "hostport": "str", "maxconcurrentrequests": "int", "minimumpriority": "str",
        "mutualtls": "bool", "panelid": "int",
    },
    "grafanaoncall": {
        "checkcert": "bool", "customheaders": "map", "maxconcurrentrequests": "int",
        "minimumpriority": "str", "mutualtls": "bool", "webhookurl": "str",
    },
    "influxdb": {
        "bucket": "str", "checkcert": "bool", "database": "str", "hostport": "str",
        "maxconcurrentrequests": "int", "minimumpriority": "str", "mutualtls": "bool", "organization": "str",
        "password": "str", "precision": "str", "token": "str", "user": "str",
    },
    "kafka": {
        "async": "bool", "balancer": "str", "clientid": "str", "compression": "str", "hostport": "str",
        "minimumpriority": "str", "password": "str", "requiredacks": "str", "sasl": "str", "tls": "bool",
        "topic": "str", "topiccreation": "bool", "username": "str",
    },
    "kafkarest": {
        "address": "str", "checkcert": "bool", "maxconcurrentrequests": "int", "minimumpriority": "str",
        "mutualtls": "bool", "version": "int",
    },
    "kubeless": {
        "checkcert": "bool", "function": "str", "kubeconfig": "str", "maxconcurrentrequests": "int",
        "minimumpriority": "str", "mutualtls": "bool", "namespace": "str", "port": "int",
    },
    "logstash": {
        "address": "str", "cacertfile": "str", "certfile": "str", "checkcert": "bool", "keyfile": "str",
        "minimumpriority": "str", "mutualtls": "bool", "port": "str", "tags": "list", "tls": "bool",
    },
    "loki": {
        "apikey": "str", "checkcert": "bool", "customheaders": "map", "endpoint": "str",
        "extralabels": "str", "format": "str", "hostport": "str", "maxconcurrentrequests": "int",
        "minimumpriority": "str", "mutualtls": "bool", "tenant": "str", "user": "str",
    },
    "mattermost": {
        "checkcert": "bool", "footer": "str", "icon": "str", "maxconcurrentrequests": "int",
        "messageformat": "str", "minimumpriority": "str", "mutualtls": "bool", "outputformat": "str",
        "username": "str", "webhookurl": "str",
    },
    "mqtt": {
        "broker": "str", "checkcert": "bool", "minimumpriority": "str", "password": "str", "qos": "int",
        "retained": "bool", "topic": "str", "user": "str",
    },
    "mutualtlsclient": {
        "cacertfile": "str", "certfile": "str", "keyfile": "str",
    },
    "n8n": {
        "address": "str", "checkcert": "bool", "headerauthname": "str", "headerauthvalue": "str",
        "minimumpriority": "str", "password": "str", "user": "str",
    },
    "nats": {
        "checkcert": "bool", "hostport": "str", "maxconcurrentrequests": "int", "minimumpriority": "str",
        "mutualtls": "bool", "subjecttemplate": "str",
    },
    "nodered": {
        "address": "str", "checkcert": "bool", "customheaders": "map", "maxconcurrentrequests": "int",
        "minimumpriority": "str", "mutualtls": "bool", "password": "str", "user": "str",
    },
    "openfaas": {
        "checkcert": "bool", "functionname": "str", "functionnamespace": "str", "gatewaynamespace": "str",
        "gatewayport": "int", "gatewayservice": "str", "kubeconfig": "str", "maxconcurrentrequests": "int",
        "minimumpriority": "str", "mutualtls": "bool",
    },
    "openobserve": {
        "checkcert": "bool", "customheaders": "map", "hostport": "str", "maxconcurrentrequests": "int",
        "minimumpriority": "str", "mutualtls": "bool", "organizationname": "str", "password": "str",
        "streamname": "str", "username": "str",
    },
    "opsgenie": {
        "apikey": "str", "checkcert": "bool", "maxconcurrentrequests": "int", "minimumpriority": "str",
        "mutualtls": "bool", "region": "str",
    },
    "otlp": {
        "logs": {
            "checkcert": "bool", "endpoint": "str", "extraenvvars": "map", "headers": "str",
            "minimumpriority": "str", "protocol": "str", "synced": "bool", "timeout": "int", "tls": "bool",
        },
        "metrics": {
            "checkcert": "bool", "endpoint": "str", "extraattributes": "str", "extraenvvars": "map",
            "headers": "str", "minimumpriority": "str", "protocol": "str", "timeout": "int", "tls": "bool",
        },
        "traces": {
            "checkcert": "bool", "duration": "int", "endpoint": "str", "extraenvvars": "map",
            "headers": "str", "minimumpriority": "str", "protocol": "str", "synced": "bool",
            "timeout": "int", "tls": "bool",
        },
    },
    "pagerduty": {
        "checkcert": "bool", "maxconcurrentrequests": "int", "minimumpriority": "str", "mutualtls": "bool",
        "region": "str", "routingkey": "str",
    },
    "policyreport": {
        "enabled": "bool", "falconamespace": "str", "kubeconfig": "str", "maxevents": "int",
        "minimumpriority": "str", "prunebypriority": "bool",
    },
    "prometheus": {
        "extralabels": "str",
    },
    "quickwit": {
        "apiendpoint": "str", "autocreateindex": "bool", "checkcert": "bool", "customheaders": "map",
        "hostport": "str", "index": "str", "maxconcurrentrequests": "int", "minimumpriority": "str",
        "mutualtls": "bool", "version": "str",
    },
    "rabbitmq": {
        "minimumpriority": "str", "queue": "str", "url": "str",
    },
    "redis": {
        "address": "str", "cacertfile": "str", "certfile": "str", "checkcert": "bool", "database": "int",
        "key": "str", "keyfile": "str", "minimumpriority": "str", "mutualtls": "bool", "password": "str",
        "storagetype": "str", "tls": "bool", "username": "str", "version": "int",
    },
    "rocketchat": {
        "checkcert": "bool", "footer": "str", "icon": "str", "maxconcurrentrequests": "int",
        "messageformat": "str", "minimumpriority": "str", "mutualtls": "bool", "outputformat": "str",
        "username": "str", "webhookurl": "str",
    },
    "slack": {
        "channel": "str", "checkcert": "bool", "footer": "str", "icon": "str",
        "maxconcurrentrequests": "int", "messageformat": "str", "minimumpriority": "str",
        "mutualtls": "bool", "outputformat": "str", "username": "str", "webhookurl": "str",
    },
    "smtp": {
        "authmechanism": "str", "from": "str", "hostport": "str", "identity": "str",
        "minimumpriority": "str", "outputformat": "str", "password": "str", "tls": "bool", "to": "str",
        "token": "str", "trace": "str", "user": "str",
    },
    "splunk": {
        "checkcert": "bool", "customheaders": "map", "host": "str", "maxconcurrentrequests": "int",
        "minimumpriority": "str", "mutualtls": "bool", "token": "str",
    },
    "spyderbat": {
        "apikey": "str", "apiurl": "str", "minimumpriority": "str", "orguid": "str", "source": "str",
        "sourcedescription": "str",
    },
    "stan": {
        "checkcert": "bool", "clientid": "str", "clusterid": "str", "hostport": "str",
        "maxconcurrentrequests": "int", "minimumpriority": "str", "mutualtls": "bool",
        "subjecttemplate": "str",
    },
    "statsd": {
        "forwarder": "str", "namespace": "str", "tags": "list",
    },
    "sumologic": {
        "checkcert": "bool", "maxconcurrentrequests": "int", "minimumpriority": "str", "mutualtls": "bool",
        "name": "str", "receiverurl": "str", "sourcecategory": "str", "sourcehost": "str",
    },
    "syslog": {
        "format": "str", "host": "str", "minimumpriority": "str", "port": "str", "protocol": "str",
    },
    "talon": {
        "address": "str", "checkcert": "bool", "minimumpriority": "str",
    },
    "teams": {
        "activityimage": "str", "checkcert": "bool", "maxconcurrentrequests": "int",
        "minimumpriority": "str", "mutualtls": "bool", "outputformat": "str", "webhookurl": "str",
    },
    "tekton": {
        "checkcert": "bool", "eventlistener": "str", "maxconcurrentrequests": "int",
        "minimumpriority": "str", "mutualtls": "bool",
    },
    "telegram": {
        "chatid": "str", "checkcert": "bool", "host": "str", "messagethreadid": "str",
        "minimumpriority": "str", "token": "str",
    },
    "timescaledb": {
        "database": "str", "host": "str", "hypertablename": "str", "minimumpriority": "str",
        "password": "str", "port": "str", "user": "str",
    },
    "tlsclient": {
        "cacertfile": "str",
    },
    "tlsserver": {
        "cacertfile": "str", "certfile": "str", "deploy": "bool", "keyfile": "str", "mutualtls": "bool",
        "notlspaths": "list", "notlsport": "int",
    },
    "wavefront": {
        "batchsize": "int", "endpointhost": "str", "endpointmetricport": "int", "endpointtoken": "str",
        "endpointtype": "str", "flushintervalseconds": "int", "metricname": "str", "minimumpriority": "str",
    },
    "webex": {
        "checkcert": "bool", "maxconcurrentrequests": "int", "minimumpriority": "str", "mutualtls": "bool",
        "webhookurl": "str",
    },
    "webhook": {
        "address": "str", "checkcert": "bool", "customheaders": "map", "maxconcurrentrequests": "int",
        "method": "str", "minimumpriority": "str", "mutualtls": "bool",
    },
    "webui": {
        "checkcert": "bool", "maxconcurrentrequests": "int", "mutualtls": "bool", "url": "str",
    },
    "yandex": {
        "accesskeyid": "str", "region": "str", "secretaccesskey": "str",
        "datastreams": {
            "endpoint": "str", "minimumpriority": "str", "streamname": "str",
        },
        "s3": {
            "bucket": "str", "endpoint": "str", "minimumpriority": "str", "prefix": "str",
        },
    },
    "zincsearch": {
        "checkcert": "bool", "hostport": "str", "index": "str", "minimumpriority": "str", "password": "str",
        "username": "str",
    },
}

# When sidekick starts each output (its main.go): every listed option must be non-empty.
ENABLE: dict[str, tuple[str, ...]] = {
    "statsd": ("forwarder",), "dogstatsd": ("forwarder",), "slack": ("webhookurl",), "cliq": ("webhookurl",),
    "rocketchat": ("webhookurl",), "mattermost": ("webhookurl",), "teams": ("webhookurl",),
    "webex": ("webhookurl",), "datadog": ("apikey",), "datadoglogs": ("apikey",), "discord": ("webhookurl",),
    "alertmanager": ("hostport",), "elasticsearch": ("hostport",), "quickwit": ("hostport",),
    "loki": ("hostport",), "sumologic": ("receiverurl",), "nats": ("hostport",),
    "stan": ("hostport", "clusterid", "clientid"), "influxdb": ("hostport",),
    "aws.lambda": ("functionname",), "aws.sqs": ("url",), "aws.sns": ("topicarn",),
    "aws.cloudwatchlogs": ("loggroup",), "aws.s3": ("bucket",), "aws.kinesis": ("streamname",),
    "aws.securitylake": ("bucket", "region", "accountid"), "smtp": ("hostport", "from", "to"),
    "opsgenie": ("apikey",), "webhook": ("address",), "nodered": ("address",), "cloudevents": ("address",),
    "azure.eventhub": ("name",), "gcp.pubsub": ("projectid", "topic"), "gcp.storage": ("bucket",),
    "gcp.cloudfunctions": ("name",), "gcp.chronicle": ("projectid", "instanceid", "region"),
    "gcp.cloudrun": ("endpoint", "jwt"), "googlechat": ("webhookurl",), "kafka": ("hostport", "topic"),
    "kafkarest": ("address",), "pagerduty": ("routingkey",), "kubeless": ("namespace", "function"),
    "webui": ("url",), "policyreport": ("enabled",), "openfaas": ("functionname",),
    "tekton": ("eventlistener",), "rabbitmq": ("url", "queue"), "wavefront": ("endpointtype", "endpointhost"),
    "fission": ("function",), "grafana": ("hostport", "apikey"), "grafanaoncall": ("webhookurl",),
    "yandex.s3": ("bucket",), "yandex.datastreams": ("streamname",), "syslog": ("host",), "mqtt": ("broker",),
    "zincsearch": ("hostport",), "gotify": ("hostport",), "spyderbat": ("orguid",), "timescaledb": ("host",),
    "redis": ("address",), "logstash": ("address",), "telegram": ("chatid", "token"), "n8n": ("address",),
    "openobserve": ("hostport",), "dynatrace": ("apitoken", "apiurl"), "otlp.traces": ("endpoint",),
    "otlp.logs": ("endpoint",), "otlp.metrics": ("endpoint",), "talon": ("address",), "splunk": ("host",),
}

# Global keys that configure sidekick's own HTTP server or metrics, not an output: accepted, not applied.
SERVER_KEYS = ("listenaddress", "listenport", "debug", "tlsserver", "prometheus")
