@pre_upgrade
Feature: Pre-upgrade gate: may this cluster be upgraded to the target version?
  An upgrade that starts on a cluster that cannot finish it ends half-done, at night. Before the first
  step we check, and a CI pipeline gets one answer in the exit code: zero only when every check passes.
  The checks: the version skew policy allows the target; every node is Ready; no disruption budget
  allows zero disruptions (a drain would hang on it); no client requests, and no object or manifest
  uses, an API version the target no longer serves (the apiserver's own apiserver_requested_deprecated_apis
  metric, and a scan against the table from the Deprecated API Migration Guide); kube-apiserver,
  kube-controller-manager and kube-scheduler are healthy; etcd is healthy and a snapshot younger than
  --snapshot-max-age lies in --snapshot-dir; no admission webhook with failurePolicy Fail lacks a ready
  backend (every write it matches would fail mid-upgrade); no CRD still stores a version it no longer
  serves (its next upgrade would be refused). The gate only reads. The proofs below share one fresh
  cluster: each adds its blocker, sees the gate fail on it alone, and removes it (a failed one's cluster
  is replaced, so the next proof starts clean).
  It fails closed: a check that cannot look (no etcd access, no right to read /metrics) keeps the gate
  shut until the operator waives it by name with a reason (--waive "etcd=managed control plane"),
  and a run in which no gate scenario ran, or one was skipped, exits non-zero.
  Run it as: make gate TARGET=vX.Y (or pytest -m gate --target-version vX.Y --snapshot-dir DIR; without
  --target-version the target is the newer pinned version of runbooks/toolchain/pins.toml).
  Needs --target-version and --snapshot-dir, and etcd reached through --node-access=pod or --etcd-*.

  @gate
  Scenario: The cluster under maintenance passes every check for the target version
    Given the cluster under maintenance
    And a recent etcd snapshot in the snapshot directory
    When I run the pre-upgrade gate for the target version
    Then every gate check passes

  @gate_proof @destructive
  Scenario: A disruption budget that allows no disruption fails the gate until it is relaxed
    Given a fresh cluster shared by this feature's scenarios
    And a recent etcd snapshot in the snapshot directory
    And a deployment "web" with 3 replicas guarded by a disruption budget of at least 3 available
    When I run the pre-upgrade gate for the newer pinned version
    Then the gate fails only on "no drain blockers", naming "maintenance-demo/web"
    When the CI gate command runs against it as an existing cluster, waiving "control-plane=its controllers run as processes outside the cluster"
    Then it exits with a non-zero code
    When I relax the disruption budget of "web" to at least 2 available
    And I run the pre-upgrade gate for the newer pinned version
    Then every gate check passes
    When the CI gate command runs against it as an existing cluster, waiving "control-plane=its controllers run as processes outside the cluster"
    Then it exits with code 0

  # The pinned minors remove no API of their own (the guide's newest removal is 1.32), and an
  # apiserver cannot store objects through an API it no longer serves. What survives years of
  # upgrades is the last-applied configuration: the pipeline that re-applies it will fail on the target.
  @gate_proof @destructive
  Scenario: An object last applied through a removed API fails the gate until it is re-applied
    Given a fresh cluster shared by this feature's scenarios
    And a recent etcd snapshot in the snapshot directory
    And a CronJob "nightly" last applied through batch/v1beta1, an API the target no longer serves
    When I run the pre-upgrade gate for the newer pinned version
    Then the gate fails only on its static scan for APIs removed in the newer pinned version, naming "maintenance-demo/nightly"
    When I re-apply "nightly" as batch/v1 with kubectl
    And I run the pre-upgrade gate for the newer pinned version
    Then every gate check passes

  @gate_proof @destructive
  Scenario: A failing admission webhook with no ready backend fails the gate until its backend runs
    Given a fresh cluster shared by this feature's scenarios
    And a recent etcd snapshot in the snapshot directory
    And a validating webhook "config-policy" with failurePolicy Fail whose Service has no ready endpoint
    When I run the pre-upgrade gate for the target version
    Then the gate fails only on "no failing admission webhook without a ready backend", naming "kube-runbooks-config-policy"
    When the backend of webhook "config-policy" is running and ready
    And I run the pre-upgrade gate for the target version
    Then every gate check passes

  @gate_proof @destructive
  Scenario: A CRD that still stores a version it no longer serves fails the gate until its objects are migrated
    Given a fresh cluster shared by this feature's scenarios
    And a recent etcd snapshot in the snapshot directory
    And a CRD "widgets" whose objects are stored at v1, a version it no longer serves
    When I run the pre-upgrade gate for the target version
    Then the gate fails only on "every CRD's stored versions are served", naming "widgets.runbooks.example.com (v1)"
    When I migrate the objects of "widgets" to the storage version and drop v1 from its stored versions
    And I run the pre-upgrade gate for the target version
    Then every gate check passes
