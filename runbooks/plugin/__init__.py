"""The pytest plugin of kube-runbooks (entry point `pytest11: kube_runbooks`): installing the package
brings its options, fixtures and every step definition to any pytest run, so a repository of
`.feature` files needs nothing else.
"""

STEP_MODULES = (
    "runbooks.steps.backup_etcd_steps",
    "runbooks.steps.cluster_steps",
    "runbooks.steps.cluster_upgrade_steps",
    "runbooks.steps.etcd_backup_steps",
    "runbooks.steps.maintain_node_steps",
    "runbooks.steps.node_maintenance_steps",
    "runbooks.steps.pod_network_steps",
    "runbooks.steps.resource_backup_steps",
    "runbooks.steps.restore_etcd_steps",
    "runbooks.steps.upgrade_cluster_steps",
    "runbooks.steps.strategy_steps",
    "runbooks.steps.upgrade_gate_steps",
    "runbooks.steps.volume_backup_steps",
    "runbooks.steps.volume_steps",
)

pytest_plugins = [
    "runbooks.plugin.rootdir",
    "runbooks.plugin.core",
    "runbooks.plugin.gate",
    "runbooks.plugin.not_run",
    "runbooks.plugin.fixtures",
    "runbooks.plugin.collect",
    "runbooks.plugin.targets",
    *STEP_MODULES,
]
