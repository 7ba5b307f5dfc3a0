@strategies @destructive
Feature: Roll out a new release with the deployment strategy that fits, measured
  Operators choose between Recreate, RollingUpdate, blue/green and canary from a table of pros and
  cons. Here each runs on a real control plane (the real deployment, ReplicaSet and EndpointSlice
  controllers) while an availability probe watches the pods, or the Service's EndpointSlices, and
  counts what is ready at every change; each timeline is drawn against its budget in the report.
  Pods take half a second to become Ready: on kind the container answers its readiness probe only
  then, on the local cluster kwok holds the pod back as long. Releases are image tags:
  kube-runbooks/web:v1, :v2.

  # A/B testing (the source notes' fourth strategy) sends chosen users to version B by HTTP header,
  # cookie or user agent. A Service balances connections over its endpoints and never reads a
  # request, so that routing needs a service mesh or an L7 proxy (Istio, Linkerd, a Gateway API
  # HTTPRoute with header matches). None runs on these clusters: A/B testing is out of scope here.
  # Its weight-based half is the canary scenario below.

  Background:
    Given the cluster under maintenance
    And a namespace of the scenario's own, deleted afterwards

  Scenario: Recreate stops every old pod before starting new ones, so the app is down for a while
    Given a deployment "web" of 3 replicas of release "v1" with strategy Recreate
    When I roll "web" out to release "v2", watching its pods
    Then there was a measured window in which no pod of "web" was ready
    And every pod of "web" runs release "v2"

  Scenario Outline: RollingUpdate stays within maxSurge <max_surge> and maxUnavailable <max_unavailable>, and rolls back
    Given a deployment "web" of 4 replicas of release "v1" with strategy RollingUpdate, maxSurge <max_surge> and maxUnavailable <max_unavailable>
    When I roll "web" out to release "v2", watching its pods
    Then "web" never had fewer than replicas - maxUnavailable = <min_ready> ready pods, counting those only their readiness probe took out
    And "web" never had more than replicas + maxSurge = <max_pods> pods that its ReplicaSets wanted
    And every pod of "web" runs release "v2"
    When I roll "web" back with "kubectl rollout undo", watching its pods
    Then "web" never had fewer than replicas - maxUnavailable = <min_ready> ready pods, counting those only their readiness probe took out
    And "web" never had more than replicas + maxSurge = <max_pods> pods that its ReplicaSets wanted
    And every pod of "web" runs release "v1"

    Examples:
      | max_surge | max_unavailable | min_ready | max_pods |
      | 1         | 0               | 4         | 5        |
      | 0         | 1               | 3         | 4        |
      | 2         | 2               | 2         | 6        |
      | 25%       | 50%             | 2         | 5        |

  Scenario: Blue/green switches the Service from blue to green in one step, and back
    Given a deployment "web-blue" of 3 replicas of release "v1" labelled version=blue
    And a Service "web" selecting app=web,version=blue
    And a deployment "web-green" of 3 replicas of release "v2" labelled version=green
    When I switch the selector of Service "web" to version=green, watching its EndpointSlices
    Then the Service's ready endpoints went from all "blue" to all "green"
    And the Service had a ready endpoint in every sample
    When I switch the selector of Service "web" to version=blue, watching its EndpointSlices
    Then the Service's ready endpoints went from all "green" to all "blue"
    And the Service had a ready endpoint in every sample

  Scenario Outline: A canary takes a quarter of the endpoints, then I <decision> it
    Given a deployment "web-stable" of 3 replicas of release "v1" labelled track=stable
    And a Service "web" selecting app=web
    When I add a deployment "web-canary" of 1 replica of release "v2" labelled track=canary, watching the Service's EndpointSlices
    Then the Service's ready endpoints split 75/25 between track "stable" and "canary"
    When I <decision> the canary, watching the Service's EndpointSlices
    Then every ready endpoint of the Service runs release "<final>"
    And the Service never had fewer than 3 ready endpoints

    Examples:
      | decision | final |
      | promote  | v2    |
      | abort    | v1    |
