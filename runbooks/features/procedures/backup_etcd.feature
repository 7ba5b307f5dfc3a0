@backup_etcd
Feature: Back up etcd and prove the snapshot restores, without touching the cluster
  A backup counts only when its restore is proven. We save a snapshot over TLS with etcdctl into the
  snapshot directory (--snapshot-dir), its SHA-256 beside it, and restore it on this machine: etcdutl
  restores it into a scratch data dir as a cluster of its own, a scratch etcd serves it and a scratch
  kube-apiserver on top must list what the live API listed around the save. The cluster is only read;
  the scratch control plane is removed afterwards, and the time it took to come back is the RTO.
  Needs --snapshot-dir on --cluster existing, and etcd reached through --node-access=pod or --etcd-*.

  Background:
    Given the cluster under maintenance
    And the snapshot directory is writable and etcd accepts the client certificates

  Scenario: Save a snapshot and prove it restores into a scratch control plane on this machine
    When I list the namespaces, Deployments and objects per resource the API serves
    And I save an etcd snapshot over TLS into the snapshot directory
    Then the snapshot file is readable by its owner only and its SHA-256 is recorded
    And the SHA-256 file beside the snapshot matches it
    And its status shows a revision and a key count consistent with the cluster
    When I restore the snapshot on this machine into a scratch etcd with a scratch kube-apiserver on top
    Then the scratch API server is the live cluster's, by its kube-system UID
    And it lists the namespaces, Deployments and object counts the live API listed
    And the report shows the time to restore
    When I stop the scratch control plane
    Then no scratch process or file is left
