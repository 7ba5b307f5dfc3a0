@maintain_node @destructive
Feature: Maintain a named node
  The operator names the node (--node) and what to do to it once it is empty (--maintenance-command,
  a shell line run on this machine with {node} replaced, e.g. 'ssh {node} sudo apt-get -y upgrade &&
  ssh {node} sudo systemctl reboot'; --expect-reboot when it reboots the node). Nothing is cordoned
  until the node, the cluster and the drain plan are found fit. The cordon carries this run's name,
  so a run that dies is finished by running the same command again, and a node someone else
  cordoned is never uncordoned by us. On a cluster the run created, the node is the first worker and
  the maintenance is the provider's reboot. Its drill: drills/node_maintenance.feature.
  Needs --node, --allow-disruption and a change id on --cluster existing.

  Background:
    Given the cluster under maintenance
    And the node under maintenance
    And a deployment "web" with 3 replicas on the node under maintenance, guarded by a disruption budget of at least 2 available

  Scenario: Cordon, drain, maintain and return the node under maintenance
    When I check the node under maintenance before cordoning it
    Then the preflight finds no blocker
    When I cordon the node under maintenance, recording this run on it
    And I drain the node under maintenance within the maintenance timeout
    Then only daemonset pods remain on the node under maintenance
    When the maintenance of the node under maintenance runs
    Then the node under maintenance is back Ready, with a new bootID when it was rebooted
    When I uncordon the node under maintenance if this run cordoned it
    Then every workload that had pods on the node under maintenance is back to its desired availability
