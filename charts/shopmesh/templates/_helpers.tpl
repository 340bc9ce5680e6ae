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
{{- if .Values.shop.enabled }}
{{- $errors = concat $errors (include "shopmesh.shopProblems" . | fromJsonArray) }}
{{- end }}
{{- if $errors }}
{{- fail (printf "\n\nVALUES VALIDATION:\n  - %s\n" (join "\n  - " $errors)) }}
{{- end }}
{{- end }}

{{/* --- the shop ----------------------------------------------------------------------- */}}

{{/* topology.yaml: the shop's services, who calls whom, their sizes (as a YAML string). */}}
{{- define "shopmesh.topology" -}}
{{- .Files.Get "topology.yaml" }}
{{- end }}

{{/* Labels of a shop object; call with (dict "root" $ "name" <service>). */}}
{{- define "shopmesh.shopLabels" -}}
helm.sh/chart: {{ include "shopmesh.chart" .root }}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/component: shop
app.kubernetes.io/part-of: shopmesh
{{- end }}

{{/* The pod labels the operator selects a Microservice's pods by (render/metadata.py
build_selector_labels), plus its managed-by label; call with the service name. */}}
{{- define "shopmesh.operatorSelectorLabels" -}}
app.kubernetes.io/name: {{ . }}
app.kubernetes.io/instance: {{ . }}
app.kubernetes.io/managed-by: shopmesh-operator
{{- end }}

{{/* <shop.image.repository>/<service>:<tag>; call with (dict "root" $ "name" <service>). */}}
{{- define "shopmesh.shopImage" -}}
{{- $image := .root.Values.shop.image }}
{{- printf "%s/%s:%s" $image.repository .name (default .root.Chart.AppVersion $image.tag) }}
{{- end }}

{{/* The Secret with postgres-url, redis-url and amqp-url. */}}
{{- define "shopmesh.infraSecretName" -}}
{{- default (printf "%s-infra" (include "shopmesh.fullname" . | trunc 57 | trimSuffix "-")) .Values.infra.external.existingSecret }}
{{- end }}

{{/* A bundled server's Deployment and Service name (infra.mode=bundled); call with
(dict "root" $ "name" <server>). */}}
{{- define "shopmesh.bundledName" -}}
{{- printf "%s-%s" (include "shopmesh.fullname" .root | trunc 54 | trimSuffix "-") .name }}
{{- end }}

