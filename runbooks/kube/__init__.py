"""The bottom Kubernetes/CLI seam: the only place that builds ApiClients and typed API handles
(session), the request chain every API request passes (transport: dry run, audit, a fake API for
tests), raw requests, the list-and-watch loop, object primitives, kubectl argv, etcd access, exec in a
pod, running commands and image-tag parsing."""
