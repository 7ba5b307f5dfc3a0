"""The only place that builds kubernetes `ApiClient`s and typed API handles: a `Session` per cluster,
whose clients send every request through the process's wrapper chain (`SHARED`, set up by the pytest
plugin: the audit) and the session's own (`chain`: plan mode's dry run for the cluster under
maintenance), to the network or to the `terminal` a test hands it (a fake API)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from kubernetes import client, config

from runbooks.errors import ClusterError
from runbooks.kube.transport import Chain, SeamApiClient, Send

# Wrappers every client built here carries, whatever cluster it talks to (the audit of requests).
SHARED = Chain()


class Session:
    """One cluster's API: a pooled client built on first use, typed handles on it, fresh clients on demand."""

    def __init__(self, kubeconfig: Path | None, context: str | None = None, *, chain: Chain | None = None,
                 shared: Chain | None = SHARED, terminal: Send | None = None,
                 configuration: client.Configuration | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.chain = chain if chain is not None else Chain()
        self.shared = shared
        self.terminal = terminal
        self._configuration = configuration

    def _load(self) -> client.Configuration:
        if self._configuration is not None:
            return self._configuration
        loaded = client.Configuration()
        try:
            config.load_kube_config(config_file=str(self.kubeconfig), context=self.context, client_configuration=loaded)
        except (config.ConfigException, OSError) as exc:
            raise ClusterError(
                f"cannot load kubeconfig {self.kubeconfig} (context {self.context or 'current'}): {exc}; "
                "check --kubeconfig / --kube-context"
            ) from exc
        return loaded

    def fresh(self) -> SeamApiClient:
        """A client with a connection pool of its own (close it when done), through the same wrappers."""
        chains = [self.chain] + ([self.shared] if self.shared is not None else [])
        return SeamApiClient(self._load(), chains, self.terminal)

    @cached_property
    def api(self) -> SeamApiClient:
        return self.fresh()

    def close(self) -> None:
        if "api" in self.__dict__:
            self.api.close()

    # -- typed handles -----------------------------------------------------------------------------
    @cached_property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @cached_property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @cached_property
    def policy(self) -> client.PolicyV1Api:
        return client.PolicyV1Api(self.api)

    @cached_property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    @cached_property
    def discovery(self) -> client.DiscoveryV1Api:
        return client.DiscoveryV1Api(self.api)

    @cached_property
    def admission(self) -> client.AdmissionregistrationV1Api:
        return client.AdmissionregistrationV1Api(self.api)

    @cached_property
    def apiextensions(self) -> client.ApiextensionsV1Api:
        return client.ApiextensionsV1Api(self.api)

    @cached_property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @cached_property
    def version(self) -> client.VersionApi:
        return client.VersionApi(self.api)

    @cached_property
    def storage(self) -> client.StorageV1Api:
        return client.StorageV1Api(self.api)
