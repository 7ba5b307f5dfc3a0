"""Operations runbooks perform on a cluster (health checks, drain, snapshots, upgrades)."""
