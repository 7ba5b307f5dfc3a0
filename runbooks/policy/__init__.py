"""Upgrade policy: the upstream version-skew rules, the one-minor-at-a-time planner, the pre-upgrade gate."""
