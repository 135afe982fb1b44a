{{/*
Names and labels shared by every template. Names that other parts of the product depend on
are fixed here, not in values: the product label app.kubernetes.io/name (the receivers, the
admission policy and the NetworkPolicy select by it) and the WAL CA's ClusterIssuer, which
the plugin names in every Certificate it asks for (src/cnpg_wal_replica/reading.py).
*/}}

{{- define "cnpg-wal-replica.name" -}}
cnpg-wal-replica
{{- end }}

{{/* The release's object names: deploy/'s names for a release called cnpg-wal-replica. */}}
{{- define "cnpg-wal-replica.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "cnpg-wal-replica.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "cnpg-wal-replica.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "cnpg-wal-replica.walCA" -}}
cnpg-wal-replica-wal-ca
{{- end }}

{{- define "cnpg-wal-replica.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* A list of strings as a CEL list literal (values.schema.json keeps quotes out of them). */}}
{{- define "cnpg-wal-replica.celList" -}}
[{{ range $i, $item := . }}{{ if $i }}, {{ end }}'{{ $item }}'{{ end }}]
{{- end }}

{{/* The plugin's own user name, as the admission policies compare it. */}}
{{- define "cnpg-wal-replica.user" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "cnpg-wal-replica.fullname" .) }}
{{- end }}

{{/* Selector labels of the plugin server's pods (as deploy/: immutable once installed). */}}
{{- define "cnpg-wal-replica.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cnpg-wal-replica.name" . }}
app.kubernetes.io/component: plugin-server
{{- end }}

{{/*
metadata.labels of an object: the product's own (deploy/'s: name, part-of, and a component
when given), Helm's standard four, then commonLabels, which never override the others.
Call with (dict "root" $ "component" "plugin-server") or (dict "root" $).
*/}}
{{- define "cnpg-wal-replica.labels" -}}
{{- $root := .root }}
{{- $labels := dict
    "app.kubernetes.io/name" (include "cnpg-wal-replica.name" $root)
    "app.kubernetes.io/part-of" "cnpg-wal-replica"
    "app.kubernetes.io/instance" $root.Release.Name
    "app.kubernetes.io/managed-by" $root.Release.Service
    "app.kubernetes.io/version" $root.Chart.AppVersion
    "helm.sh/chart" (printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_")
}}
{{- with .component }}
{{- $_ := set $labels "app.kubernetes.io/component" . }}
{{- end }}
{{- with .extra }}
{{- $labels = merge $labels . }}
{{- end }}
{{- toYaml (merge $labels $root.Values.commonLabels) }}
{{- end }}

{{/* metadata.annotations of an object: its own (argument "own"), then commonAnnotations. */}}
{{- define "cnpg-wal-replica.annotations" -}}
{{- $annotations := merge (deepCopy (.own | default dict)) .root.Values.commonAnnotations }}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The metadata block of an object: name, namespace unless cluster-scoped, labels, annotations. */}}
{{- define "cnpg-wal-replica.metadata" -}}
metadata:
  name: {{ .name }}
  {{- if not .clusterScoped }}
  namespace: {{ .namespace | default .root.Release.Namespace }}
  {{- end }}
  labels:
    {{- include "cnpg-wal-replica.labels" . | nindent 4 }}
  {{- with include "cnpg-wal-replica.annotations" . }}
  {{- . | trim | nindent 2 }}
  {{- end }}
{{- end }}
