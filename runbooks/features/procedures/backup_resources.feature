@backup_resources
Feature: Back up the resource configuration and prove it restores into a fresh cluster
  A backup counts only when its restore is proven. We export every listable resource of every
  served API group of the cluster under maintenance into the backup directory (--backup-dir), one
  YAML file per object, Secrets readable by their owner only. Then a fresh local cluster is started
  on this machine for the proof, whatever the cluster under maintenance is, the export is applied
  into it in dependency order, and the two clusters must show no semantic difference. The cluster
  under maintenance is only read.
  Needs --backup-dir on --cluster existing.

  Background:
    Given the cluster under maintenance
    And the backup directory is writable

  Scenario: Export every resource into the backup directory and prove it restores with an empty diff
    When I export every listable resource of every served API group into the backup directory
    Then every object is one YAML file in a stable layout, any Secret readable by its owner only
    And the report says what was left out of the backup and why
    When I apply the export into a fresh local cluster started for the proof, CRDs and namespaces first
    Then the semantic diff between the two clusters is empty
