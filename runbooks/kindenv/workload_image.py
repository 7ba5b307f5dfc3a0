"""The name and tags of the runbooks' workload image: what kind nodes are built to hold
(runbooks/kindenv/workload.py) and what runbook pods ask for (runbooks/drills/container.py)."""

REPOSITORY = "kube-runbooks/web"
# The image is the same under each tag; a release is what the pod reports at / and what rollouts change.
RELEASES = ("v1", "v2")
DEFAULT_RELEASE = "v1"
PORT = 8080  # where its HTTP server listens


def reference(release: str = DEFAULT_RELEASE, repository: str = REPOSITORY) -> str:
    return f"{repository}:{release}"
