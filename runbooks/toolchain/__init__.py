"""Builds and caches the pinned upstream binaries (etcd, Kubernetes control plane, kubectl, kwok)."""

from runbooks.toolchain.builder import Toolchain, ensure_toolchain
from runbooks.toolchain.pins import Pins, load_pins

__all__ = ["Pins", "Toolchain", "ensure_toolchain", "load_pins"]
