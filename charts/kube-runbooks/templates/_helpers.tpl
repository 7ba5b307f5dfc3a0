{{/* The release's name prefix for every object (truncated to fit a CronJob's 52 characters with a suffix). */}}
{{- define "kube-runbooks.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 30 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 30 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kube-runbooks.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The three jobs: values key, object name suffix, the CLI words it runs. */}}
{{- define "kube-runbooks.jobs" -}}
etcdBackup: etcd-backup
resourceBackup: resource-backup
gate: gate
{{- end -}}

{{- define "kube-runbooks.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "kube-runbooks.claimName" -}}
{{- .Values.storage.pvc.existingClaim | default (printf "%s-backups" (include "kube-runbooks.fullname" .)) -}}
{{- end -}}
