"""The bottom Kubernetes/CLI seam: running commands, exec in a pod, raw API requests and image-tag parsing."""
