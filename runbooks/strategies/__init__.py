"""Deployment strategies as API operations: create a release, roll it out or back, switch a Service's selector, scale a canary."""
