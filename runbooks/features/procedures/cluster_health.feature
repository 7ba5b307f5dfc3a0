@smoke @cluster_health @control:ISO27001-A.8.16
Feature: Check that the cluster is healthy before any maintenance
  Every maintenance procedure starts from a cluster whose API answers, whose nodes are Ready,
  whose components run the versions we expect and whose etcd is healthy. These checks only read.
  Needs nothing but the kubeconfig; it only reads.

  Background:
    Given the cluster under maintenance

  Scenario: The API server answers and every node is Ready
    Then the API server reports ready
    And every node is Ready
    And there is 1 control-plane node and at least 1 worker

  Scenario: The components run the expected versions
    Then the API server runs the expected Kubernetes version
    And every kubelet runs the expected Kubernetes version

  Scenario: etcd is healthy over TLS
    Then etcdctl reports the etcd endpoint healthy over TLS with client certificates
