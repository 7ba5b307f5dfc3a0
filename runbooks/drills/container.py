"""The one container every runbook workload runs, on every provider.

On kind it is real: `kube-runbooks/web`, built offline from Debian's busybox-static
(runbooks/kindenv/workload.py), answers HTTP on port 8080 and answers /ready only once it has
started, so the kubelet's readiness probe decides when a pod joins its Service, as in production.
On the local provider kwok plays the kubelet: nothing is pulled and no probe runs, and the
start-delay annotation stands in for the start-up time (runbooks/cluster/local/kwok-stages.yaml).
Writing the container once keeps a runbook identical on both.
"""

from __future__ import annotations

import os
import re
from typing import Any

from runbooks.errors import RunbookError
from runbooks.kindenv.workload_image import DEFAULT_RELEASE, PORT, RELEASES, REPOSITORY, reference

# On an existing cluster, push the image (python -m runbooks.kindenv image builds its archive) to a
# registry its nodes can pull from and name that repository here.
REPOSITORY_ENV = "KUBE_RUNBOOKS_WORKLOAD_IMAGE"
READY_PATH = "/ready"
# kwok's stand-in for start-up time (the real container gets the same delay as READY_DELAY).
START_DELAY_ANNOTATION = "kube-runbooks.io/start-delay"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")


def image(release: str = DEFAULT_RELEASE) -> str:
    """`v2` -> `kube-runbooks/web:v2`; only releases the kind nodes hold are accepted."""
    if release not in RELEASES:
        raise RunbookError(
            f"release {release!r} has no image: the workload image is tagged {', '.join(RELEASES)} (runbooks/kindenv/workload_image.py RELEASES)"
        )
    return reference(release, os.environ.get(REPOSITORY_ENV) or REPOSITORY)


def release_of(image_name: str) -> str:
    """`kube-runbooks/web:v2` -> `v2` (the tag is the release)."""
    return image_name.rsplit(":", 1)[-1]


def seconds(duration: str) -> float:
    """`500ms` -> 0.5, `2s` -> 2.0: the annotation's Go-style duration as the container's sleep."""
    match = _DURATION.match(duration.strip())
    if not match:
        raise RunbookError(f"start delay {duration!r} is not a duration: write e.g. 500ms or 2s")
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


def container(name: str, release: str = DEFAULT_RELEASE, start_delay: str | None = None) -> dict[str, Any]:
    """The container, as the API takes it (the kubernetes client serialises dicts as they are)."""
    env = [{"name": "RELEASE", "value": release}]
    if start_delay:
        env.append({"name": "READY_DELAY", "value": f"{seconds(start_delay):g}"})
    return {
        "name": name,
        "image": image(release),
        "imagePullPolicy": "IfNotPresent",  # kind nodes hold every release: nothing is pulled
        "env": env,
        "ports": [{"name": "http", "containerPort": PORT}],
        "readinessProbe": {"httpGet": {"path": READY_PATH, "port": PORT}, "periodSeconds": 1, "failureThreshold": 1},
    }


def start_delay_annotations(start_delay: str | None) -> dict[str, str] | None:
    """The pod annotations that make kwok hold a pod back as long as the real container would."""
    return {START_DELAY_ANNOTATION: start_delay} if start_delay else None
