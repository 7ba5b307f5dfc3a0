"""Setting up what kind needs on this machine: a Docker engine, kind itself and an offline node image."""
