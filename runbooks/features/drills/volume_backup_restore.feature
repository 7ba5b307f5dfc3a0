@backup_volumes @destructive
Feature: Restore a volume's data into a new claim and prove it equal, file by file
  The drill for backup_volumes.feature: a pod writes files whose checksums are known beforehand into
  a claim and keeps it mounted; the claim is backed up by the procedure's steps, restored into a new
  claim of the same class and size by a helper pod that unpacks the archive, and the new claim's
  files are hashed in the cluster again. A restore checks the archive against its manifest first,
  so an archive changed by a single byte is refused, naming the file. Everything lives in a
  namespace of the scenario's own, deleted afterwards (its claims' volumes are reclaimed with it).

  Background:
    Given the cluster under maintenance
    And kubelets that run real containers
    And a claim "data" with sample files written by a pod "writer"

  Scenario: A claim's backup restored into a new claim holds the same files
    When I back up the claim's data into the backup dir
    Then the backup holds every file the writer wrote, with the checksums known beforehand
    When I restore the archive into a new claim "data-restored"
    Then every file of "data-restored" has the checksum the backup recorded

  Scenario: An archive changed by one byte is refused before anything is restored
    When I back up the claim's data into the backup dir
    And one byte of a file inside the archive is changed
    Then restoring the archive into a new claim "data-restored" is refused, naming that file
