"""The one exception hierarchy of kube-runbooks: every message says what went wrong and how to fix it."""

from __future__ import annotations


class RunbookError(Exception):
    """Base of every error a runbook reports to an operator instead of a traceback."""


class ToolchainError(RunbookError):
    """A binary could not be built, found or trusted (missing go, proxy failure, full disk...)."""


class ClusterError(RunbookError):
    """A cluster could not be started, reached or used as asked."""


class ClusterStartError(ClusterError):
    """A control-plane component did not come up; the message names its log file."""


class UnknownNodeError(ClusterError):
    """A node named by the operator does not exist; the message lists the real ones."""


class ProviderUnavailableError(ClusterError):
    """The selected cluster provider cannot be used on this machine or is not implemented yet."""


class CapabilityMissingError(ProviderUnavailableError):
    """The provider cannot do what a runbook needs (e.g. kind cannot cut a node's power): the
    runbook is reported as skipped there, with this reason, not as failed."""


class BadVersionError(RunbookError):
    """A version string is not of the form vMAJOR.MINOR[.PATCH]."""


class BackupError(RunbookError):
    """A backup could not be taken or applied."""
