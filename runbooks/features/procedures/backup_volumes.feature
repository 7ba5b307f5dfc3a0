@backup_volumes @control:ISO27001-A.8.13
Feature: Back up the data of a volume claim, with a checksum for every file
  A resource backup brings a claim back, not the data on its volume. Like Velero's file-system
  backup, a helper pod on the volume's node mounts the claim read-only, lists the SHA-256 of every
  file, and streams a tar of it out through the API server (`kubectl exec ... tar -cf -`) into the
  backup dir: the archive and a manifest beside it, both readable by their owner only. It reads
  only; the helper pod is deleted afterwards. Name the claim with --claim NAMESPACE/NAME (on a cluster
  the run created, a claim of sample files is made) and the place with --backup-dir. Quiesce the
  application for a consistent copy: a volume being written is archived as it is at that moment.
  Only kubelets that run containers can do this (kind, an existing cluster), not kwok.
  Needs --claim and --backup-dir on --cluster existing, and kubelets that run containers.

  Background:
    Given the cluster under maintenance
    And kubelets that run real containers

  Scenario: The claim's files are archived with the checksum the cluster computed for each
    Given the claim to back up
    When I back up the claim's data into the backup dir
    Then the archive and its manifest are in the backup dir, readable by their owner only
    And every file in the archive has the checksum the helper pod computed in the cluster
