@node_maintenance
Feature: A drain asked for the wrong thing says what to fix
  Planning a drain only reads, so these run on the shared cluster and change nothing.

  Background:
    Given the cluster under maintenance

  Scenario: A node that does not exist is refused, and the real nodes are listed
    When I plan a drain of "no-such-node" for pods matching "app=web"
    Then the plan is refused with a message naming "the nodes are:"

  Scenario: A pod selector that does not parse is refused before anything is read
    When I plan a drain of a worker for pods matching "app in (web"
    Then the plan is refused with a message naming "is not valid"
