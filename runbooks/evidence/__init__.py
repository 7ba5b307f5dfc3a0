"""Evidence: what each runbook step did and saw, rendered into the HTML report (the audit trail)."""

from runbooks.evidence.recorder import Evidence, EvidenceRecord

__all__ = ["Evidence", "EvidenceRecord"]
