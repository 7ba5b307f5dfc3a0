@node_maintenance @destructive
Feature: Take a worker out for OS maintenance
  A node that does not come back within its pods' tolerationSeconds loses them, and we cannot
  know in advance that it will come back. So we cordon it, drain it (respecting every
  PodDisruptionBudget through the Eviction API), upgrade it, and uncordon it.
  Each scenario gets a fresh local cluster of its own: they take nodes away.

  Background:
    Given a fresh local cluster of its own
    And a deployment "web" with 6 replicas guarded by a disruption budget of at least 5 available

  Scenario: Drain, upgrade and return a worker without losing availability
    Given a daemonset "node-agent" on every worker
    And a deployment "cache" with 3 replicas that keeps emptyDir data
    When I plan a drain of the worker running most of "web"
    Then the plan shows no blocking disruption budget
    When I cordon and drain that worker, ignoring daemonsets and deleting emptyDir data
    Then only daemonset pods remain on it
    And "web" never had fewer than 5 available replicas
    And "web" and "cache" are fully available on the other workers
    When the worker reboots for its upgrade and returns Ready
    And I uncordon it
    Then new pods can be scheduled on it

  Scenario: A pod no controller owns stops the drain until the operator forces it
    Given a pod "debug" that no controller owns on a worker
    When I try to drain that worker, ignoring daemonsets
    Then the drain is refused naming the pod "debug"
    And that worker was not cordoned
    When I drain that worker again, ignoring daemonsets and forcing unmanaged pods
    Then only daemonset pods remain on it

  Scenario: A disruption budget that allows no disruption holds the drain, and nothing is lost
    Given a deployment "db" with 2 replicas guarded by a disruption budget of at least 2 available
    When I plan a drain of the worker running most of "db"
    Then the plan names the disruption budget "db" as blocking
    When I drain that worker anyway, giving up after 5 seconds
    Then the drain fails naming the disruption budget "db"
    And the worker stays cordoned
    And "db" still has 2 ready replicas

  Scenario: A pod that tolerates every taint comes back onto the cordoned worker, and the check after the drain says so
    Given a deployment "anywhere" with 1 replica that tolerates every taint and may only run on a worker
    When I plan a drain of the worker running most of "anywhere"
    Then the plan flags the pods of "anywhere" as tolerating the cordon
    When I cordon and drain that worker, ignoring daemonsets and deleting emptyDir data
    Then a pod of "anywhere" is back on it, named as tolerating the cordon

  Scenario: A pod held by a finalizer stays Terminating, and the drain names it and its finalizer
    Given a deployment "held" with 1 replica whose pods carry the finalizer "kube-runbooks.io/hold"
    When I plan a drain of the worker running most of "held"
    And I drain that worker anyway, giving up after 5 seconds
    Then the drain fails naming a pod of "held" Terminating with the finalizer "kube-runbooks.io/hold"
    And the worker stays cordoned
    When the finalizer "kube-runbooks.io/hold" is removed from the pods of "held"
    And I drain that worker again, ignoring daemonsets and forcing unmanaged pods
    Then only daemonset pods remain on it
