@node_maintenance
Feature: A drain asked for the wrong thing says what to fix
  Planning a drain only reads, so these run on the shared cluster and change nothing.

  Background:
    Given the cluster under maintenance

  Scenario Outline: Bad drain requests are refused with the fix named
    When I plan a drain of "<node>" for pods matching "<selector>"
    Then the plan is refused with a message naming "<fix>"

    Examples:
      | node       | selector     | fix                    |
      | worker-9   | app=web      | the nodes are:         |
      | worker-1   | app in (web  | is not valid           |
