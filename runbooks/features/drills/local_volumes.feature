@smoke @storage @control:ISO27001-A.8.13
Feature: Check that volumes are provisioned, keep their data and are reclaimed
  Stateful workloads need their claims bound, their data kept when a pod is replaced, and freed
  volumes removed. Node-local volumes are also what a drain cannot move: the volume stays on its
  node, so a pod using it waits for that node to return. This records where each volume lives.
  The claim lives in a namespace of its own, removed afterwards. Only kubelets that run containers
  can show this (kind, an existing cluster); on the local cluster kwok runs no container.

  Background:
    Given the cluster under maintenance
    And kubelets that run real containers

  Scenario: A claim on the default StorageClass is provisioned, keeps its data across pods and is reclaimed
    Given a claim "data" of 16Mi on the default StorageClass
    When a pod "writer" mounts "data" and writes a random token to it
    Then "data" is Bound to a volume on the node that runs "writer"
    When "writer" is deleted and a pod "reader" mounts "data"
    Then "reader" runs on the same node and reads the same token
    When "reader" and the claim "data" are deleted
    Then the volume of "data" is reclaimed
