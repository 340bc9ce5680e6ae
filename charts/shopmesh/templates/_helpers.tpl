{{/*
Names, labels and checks shared by every template of the ShopMesh chart.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "shopmesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: release-chart, or just the release name when it already contains
the chart name, or fullnameOverride. Truncated to 63 characters (DNS label).
*/}}
{{- define "shopmesh.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "shopmesh.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object the chart renders. */}}
{{- define "shopmesh.labels" -}}
helm.sh/chart: {{ include "shopmesh.chart" . }}
{{ include "shopmesh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: shopmesh
{{- end }}

{{/* The immutable subset of the labels: the Deployment's selector. */}}
{{- define "shopmesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shopmesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The operator's ServiceAccount: created (full name by default) or an existing one. */}}
{{- define "shopmesh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "shopmesh.fullname" .) .Values.serviceAccount.name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- .Values.serviceAccount.name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is given, else repository:tag (tag defaults to appVersion). */}}
{{- define "shopmesh.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* True (non-empty) when the operator serves the whole cluster. */}}
{{- define "shopmesh.clusterwide" -}}
{{- if not .Values.watchNamespaces }}true{{ end }}
{{- end }}

{{/* Environment variables the chart sets itself; extraEnv may not redefine them. */}}
{{- define "shopmesh.reservedEnv" -}}
{{- list "POD_ID" "SHOPMESH_PEERING" "SHOPMESH_PRIORITY" "SHOPMESH_LIVENESS" "SHOPMESH_NAMESPACES" "SHOPMESH_RESYNC_SECONDS" "SHOPMESH_KOPF_LOG_LEVEL" | toJson }}
{{- end }}

{{/*
Value combinations the schema cannot express. Every problem is collected, then
the install fails once, listing them all. Called from NOTES.txt, which helm
renders on lint, template, install and upgrade.
*/}}
{{- define "shopmesh.validateValues" -}}
{{- $errors := list }}
{{- if and (gt (int .Values.replicas) 1) (not .Values.peering.enabled) }}
{{- $errors = append $errors (printf "replicas=%d with peering.enabled=false: every replica would reconcile every Microservice and they would fight. Enable peering (one replica is active, the others paused) or set replicas=1." (int .Values.replicas)) }}
{{- end }}
{{- if and .Values.peering.enabled (gt (int .Values.replicas) 1) (not (kindIs "invalid" .Values.peering.priority)) }}
{{- $errors = append $errors (printf "replicas=%d with peering.priority=%d: every replica would share that priority, and kopf pauses all live peers that share one, so none would work. Leave peering.priority unset (each replica picks its own) or set replicas=1." (int .Values.replicas) (int .Values.peering.priority)) }}
{{- end }}
{{- if .Values.peering.enabled }}
{{- range .Values.watchNamespaces }}
{{- if regexMatch "[*?\\[\\]!]" . }}
{{- $errors = append $errors (printf "watchNamespaces entry %q is a pattern, but with peering.enabled=true kopf needs a KopfPeering object in every served namespace, which the chart can only create for exact names. List exact namespaces, or disable peering (and set replicas=1)." .) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (not .Values.serviceAccount.create) (not .Values.serviceAccount.name) }}
{{- $errors = append $errors "serviceAccount.create=false needs serviceAccount.name: without it the operator's ClusterRole would be bound to the namespace's \"default\" ServiceAccount, which every other pod there uses." }}
{{- end }}
{{- $reserved := include "shopmesh.reservedEnv" . | fromJsonArray }}
{{- range .Values.extraEnv }}
{{- if has .name $reserved }}
{{- $errors = append $errors (printf "extraEnv sets %s, which the chart sets from values; use the matching value instead." .name) }}
{{- end }}
{{- end }}
{{- $chartLabels := include "shopmesh.labels" . | fromYaml }}
{{- range $key, $_ := .Values.podLabels }}
{{- if hasKey $chartLabels $key }}
{{- $errors = append $errors (printf "podLabels sets %s, which the chart sets itself (the Deployment's selector depends on these labels)." $key) }}
{{- end }}
{{- end }}
{{- if $errors }}
{{- fail (printf "\n\nVALUES VALIDATION:\n  - %s\n" (join "\n  - " $errors)) }}
{{- end }}
{{- end }}
