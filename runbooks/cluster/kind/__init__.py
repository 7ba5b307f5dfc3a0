"""The kind provider: real nodes (containers running systemd, containerd and a kubelet) on a local Docker engine."""
