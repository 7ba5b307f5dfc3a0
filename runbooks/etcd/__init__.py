"""etcd procedures: snapshots (save, status, restore, fingerprint) and the control-plane stop/restore/start order around a restore."""
