{{/* The agent's pod template, shared by the DaemonSet and the Deployment (controller.kind). */}}
{{- define "lanner.securityContext" -}}
{{- $sc := dict -}}
{{- if .Values.driver.privileged -}}
{{- $sc = dict "privileged" true -}}
{{- else -}}
{{- $sc = dict "privileged" false "runAsUser" 0 "readOnlyRootFilesystem" true "allowPrivilegeEscalation" false
      "capabilities" (dict "drop" (list "ALL") "add" .Values.driver.capabilities)
      "seccompProfile" (dict "type" .Values.driver.seccompProfile) -}}
{{- end -}}
{{- toYaml (mergeOverwrite $sc (deepCopy .Values.containerSecurityContext)) -}}
{{- end -}}

{{- define "lanner.probe" -}}
httpGet:
  path: /healthz
  port: http
{{ toYaml . }}
{{- end -}}

{{- define "lanner.podTemplate" -}}
{{- $driver := ne (include "lanner.engineKind" .) "nodriver" -}}
{{- $sockets := (include "lanner.sockets" . | fromYaml).sockets -}}
metadata:
  labels:
    {{- include "lanner.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Roll the pods when the configuration or rules change.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- if include "lanner.sidekickOn" . }}
    checksum/falcosidekick: {{ include "lanner.sidekickEnv" . | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "lanner.serviceAccountName" . }}
  {{- if $driver }}
  hostPID: true
  {{- end }}
  {{- with .Values.podHostname }}
  hostname: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: 30
  {{- with (.Values.podPriorityClassName | default .Values.priorityClassName) }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.extra.initContainers }}
  initContainers:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: lanner
      image: {{ include "lanner.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      {{- if .Values.tty }}
      tty: true
      {{- end }}
      args:
        - --pidfile=/run/lanner.pid
        {{- if not .Values.rules.builtin }}
        - -o
        - rules_files=/etc/lanner/rules.d
        {{- end }}
        {{- with .Values.extra.args }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      env:
        - name: HOST_ROOT
          value: /host
        {{- if .Values.falcoHostnameEnv }}
        - name: FALCO_HOSTNAME
          valueFrom:
            fieldRef:
              fieldPath: spec.nodeName
        {{- end }}
        {{- with .Values.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with .Values.extra.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- if include "lanner.sidekickOn" . }}
        {{- with .Values.falcosidekick.config.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- end }}
      {{- $sk := include "lanner.sidekickOn" . }}
      {{- if or .Values.envFrom $sk }}
      envFrom:
        {{- with .Values.envFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- if $sk }}
        - secretRef:
            name: {{ include "lanner.fullname" . }}-falcosidekick
        {{- with .Values.falcosidekick.config.existingSecret }}
        - secretRef:
            name: {{ . }}
        {{- end }}
        {{- end }}
      {{- end }}
      ports:
        - name: http
          containerPort: {{ include "lanner.webPort" . }}
          protocol: TCP
        {{- if .Values.auditWebhook.enabled }}
        - name: audit-webhook
          containerPort: {{ .Values.auditWebhook.port }}
          protocol: TCP
        {{- end }}
      startupProbe:
        {{- include "lanner.probe" .Values.healthChecks.startupProbe | nindent 8 }}
      livenessProbe:
        {{- include "lanner.probe" .Values.healthChecks.livenessProbe | nindent 8 }}
      readinessProbe:
        {{- include "lanner.probe" .Values.healthChecks.readinessProbe | nindent 8 }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- include "lanner.securityContext" . | nindent 8 }}
      volumeMounts:
        - name: proc
          mountPath: /host/proc
          readOnly: true
        - name: etc
          mountPath: /host/etc
          readOnly: true
        {{- if $driver }}
        - name: tracefs
          mountPath: /sys/kernel/tracing
          readOnly: true
        {{- end }}
        {{- range $i, $s := $sockets }}
        - name: socket-{{ $i }}
          mountPath: /host{{ $s }}
        {{- end }}
        - name: config
          mountPath: /etc/lanner/config.d
          readOnly: true
        - name: rules
          mountPath: /etc/lanner/rules.d
          readOnly: true
        - name: run
          mountPath: /run
        - name: tmp
          mountPath: /tmp
        {{- with .Values.mounts.volumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: proc
      hostPath:
        path: /proc
    - name: etc
      hostPath:
        path: /etc
    {{- if $driver }}
    - name: tracefs
      hostPath:
        path: /sys/kernel/tracing
    {{- end }}
    {{- range $i, $s := $sockets }}
    - name: socket-{{ $i }}
      hostPath:
        path: {{ $s }}
    {{- end }}
    - name: config
      configMap:
        name: {{ include "lanner.fullname" . }}-config
    - name: rules
      configMap:
        name: {{ include "lanner.fullname" . }}-rules
    - name: run
      emptyDir: {}
    - name: tmp
      emptyDir: {}
    {{- with .Values.mounts.volumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}
