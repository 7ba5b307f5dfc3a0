@node_maintenance @destructive
Feature: A worker lost without a drain
  The source notes' pod-eviction timeout, as today's taint-based eviction does it.

  Background:
    Given a fresh local cluster of its own whose nodes are declared lost after 5 seconds of silence

  # Without a drain, the node-lifecycle controller decides: a node silent for longer than
  # --node-monitor-grace-period (50 s by default) is tainted unreachable, and its pods are
  # evicted once their tolerationSeconds run out (300 s by default, from the
  # DefaultTolerationSeconds admission plugin). Here the cluster runs a 5 s grace period and
  # the pods tolerate the taint for the seconds below, so the scenario takes seconds.
  Scenario Outline: A worker lost without a drain keeps its pods only if it returns in time
    Given a deployment "api" with 4 replicas tolerating a lost node for <toleration> seconds
    When the worker running most of "api" loses power
    And it is declared lost
    And it stays down <outcome>
    And it is powered on again
    Then "api" has 4 ready replicas
    And the pods of "api" that were on the worker were <fate>

    Examples:
      | toleration | outcome                                        | fate                          |
      | 120        | for 2 seconds                                  | kept                          |
      | 3          | until "api" is replaced on the other workers   | evicted and recreated elsewhere |
