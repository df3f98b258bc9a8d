{{/* Names and labels shared by every object. */}}
{{- define "lanner.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "lanner.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "lanner.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "lanner.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "lanner.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lanner.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "lanner.labels" -}}
{{ include "lanner.selectorLabels" . }}
app.kubernetes.io/component: node-agent
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "lanner.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "lanner.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The config.d file: what differs from the image's /etc/lanner/lanner.yaml (falco.yaml layout). */}}
{{- define "lanner.config" -}}
{{- $engines := dict
      "docker" (dict "enabled" .Values.containerEngines.docker.enabled "sockets" (list "/host/var/run/docker.sock"))
      "containerd" (dict "enabled" .Values.containerEngines.containerd.enabled "sockets" (list "/host/run/containerd/containerd.sock"))
      "cri" (dict "enabled" (or .Values.containerEngines.containerd.enabled .Values.containerEngines.crio.enabled)
                  "sockets" (list "/host/run/containerd/containerd.sock" "/host/run/crio/crio.sock"))
      "podman" (dict "enabled" false) -}}
{{- $plugins := list (dict "name" "container" "library_path" "libcontainer.so" "init_config" (dict "engines" $engines)) -}}
{{- $load := list "container" -}}
{{- if .Values.auditWebhook.enabled -}}
{{- $audit := dict "name" "k8saudit" "library_path" "libk8saudit.so"
      "init_config" (dict "maxEventSize" .Values.auditWebhook.maxEventSize "webhookMaxBatchSize" .Values.auditWebhook.maxBatchSize)
      "open_params" (printf "http://:%v%s" .Values.auditWebhook.port .Values.auditWebhook.path) -}}
{{- $plugins = append $plugins $audit -}}
{{- $plugins = append $plugins (dict "name" "json" "library_path" "libjson.so") -}}
{{- $load = concat $load (list "k8saudit" "json") -}}
{{- end -}}
{{- $cfg := dict
      "engine" (dict "kind" .Values.driver.kind
                     "modern_ebpf" (dict "buf_size_preset" .Values.driver.modernEbpf.bufSizePreset
                                         "drop_failed_exit" .Values.driver.modernEbpf.dropFailedExit))
      "priority" .Values.outputs.priority
      "json_output" .Values.outputs.json
      "json_include_output_property" true
      "json_include_tags_property" true
      "json_include_output_fields_property" true
      "append_output" (list (dict "match" (dict "source" "syscall") "extra_fields" (list "k8s.pod.labels")))
      "stdout_output" (dict "enabled" .Values.outputs.stdout)
      "syslog_output" (dict "enabled" .Values.outputs.syslog)
      "http_output" (dict "enabled" .Values.outputs.http.enabled "url" .Values.outputs.http.url "user_agent" "lanner")
      "webserver" (dict "enabled" true "threadiness" 0 "listen_port" .Values.webserver.port
                        "listen_address" "0.0.0.0" "k8s_healthz_endpoint" "/healthz"
                        "prometheus_metrics_enabled" .Values.webserver.prometheusMetrics "ssl_enabled" false)
      "load_plugins" $load
      "plugins" $plugins -}}
{{- if .Values.outputs.fanout -}}
{{- $_ := set $cfg "fanout" .Values.outputs.fanout -}}
{{- end -}}
{{- toYaml (mergeOverwrite $cfg .Values.config) -}}
{{- end -}}
