@smoke
Feature: A cluster of its own for each destructive drill
  A drill that breaks its cluster gets a fresh one, never the shared one nor the operator's: that
  fresh cluster must itself start healthy, or the drill would prove nothing. A drill, so on
  --cluster existing it stays a skip (it cannot create a cluster there) and does not fail the run.

  Scenario: A fresh cluster of its own starts healthy for destructive runbooks
    Given a fresh local cluster of its own
    Then the API server reports ready
    And every node is Ready
