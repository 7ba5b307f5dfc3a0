@smoke @workloads @control:ISO27001-A.8.16
Feature: Check that pods run, become ready and reach each other before any maintenance
  A drain moves pods to other workers, and "they stay available" means the moved pods start there,
  pass their readiness probes and are reached through their Service. So before any maintenance we
  prove it on every worker: one pod of a small web app per worker, let into its Service only by its
  readiness probe, reaching the pods on the other workers by pod IP (the pod network between nodes)
  and the Service by its DNS name (kube-proxy and cluster DNS). The app lives in a namespace of its
  own, removed afterwards. Only kubelets that run containers can show this (kind, an existing
  cluster); the local cluster's kubelets are simulated by kwok, so there it is skipped.

  Background:
    Given the cluster under maintenance
    And kubelets that run real containers

  Scenario: Every worker runs a pod that passes its readiness probe and serves the other workers
    Given a web app "echo" with one pod on every schedulable worker, each ready 3 seconds after it starts
    Then every pod of "echo" became Ready through its readiness probe, not before its 3 seconds
    And every pod of "echo" answers the pods on the other workers by pod IP
    And every pod of "echo" reaches the Service "echo" by its cluster DNS name
