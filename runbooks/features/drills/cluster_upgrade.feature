@upgrade @destructive
Feature: Upgrade the cluster one minor version: control plane first, then node by node
  kube-apiserver must be the newest component, so it goes first, then kube-controller-manager and
  kube-scheduler; the kubelets follow, one node at a time: drain it, upgrade its kubelet and
  kube-proxy, uncordon it. One minor at a time, never skipping one, with an etcd snapshot taken
  before anything changes and the version skew policy checked after every step.
  On kind this is kubeadm's procedure, run on the nodes: `kubeadm upgrade plan` and `kubeadm upgrade
  apply` on the control plane, `kubeadm upgrade node` on each drained worker, the new kubelet restarted
  (every command is in the report). On the local cluster the control plane runs the real newer
  binaries; the kubelets are kwok's, so "upgrading" one means its node reports the new kubelet and
  kube-proxy versions (the report says so).

  Versions are named by their place among the pins (runbooks/toolchain/pins.toml): the cluster starts
  at the older pinned version and moves to the newer one.

  Background:
    Given a fresh local cluster of its own

  Scenario: Upgrade from the older pin to the newer without losing availability
    Given a deployment "web" with 6 replicas guarded by a disruption budget of at least 5 available
    When I plan the upgrade to the newer pinned version
    Then the plan has one hop, from the older pinned version to the newer pinned version, starting with an etcd snapshot
    And the cluster is within the version skew policy
    When I save an etcd snapshot before the upgrade
    And I run the pre-upgrade gate for the newer pinned version
    Then every gate check passes
    When I start watching the availability of "web" with a budget of 5
    And I upgrade the control plane to the newer pinned version, checking the skew after each component
    Then kube-apiserver reports the newer pinned version through /version
    When I drain, upgrade and uncordon every node in turn, checking the skew after each
    Then every component runs the newer pinned version
    And the cluster is within the version skew policy
    And "web" never had fewer than 5 available replicas during the upgrade

  Scenario: A request to skip a minor is refused before anything changes
    When I ask to upgrade the control plane to one minor past the newer pin
    Then the upgrade is refused because it "skips 1 minor release"
    And every component runs the older pinned version

  Scenario: Kubelets three minors behind block a control-plane upgrade
    Given the kubelets of "worker-1" and "worker-2" report three minors before the older pin
    Then the cluster is within the version skew policy
    When I ask to upgrade the control plane to the newer pinned version
    Then the upgrade is refused because the kubelet of "worker-1" would fall outside the skew policy
    And kube-apiserver reports the older pinned version through /version
