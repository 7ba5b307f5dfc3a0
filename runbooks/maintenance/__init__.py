"""Maintaining a node the operator names: preflight, ownership of the cordon, the maintenance
command, the before/after facts and the eviction ledger (the drain itself is runbooks/drain/)."""
