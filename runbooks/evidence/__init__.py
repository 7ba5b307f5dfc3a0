"""Evidence: what each runbook step did and saw, rendered into the HTML report (the audit trail)
and chained into the tamper-evident sidecar (`python -m runbooks.evidence verify <dir>`)."""

from runbooks.evidence.recorder import Evidence, EvidenceRecord

__all__ = ["Evidence", "EvidenceRecord"]
