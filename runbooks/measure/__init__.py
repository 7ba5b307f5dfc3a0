"""Measuring a cluster during and after a disruption: availability, watch recovery, node state, pod network, storage, health."""
