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

{{- define "lanner.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride -}}
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

{{- define "lanner.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository -}}
{{- end -}}
{{- printf "%s:%s" $repo (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The port the webserver listens on: falco.webserver.listen_port when given, else webserver.port. */}}
{{- define "lanner.webPort" -}}
{{- $web := .Values.falco.webserver | default dict -}}
{{- $web.listen_port | default .Values.webserver.port -}}
{{- end -}}

{{/* "true" when /metrics is on: Falco's metrics.enabled or lanner's webserver.prometheusMetrics. */}}
{{- define "lanner.metricsOn" -}}
{{- if or .Values.metrics.enabled .Values.webserver.prometheusMetrics -}}true{{- end -}}
{{- end -}}

{{/*
engine.kind from Falco's driver values. lanner has one driver, the CO-RE eBPF probe (Falco's
modern_ebpf). auto picks it as Falco's auto picks modern_ebpf first; kmod/module are mapped onto it
(NOTES.txt warns); ebpf and gvisor are refused, as Falco's chart 9 refuses them.
*/}}
{{- define "lanner.engineKind" -}}
{{- if not .Values.driver.enabled -}}
nodriver
{{- else if has .Values.driver.kind (list "auto" "modern_ebpf" "modern-bpf" "kmod" "module") -}}
modern_ebpf
{{- else if has .Values.driver.kind (list "ebpf" "gvisor") -}}
{{- fail (printf "driver.kind=%s is not supported: lanner's only driver is its CO-RE eBPF probe (Falco's modern_ebpf); use driver.kind=auto or modern_ebpf (Falco's chart 9 removed %s too)" .Values.driver.kind .Values.driver.kind) -}}
{{- else if eq .Values.driver.kind "nodriver" -}}
nodriver
{{- else -}}
{{- fail (printf "unsupported driver kind: %q. Supported: auto, modern_ebpf, kmod (runs lanner's eBPF probe), aliases modern-bpf, module; or driver.enabled=false" .Values.driver.kind) -}}
{{- end -}}
{{- end -}}

{{- define "lanner.kmodMapped" -}}
{{- if and .Values.driver.enabled (has .Values.driver.kind (list "kmod" "module")) -}}true{{- end -}}
{{- end -}}

{{/*
The container plugin's engines: Falco's collectors.containerEngine.engines with lanner's older
containerEngines over them. Sockets are node paths; the agent sees them under /host.
*/}}
{{- define "lanner.engines" -}}
{{- $engines := deepCopy .Values.collectors.containerEngine.engines -}}
{{- range $name, $e := .Values.containerEngines -}}
{{- $target := ternary "cri" $name (eq $name "crio") -}}
{{- $cur := get $engines $target | default dict -}}
{{- $new := dict "enabled" (ternary $e.enabled true (hasKey $e "enabled")) -}}
{{- if $e.socket -}}
{{- $_ := set $new "sockets" (list $e.socket) -}}
{{- else -}}
{{- $_ := set $new "sockets" ($cur.sockets | default list) -}}
{{- end -}}
{{- $_ := set $engines $target $new -}}
{{- end -}}
{{- toYaml $engines -}}
{{- end -}}

{{/* Node socket paths the agent mounts: every socket of every enabled engine, once. */}}
{{- define "lanner.sockets" -}}
{{- $socks := list -}}
{{- if and .Values.collectors.enabled .Values.collectors.containerEngine.enabled -}}
{{- range $name, $e := (include "lanner.engines" . | fromYaml) -}}
{{- if and $e.enabled $e.sockets -}}
{{- $socks = concat $socks $e.sockets -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "sockets" ($socks | uniq | sortAlpha)) -}}
{{- end -}}

{{/*
falcosidekick.config as environment variables, the way falcosidekick's own chart passes its config
(SECTION_OPTION, upper case: SLACK_WEBHOOKURL, AWS_SQS_URL, CUSTOMFIELDS="a:b,c:d"); lanner's fan-out
reads them as sidekick does. Chart-only keys (existingSecret, extraEnv, extraArgs) are not settings.
*/}}
{{- define "lanner.sidekickEnv" -}}
{{- $env := dict -}}
{{- $skip := list "existingsecret" "extraenv" "extraargs" -}}
{{- range $k1, $v1 := (.Values.falcosidekick.config | default dict) -}}
{{- if not (has (lower $k1) $skip) -}}
{{- if kindIs "map" $v1 -}}
{{- range $k2, $v2 := $v1 -}}
{{- if kindIs "map" $v2 -}}
{{- range $k3, $v3 := $v2 -}}
{{- $_ := set $env (upper (printf "%s_%s_%s" $k1 $k2 $k3)) (include "lanner.envValue" $v3) -}}
{{- end -}}
{{- else -}}
{{- $_ := set $env (upper (printf "%s_%s" $k1 $k2)) (include "lanner.envValue" $v2) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- $_ := set $env (upper $k1) (include "lanner.envValue" $v1) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}

{{- define "lanner.envValue" -}}
{{- if kindIs "slice" . -}}{{- join "," . -}}
{{- else if kindIs "map" . -}}{{- toJson . -}}
{{- else if kindIs "invalid" . -}}
{{- else -}}{{- toString . -}}{{- end -}}
{{- end -}}

{{- define "lanner.sidekickOn" -}}
{{- if .Values.falcosidekick.enabled -}}true{{- end -}}
{{- end -}}

{{/*
The config.d file: what differs from the image's /etc/lanner/lanner.yaml (falco.yaml layout).
Built in this order: the chart's Kubernetes settings, then falco: (Falco chart users' falco.yaml keys),
then metrics.enabled, then lanner's config:.
*/}}
{{- define "lanner.config" -}}
{{- $kind := include "lanner.engineKind" . -}}
{{- $engine := dict "kind" $kind -}}
{{- if eq $kind "modern_ebpf" -}}
{{- $src := ternary .Values.driver.kmod .Values.driver.modernEbpf (eq (include "lanner.kmodMapped" .) "true") -}}
{{- $_ := set $engine "modern_ebpf" (dict "buf_size_preset" $src.bufSizePreset "drop_failed_exit" $src.dropFailedExit
      "cpus_for_each_buffer" .Values.driver.modernEbpf.cpusForEachBuffer) -}}
{{- end -}}
{{- $plugins := list -}}
{{- $load := list -}}
{{- if and .Values.collectors.enabled .Values.collectors.containerEngine.enabled -}}
{{- $engines := dict -}}
{{- range $name, $e := (include "lanner.engines" . | fromYaml) -}}
{{- $socks := list -}}
{{- range $s := ($e.sockets | default list) -}}{{- $socks = append $socks (printf "/host%s" $s) -}}{{- end -}}
{{- $_ := set $engines $name (dict "enabled" ($e.enabled | default false) "sockets" $socks) -}}
{{- end -}}
{{- $init := dict "engines" $engines "label_max_len" .Values.collectors.containerEngine.labelMaxLen -}}
{{- $plugins = append $plugins (dict "name" "container" "library_path" "libcontainer.so" "init_config" $init) -}}
{{- $load = append $load "container" -}}
{{- end -}}
{{- if .Values.auditWebhook.enabled -}}
{{- $audit := dict "name" "k8saudit" "library_path" "libk8saudit.so"
      "init_config" (dict "maxEventSize" .Values.auditWebhook.maxEventSize "webhookMaxBatchSize" .Values.auditWebhook.maxBatchSize)
      "open_params" (printf "http://:%v%s" .Values.auditWebhook.port .Values.auditWebhook.path) -}}
{{- $plugins = append $plugins $audit -}}
{{- $plugins = append $plugins (dict "name" "json" "library_path" "libjson.so") -}}
{{- $load = concat $load (list "k8saudit" "json") -}}
{{- end -}}
{{- $port := include "lanner.webPort" . | int -}}
{{- $cfg := dict
      "engine" (deepCopy $engine)
      "priority" .Values.outputs.priority
      "json_output" .Values.outputs.json
      "json_include_output_property" true
      "json_include_tags_property" true
      "json_include_output_fields_property" true
      "append_output" (list (dict "match" (dict "source" "syscall") "extra_fields" (list "k8s.pod.labels")))
      "stdout_output" (dict "enabled" .Values.outputs.stdout)
      "syslog_output" (dict "enabled" .Values.outputs.syslog)
      "http_output" (dict "enabled" .Values.outputs.http.enabled "url" .Values.outputs.http.url "user_agent" "lanner")
      "webserver" (dict "enabled" true "threadiness" 0 "listen_port" $port
                        "listen_address" "0.0.0.0" "k8s_healthz_endpoint" "/healthz"
                        "prometheus_metrics_enabled" false "ssl_enabled" false) -}}
{{- /* Falco chart users' falco: keys. Falco's default paths under /etc/falco are the image's own; its
     k8s audit rules are in the image's rules.available. */ -}}
{{- $falco := deepCopy (.Values.falco | default dict) -}}
{{- $falcoDefaults := list "/etc/falco/falco_rules.yaml" "/etc/falco/falco_rules.local.yaml" "/etc/falco/rules.d" "/etc/falco/config.d" -}}
{{- range $key := list "rules_files" "config_files" -}}
{{- if hasKey $falco $key -}}
{{- $keep := list -}}
{{- range $p := (get $falco $key | default list) -}}
{{- if eq $p "/etc/falco/k8s_audit_rules.yaml" -}}
{{- $keep = append $keep "/etc/lanner/rules.available/k8s_audit_rules.yaml" -}}
{{- else if not (has $p $falcoDefaults) -}}
{{- $keep = append $keep $p -}}
{{- end -}}
{{- end -}}
{{- if $keep -}}{{- $_ := set $falco $key $keep -}}{{- else -}}{{- $_ := unset $falco $key -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- range $p := ($falco.plugins | default list) -}}
{{- $kept := list -}}
{{- range $mine := $plugins -}}
{{- if ne $mine.name $p.name -}}{{- $kept = append $kept $mine -}}{{- end -}}
{{- end -}}
{{- $plugins = append $kept $p -}}
{{- end -}}
{{- $load = concat $load ($falco.load_plugins | default list) | uniq -}}
{{- $_ := unset $falco "plugins" -}}
{{- $_ := unset $falco "load_plugins" -}}
{{- $cfg = mergeOverwrite $cfg $falco -}}
{{- /* driver.* decides the engine, over falco.engine, as in Falco's chart */ -}}
{{- $_ := set $cfg "engine" $engine -}}
{{- if $load -}}
{{- $_ := set $cfg "load_plugins" $load -}}
{{- $_ := set $cfg "plugins" $plugins -}}
{{- end -}}
{{- if include "lanner.metricsOn" . -}}
{{- $m := .Values.metrics -}}
{{- $metrics := dict "enabled" true "interval" $m.interval "output_rule" $m.outputRule
      "rules_counters_enabled" $m.rulesCountersEnabled "resource_utilization_enabled" $m.resourceUtilizationEnabled
      "state_counters_enabled" $m.stateCountersEnabled "kernel_event_counters_enabled" $m.kernelEventCountersEnabled
      "kernel_event_counters_per_cpu_enabled" $m.kernelEventCountersPerCPUEnabled
      "libbpf_stats_enabled" $m.libbpfStatsEnabled "plugins_metrics_enabled" $m.pluginsMetricsEnabled
      "kernel_iter_event_counters_enabled" $m.kernelIterEventCountersEnabled
      "jemalloc_stats_enabled" $m.jemallocStatsEnabled "convert_memory_to_mb" $m.convertMemoryToMB
      "include_empty_values" $m.includeEmptyValues -}}
{{- $_ := set $cfg "metrics" (mergeOverwrite (get $cfg "metrics" | default dict) $metrics) -}}
{{- $_ := set $cfg.webserver "prometheus_metrics_enabled" true -}}
{{- end -}}
{{- if .Values.outputs.fanout -}}
{{- $_ := set $cfg "fanout" .Values.outputs.fanout -}}
{{- end -}}
{{- if include "lanner.sidekickOn" . -}}
{{- /* An empty sidekick document: its settings are the environment, as in falcosidekick's chart. */ -}}
{{- $_ := set $cfg "falcosidekick_config" "/dev/null" -}}
{{- end -}}
{{- toYaml (mergeOverwrite $cfg .Values.config) -}}
{{- end -}}
