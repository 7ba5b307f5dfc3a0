"""Reading a version out of a container image reference, as kube-system's pods carry them."""

from __future__ import annotations


def image_tag(image: str | None) -> str | None:
    """The tag of `registry.k8s.io/kube-apiserver:v1.36.3@sha256:...`; None when untagged.

    A registry port (`localhost:5000/kube-apiserver`) and a digest are not tags: only the last path
    element's `:suffix`, before any `@digest`, is.
    """
    if not image:
        return None
    tail = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return tail.rsplit(":", 1)[1] if ":" in tail else None