{{/* A bundled server's labels and selector; call with (dict "root" $ "name" <server>). */}}
{{- define "shopmesh.bundledLabels" -}}
{{ include "shopmesh.bundledSelectorLabels" . }}
helm.sh/chart: {{ include "shopmesh.chart" .root }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: shopmesh
{{- end }}
{{- define "shopmesh.bundledSelectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: infra
{{- end }}

{{/* The Secret with service-token-secret. */}}
{{- define "shopmesh.serviceTokenSecretName" -}}
{{- default (printf "%s-service-token" (include "shopmesh.fullname" . | trunc 49 | trimSuffix "-")) .Values.shop.serviceTokens.existingSecret }}
{{- end }}

{{/* A service's port (its Service's and container's); call with (dict "topology" <topology> "name" <service>). */}}
{{- define "shopmesh.servicePort" -}}
{{- dig "spec" "port" .topology.defaults.spec.port (get .topology.services .name) | int }}
{{- end }}

{{/* The NodePort Service in front of the edge service's pods. */}}
{{- define "shopmesh.nodePortName" -}}
{{- printf "%s-%s-nodeport" (include "shopmesh.fullname" . | trunc 46 | trimSuffix "-") (include "shopmesh.edgeService" .) }}
{{- end }}

{{/* The edge service of the topology (public routes): what the NodePort Service fronts. */}}
{{- define "shopmesh.edgeService" -}}
{{- range $name, $service := (include "shopmesh.topology" . | fromYaml).services }}
{{- if $service.edge }}{{ $name }}{{ end }}
{{- end }}
{{- end }}

{{/* The shop services that call one (from the topology's upstreams), sorted, as a JSON
list; call with (dict "topology" <topology> "name" <service>). */}}
{{- define "shopmesh.shopCallers" -}}
{{- $callers := list }}
{{- range $name, $service := .topology.services }}
{{- if has $.name ($service.upstreams | default list) }}
{{- $callers = append $callers $name }}
{{- end }}
{{- end }}
{{- $callers | toJson }}
{{- end }}

{{/* A secretKeyRef variable; call with (list <variable> <secret> <key>). */}}
{{- define "shopmesh.secretEnv" -}}
- name: {{ index . 0 }}
  valueFrom:
    secretKeyRef: {name: {{ index . 1 | quote }}, key: {{ index . 2 | quote }}}
{{- end }}

{{/*
The environment the chart gives one service (without shop.services.<name>.env), as a YAML
list; call with (dict "root" $ "topology" <topology> "name" <service>). Secrets only ever
as secretKeyRef; names are what the service's Settings read (tests/chart checks them).
*/}}
{{- define "shopmesh.shopEnv" -}}
{{- $root := .root }}
{{- $topology := .topology }}
{{- $service := get $topology.services .name }}
{{- $uses := $service.uses | default list }}
{{- $external := $root.Values.infra.external }}
{{- $infraSecret := include "shopmesh.infraSecretName" $root }}
- {name: OTEL_SERVICE_NAME, value: {{ .name | quote }}}
- {name: OTEL_RESOURCE_ATTRIBUTES, value: {{ printf "service.version=%s,k8s.namespace.name=%s" (default $root.Chart.AppVersion $root.Values.shop.image.tag) $root.Release.Namespace | quote }}}
{{- with $external.otlpEndpoint }}
- {name: OTEL_EXPORTER_OTLP_ENDPOINT, value: {{ . | quote }}}
- {name: OTEL_EXPORTER_OTLP_PROTOCOL, value: http/protobuf}
{{- end }}
{{- if has "postgres" $uses }}
{{ include "shopmesh.secretEnv" (list "SHOPMESH_POSTGRES_URL" $infraSecret "postgres-url") }}
{{- end }}
{{- if has "redis" $uses }}
{{ include "shopmesh.secretEnv" (list "SHOPMESH_REDIS_URL" $infraSecret "redis-url") }}
{{- end }}
{{- if has "amqp" $uses }}
{{ include "shopmesh.secretEnv" (list "SHOPMESH_AMQP_URL" $infraSecret "amqp-url") }}
{{- end }}
{{- if has "smtp" $uses }}
{{- if eq $root.Values.infra.mode "bundled" }}
- {name: SHOPMESH_SMTP_HOST, value: {{ include "shopmesh.bundledName" (dict "root" $root "name" "smtp") | quote }}}
- {name: SHOPMESH_SMTP_PORT, value: "2525"}
{{- else }}
- {name: SHOPMESH_SMTP_HOST, value: {{ $external.smtpHost | quote }}}
- {name: SHOPMESH_SMTP_PORT, value: {{ $external.smtpPort | int | toString | quote }}}
{{- end }}
{{- end }}
{{- range $upstream := $service.upstreams | default list }}
{{- $port := include "shopmesh.servicePort" (dict "topology" $topology "name" $upstream) }}
- {name: {{ printf "SHOPMESH_%s_URL" ($upstream | upper | replace "-" "_") }}, value: {{ printf "http://%s.%s.svc.cluster.local:%s" $upstream $root.Release.Namespace $port | quote }}}
{{- end }}
{{- if $root.Values.shop.serviceTokens.enabled }}
{{ include "shopmesh.secretEnv" (list "SHOPMESH_SERVICE_TOKEN_SECRET" (include "shopmesh.serviceTokenSecretName" $root) "service-token-secret") }}
{{- end }}
{{- if $service.edge }}
- {name: SHOPMESH_REQUIRE_SERVICE_TOKEN, value: "false"}
{{- else }}
{{- $tokens := include "shopmesh.shopCallers" . | fromJsonArray }}
{{- range $key := $service.callers | default list }}
{{- with (get $topology.callers $key).token }}
{{- $tokens = append $tokens . }}
{{- end }}
{{- end }}
- {name: SHOPMESH_ALLOWED_CALLERS, value: {{ join "," $tokens | quote }}}
{{- end }}
{{- range $key, $value := $service.env | default dict }}
- {name: {{ $key }}, value: {{ $value | toString | quote }}}
{{- end }}
{{- end }}

{{/*
One Microservice's spec: the topology's defaults.spec, the service's spec over them, then
shop.services.<name> (replicas, resources and autoscaling merged, env appended), the image,
the environment and the allowed callers (its shop callers, then outside ServiceAccounts).
Call with (dict "root" $ "topology" <topology> "name" <service>).
*/}}
{{- define "shopmesh.microserviceSpec" -}}
{{- $root := .root }}
{{- $topology := .topology }}
{{- $service := get $topology.services .name }}
{{- $override := get $root.Values.shop.services .name | default dict }}
{{- $spec := mustMergeOverwrite (deepCopy $topology.defaults.spec) (deepCopy ($service.spec | default dict)) }}
{{- /* exactly one of minAvailable and maxUnavailable: the service's replaces the default */}}
{{- with ($service.spec | default dict).disruption }}
{{- $_ := set $spec "disruption" (deepCopy .) }}
{{- end }}
{{- if hasKey $override "replicas" }}
{{- $_ := set $spec "replicas" $override.replicas }}
{{- end }}
{{- with $override.resources }}
{{- $_ := set $spec "resources" (mustMergeOverwrite (deepCopy ($spec.resources | default dict)) (deepCopy .)) }}
{{- end }}
{{- if hasKey $override "autoscaling" }}
{{- if kindIs "bool" $override.autoscaling }}
{{- $_ := unset $spec "autoscaling" }}
{{- else }}
{{- $_ := set $spec "autoscaling" (mustMergeOverwrite (deepCopy ($spec.autoscaling | default dict)) (deepCopy $override.autoscaling)) }}
{{- end }}
{{- end }}
{{- $callers := include "shopmesh.shopCallers" . | fromJsonArray }}
{{- range $key := $service.callers | default list }}
{{- $callers = append $callers (get $topology.callers $key).serviceAccount }}
{{- end }}
{{- $_ := set $spec.mesh "allowedCallers" $callers }}
{{- $_ := set $spec "env" (concat (include "shopmesh.shopEnv" . | fromYamlArray) ($override.env | default list)) -}}
image: {{ include "shopmesh.shopImage" (dict "root" $root "name" .name) | quote }}
{{ toYaml $spec }}
{{- end }}

{{/* What is wrong with the shop's values, as a JSON list of messages (validateValues). */}}
{{- define "shopmesh.shopProblems" -}}
{{- $errors := list }}
{{- $topology := include "shopmesh.topology" . | fromYaml }}
{{- if eq .Values.infra.mode "bundled" }}
{{- if .Values.infra.external.existingSecret }}
{{- $errors = append $errors "infra.external.existingSecret is set with infra.mode=bundled: the bundled servers' URLs and passwords are the chart's own Secret. Unset it, or use infra.mode=external." }}
{{- end }}
{{- else }}
{{- $external := .Values.infra.external }}
{{- if not $external.existingSecret }}
{{- range $key := list "postgresUrl" "redisUrl" "amqpUrl" }}
{{- if not (get $external $key) }}
{{- $errors = append $errors (printf "infra.external.%s is empty: the shop needs it (or infra.external.existingSecret, a Secret with keys postgres-url, redis-url and amqp-url)." $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- if not $external.smtpHost }}
{{- $errors = append $errors "infra.external.smtpHost is empty: notifications sends its email there." }}
{{- end }}
{{- end }}
{{- if and .Values.watchNamespaces (not (has .Release.Namespace .Values.watchNamespaces)) }}
{{- $errors = append $errors (printf "shop.enabled=true installs the shop's Microservices into %s, which watchNamespaces (%s) leaves out: no operator would serve them. Add %s to watchNamespaces." .Release.Namespace (join ", " .Values.watchNamespaces) .Release.Namespace) }}
{{- end }}
{{- range $name, $override := .Values.shop.services }}
{{- if not (hasKey $topology.services $name) }}
{{- $errors = append $errors (printf "shop.services.%s: no such service in topology.yaml (%s)." $name (keys $topology.services | sortAlpha | join ", ")) }}
{{- else }}
{{- $args := dict "root" $ "topology" $topology "name" $name }}
{{- $chartEnv := list }}
{{- range include "shopmesh.shopEnv" $args | fromYamlArray }}
{{- $chartEnv = append $chartEnv .name }}
{{- end }}
{{- range $override.env | default list }}
{{- if has .name $chartEnv }}
{{- $errors = append $errors (printf "shop.services.%s.env sets %s, which the chart sets from the topology and infra values." $name .name) }}
{{- end }}
{{- end }}
{{- $spec := include "shopmesh.microserviceSpec" $args | fromYaml }}
{{- with $spec.autoscaling }}
{{- $min := int (.minReplicas | default 1) }}
{{- if gt $min (int .maxReplicas) }}
{{- $errors = append $errors (printf "shop.services.%s.autoscaling: minReplicas %d exceeds maxReplicas %d." $name $min (int .maxReplicas)) }}
{{- else if or (lt (int $spec.replicas) $min) (gt (int $spec.replicas) (int .maxReplicas)) }}
{{- $errors = append $errors (printf "shop.services.%s: replicas %d is outside autoscaling's %d..%d; change one, or set autoscaling: false." $name (int $spec.replicas) $min (int .maxReplicas)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- $errors | toJson }}
{{- end }}
