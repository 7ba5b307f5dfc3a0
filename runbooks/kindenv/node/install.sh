#!/bin/sh
# Runs once inside the base rootfs while the node image is built: lays out kind's expectations
# and preloads the component images into containerd's k8s.io namespace (preload-images).
set -eu
stage=/stage
install -m 0755 "$stage/entrypoint" /usr/local/bin/entrypoint
for binary in kubelet kubeadm kubectl; do install -m 0755 "$stage/bin/$binary" "/usr/bin/$binary"; done
install -m 0644 "$stage/kubelet.service" /etc/systemd/system/kubelet.service
mkdir -p /etc/containerd /kind/manifests /etc/cni/net.d /etc/kubernetes/manifests /var/lib/kubelet
install -m 0644 "$stage/containerd.toml" /etc/containerd/config.toml
install -m 0644 "$stage/default-storage.yaml" /kind/manifests/default-storage.yaml
cp "$stage/version" /kind/version
systemctl enable containerd.service kubelet.service >/dev/null 2>&1
systemctl set-default multi-user.target >/dev/null 2>&1
# Units that have nothing to do in a container and would only slow the boot or fail.
systemctl mask getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
  systemd-modules-load.service systemd-remount-fs.service systemd-networkd-wait-online.service >/dev/null 2>&1
: >/etc/machine-id

sh "$stage/preload-images" "$stage/images"
