#!/bin/sh
# Runs once inside the source node image while its upgrade variant is built: the target version's
# kubeadm, kubelet and kubectl under /kind/upgrade/<version>/ (the node's own stay as they are until
# the upgrade installs these), and the target's images preloaded into containerd's k8s.io namespace.
set -eu
stage=/stage
version=$(cat "$stage/version")
bundle=/kind/upgrade/$version
mkdir -p "$bundle"
for binary in kubeadm kubelet kubectl; do install -m 0755 "$stage/bin/$binary" "$bundle/$binary"; done
cp "$stage/version" "$bundle/version"

containerd --config /etc/containerd/config.toml >/tmp/containerd.log 2>&1 &
containerd_pid=$!
tries=0
until ctr version >/dev/null 2>&1; do
  tries=$((tries + 1)); [ "$tries" -lt 120 ] || { cat /tmp/containerd.log; exit 1; }; sleep 0.5
done
for archive in "$stage"/images/*.tar; do
  ctr -n k8s.io images import --no-unpack "$archive" >/dev/null
done
ctr -n k8s.io images ls -q >"$bundle/images"
cat "$bundle/images"
kill "$containerd_pid"; wait "$containerd_pid" || true
rm -rf /tmp/* /var/lib/containerd/io.containerd.runtime.v2.task /run/containerd
