"""The synthetic workloads drills create: the one drill container and the apps, blockers and sentinels built from it."""
