#!/bin/sh
# Runs once inside the base rootfs while the node image is built: lays out kind's expectations,
# installs and holds kubeadm, kubelet and kubectl from the node's own apt repository as an operator
# would, and preloads the component images into containerd's k8s.io namespace (preload-images).
set -eu
stage=/stage
install -m 0755 "$stage/entrypoint" /usr/local/bin/entrypoint
# Every pinned minor's repository, at pkgs.k8s.io's path; the node's sources name its own minor's.
# Debian's mirror is not reachable from the kind network: without its line `apt-get update` works offline.
mkdir -p /srv
cp -R "$stage/pkgs.k8s.io" /srv/pkgs.k8s.io
rm -f /etc/apt/sources.list
rm -rf /var/lib/apt/lists/*
install -m 0644 "$stage/kubernetes.list" /etc/apt/sources.list.d/kubernetes.list
version=$(cat "$stage/package-version")
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "kubelet=$version" "kubeadm=$version" "kubectl=$version" >/dev/null
apt-mark hold kubelet kubeadm kubectl
# debootstrap's .debs stay in apt's cache; the node never needs them again.
apt-get clean
mkdir -p /etc/containerd /kind/manifests /etc/cni/net.d /etc/kubernetes/manifests /var/lib/kubelet
install -m 0644 "$stage/containerd.toml" /etc/containerd/config.toml
install -m 0644 "$stage/default-storage.yaml" /kind/manifests/default-storage.yaml
cp "$stage/version" /kind/version
systemctl enable containerd.service >/dev/null 2>&1
systemctl set-default multi-user.target >/dev/null 2>&1
# Units that have nothing to do in a container and would only slow the boot or fail.
systemctl mask getty.target console-getty.service systemd-udevd.service systemd-udev-trigger.service \
  systemd-modules-load.service systemd-remount-fs.service systemd-networkd-wait-online.service >/dev/null 2>&1
: >/etc/machine-id

sh "$stage/preload-images" "$stage/images"
