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

sh "$stage/preload-images" "$stage/images" >"$bundle/images"
cat "$bundle/images"
