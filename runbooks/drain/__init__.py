"""Draining a node: predicting what blocks eviction, cordoning, evicting through PodDisruptionBudgets and uncordoning."""
