"""kube-runbooks: Kubernetes cluster-maintenance runbooks that are executable, testable and auditable."""

from runbooks.errors import RunbookError

__all__ = ["RunbookError"]
__version__ = "0.1.0"
