@restore_etcd @destructive
Feature: Restore etcd from a snapshot on the cluster's own control-plane node
  The procedure operators fear most and rehearse least. The snapshot (--snapshot, its .sha256 beside
  it) is checked and shown to be this cluster's before anything changes, and a safety snapshot of
  the current state is saved and proven first. The restore then runs as one script on the
  control-plane node, because the API server is down while it runs: the control plane's manifests
  moved out, `etcdutl snapshot restore` into a new data dir with a revision bump and
  --mark-compacted, etcd's manifest pointed at it, the manifests back, the kubelet restarted. If etcd
  or the API server is not back within --restore-timeout, the script puts the old data dir back by
  itself. A run killed while it waits is finished by running the same command again: the restore is
  found on the node by its snapshot and change id, never repeated. Needs --node-access=pod on
  --cluster existing, --allow-disruption and a change id. Its drill: drills/etcd_backup_restore.feature.

  Background:
    Given the cluster under maintenance
    And etcd runs as a single-member static pod on a control-plane node this run can reach
    And the snapshot to restore, its SHA-256 matching and its status readable

  Scenario: Restore the snapshot on the control-plane node and prove the cluster serves it
    When I check that the snapshot is this cluster's and list what it holds
    And I save a safety snapshot of the current state and prove it restores
    And a client starts watching ConfigMaps before the restore
    And I restore the snapshot on the control-plane node and wait for the API server
    Then the restore finished without rolling back
    And the namespaces and Deployments are the snapshot's: those created after it are gone, those in it are back
    And the watching client was made to relist by the restore
    And every node is Ready and every Deployment has its desired replicas
    And the report shows the time the API server was down
