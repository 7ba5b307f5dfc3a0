@upgrade_cluster @destructive
Feature: Upgrade the cluster under maintenance one minor, with kubeadm and the nodes' own packages
  kubeadm's upgrade guide, run on the operator's cluster node by node. Nothing changes until the target
  is found one minor from the API server's (--target-version vX.Y for the repository's newest patch, or
  vX.Y.Z), every node's package repository is found to have it (read-only: the target minor's repository
  is read into a scratch list), an etcd snapshot is saved and proven to restore, and the pre-upgrade gate
  passes for the target. Then the control-plane nodes one at a time (`kubeadm upgrade plan` and `kubeadm
  upgrade apply` on the first, `kubeadm upgrade node` on the others), then each worker: drained through
  the Eviction API; the repository line switched to the target minor and kubeadm's package unheld,
  installed at the exact version, held again; the kubeadm command; kubelet and kubectl the same way;
  `systemctl daemon-reload && systemctl restart kubelet`; Ready with the target kubelet; uncordoned. The
  skew policy is checked after every step, every budgeted workload is sampled throughout.
  Packages come from the node's apt (dnf or yum where it has those), or --package-source dir:/PATH for
  binaries already on every node. Each step is recorded on its node (annotation
  kube-runbooks.io/upgrade), and the long commands run detached on the node: a run killed anywhere is
  finished by running the same command again, never repeating a `kubeadm upgrade apply` that succeeded.
  A failed step stops the run with its node cordoned, naming the step. etcd keeps its version
  (--etcd-upgrade=false): it is backed up here and upgraded on its own schedule.
  Needs --node-access=pod on --cluster existing, --allow-disruption, a change id and --snapshot-dir.
  --plan shows the ordered plan and changes nothing. Its drill: drills/cluster_upgrade.feature.

  Background:
    Given the cluster under maintenance
    And the target version, one minor from the cluster's, and the nodes this run can reach with their package repositories
    And the snapshot directory is writable and etcd accepts the client certificates

  Scenario: Upgrade every node, control plane first, without a disruption budget ever broken
    When I plan the upgrade: the nodes in order, their packages, the commands and the budgets in the way
    And I list the namespaces, Deployments and objects per resource the API serves
    And I save an etcd snapshot over TLS into the snapshot directory
    And I restore the snapshot on this machine into a scratch etcd with a scratch kube-apiserver on top
    Then the scratch API server is the live cluster's, by its kube-system UID
    When I stop the scratch control plane
    And I run the pre-upgrade gate for the target version
    Then every gate check passes
    When I start sampling the availability of every workload guarded by a disruption budget
    And I upgrade the control-plane nodes one at a time, checking the skew after every step
    And I upgrade every worker in turn, checking the skew after every step
    Then every node runs the target kubelet, Ready and schedulable, and the control plane runs the target
    And the cluster is within the version skew policy
    And no workload guarded by a disruption budget fell below it during the upgrade
