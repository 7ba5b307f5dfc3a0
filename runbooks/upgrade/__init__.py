"""Cluster upgrades: one minor hop, the running component versions it checks, and the pre-upgrade gate and its verdict."""
