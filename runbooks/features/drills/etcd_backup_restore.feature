@etcd_backup @destructive
Feature: Back up etcd with a snapshot and restore the cluster from it
  The cluster's whole state lives in etcd. We save a snapshot over TLS with etcdctl, read its status,
  and, when the cluster is damaged, stop kube-apiserver, restore the snapshot into a new data dir,
  restart etcd on it and start kube-apiserver again. For Kubernetes the restore bumps the revision and
  marks it compacted (etcd#16028): clients that were watching are told "410 Gone" and re-list,
  instead of trusting caches from a future that the restore erased. Nobody proves a restore worked;
  this runbook does.

  Background:
    Given a fresh local cluster of its own
    And sentinel objects in namespace "restore-sentinel": a ConfigMap, a Secret and a Deployment of 3 replicas

  Scenario: Save a snapshot, damage the cluster, restore the snapshot and prove it
    When I save an etcd snapshot over TLS with the etcd client certificates
    Then the snapshot file is readable by its owner only and its SHA-256 is recorded
    And its status shows a revision and a key count consistent with the cluster
    When a client starts watching the sentinel ConfigMaps
    And I delete the sentinel objects and create an object after the snapshot
    And I stop kube-apiserver, then the controllers
    And I stop etcd
    And I restore the snapshot into a new data dir, bumping the revision and marking it compacted
    And I restart etcd on the restored data dir
    And I start kube-apiserver, then the controllers
    Then the sentinel objects are back
    And the object created after the snapshot is gone
    And the Deployment's pods are reconciled
    And every node is Ready
    And the watching client recovered through "410 Gone" and holds what the server holds

  Scenario: A corrupted snapshot is refused and the live data is left untouched
    When I save an etcd snapshot over TLS with the etcd client certificates
    And 64 bytes in the middle of the snapshot are flipped
    And I stop kube-apiserver, then the controllers
    And I stop etcd
    And I try to restore the snapshot into a new data dir
    Then the restore is refused by the snapshot hash check
    And no new data dir was left behind
    And the live etcd data dir is byte for byte unchanged
    When I restart etcd on its live data dir
    And I start kube-apiserver, then the controllers
    Then the sentinel objects are back
    And every node is Ready
