"""The only place that builds kubernetes `ApiClient`s and typed API handles: a `Session` per cluster,
whose clients send every request through the process's wrapper chain (`SHARED`, set up by the pytest
plugin: the audit) and the session's own (`chain`: plan mode's dry run for the cluster under
maintenance), to the network or to the `terminal` a test hands it (a fake API)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar, cast

import yaml
from kubernetes import client, config

from runbooks.errors import ClusterError
from runbooks.kube.transport import Chain, SeamApiClient, Send

# Wrappers every client built here carries, whatever cluster it talks to (the audit of requests).
SHARED = Chain()


A = TypeVar("A")
TOKEN_FILE_REREAD_SECONDS = 60.0  # client-go's cached token file source rereads once a minute too


def token_file(kubeconfig: Path, context: str | None) -> Path | None:
    """The `tokenFile` of the context's user (relative to the kubeconfig's folder), or None."""
    try:
        document = yaml.safe_load(kubeconfig.read_text()) or {}
        name = context or document.get("current-context")
        user = next(c["context"].get("user") for c in document.get("contexts") or [] if c.get("name") == name)
        found = next(u.get("user") or {} for u in document.get("users") or [] if u.get("name") == user).get("tokenFile")
    except (OSError, yaml.YAMLError, AttributeError, KeyError, StopIteration, TypeError):
        return None
    return None if not found else kubeconfig.parent / Path(found).expanduser()


class TokenFileRefresh:
    """A `refresh_api_key_hook` that rereads a kubeconfig's `tokenFile`: the python client reads it once,
    but a projected ServiceAccount token is rotated on disk by the kubelet while a long run goes on."""

    def __init__(self, path: Path, now: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.now = now
        self.read_at: float | None = None

    def __call__(self, configuration: client.Configuration) -> None:
        if self.read_at is not None and self.now() - self.read_at < TOKEN_FILE_REREAD_SECONDS:
            return
        try:
            token = self.path.read_text().strip()
        except OSError:
            return  # keep the token in hand; the API server says so if it has expired
        self.read_at = self.now()
        configuration.api_key["BearerToken"] = f"Bearer {token}"


class Handle(Generic[A]):
    """A typed API handle (`client.CoreV1Api`, ...) on a session's pooled client, built once per session."""

    # A typed API class of the client (client.CoreV1Api, ...), built on the session's ApiClient.
    def __init__(self, api_type: Callable[[SeamApiClient], A]) -> None:
        self.api_type = api_type
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, holder: ApiHandles, owner: type | None = None) -> A:
        session = holder.session
        cached = session.handles.get(self.name)
        if cached is None:
            cached = session.handles[self.name] = self.api_type(session.api)
        return cast(A, cached)


class ApiHandles:
    """The typed handles of whatever has a `session`: a Session itself, or a cluster (runbooks.cluster.Cluster)."""

    if TYPE_CHECKING:
        # Read-only: a Session is its own session, a cluster builds one on first use.
        @property
        def session(self) -> Session: ...

    core = Handle(client.CoreV1Api)
    apps = Handle(client.AppsV1Api)
    policy = Handle(client.PolicyV1Api)
    batch = Handle(client.BatchV1Api)
    discovery = Handle(client.DiscoveryV1Api)
    admission = Handle(client.AdmissionregistrationV1Api)
    apiextensions = Handle(client.ApiextensionsV1Api)
    custom = Handle(client.CustomObjectsApi)
    version_api = Handle(client.VersionApi)  # not `version`: providers keep their Kubernetes version there
    storage = Handle(client.StorageV1Api)


class Session(ApiHandles):
    """One cluster's API: a pooled client built on first use, typed handles on it, detached sessions on demand."""

    def __init__(
        self,
        kubeconfig: Path | None,
        context: str | None = None,
        *,
        chain: Chain | None = None,
        shared: Chain | None = SHARED,
        terminal: Send | None = None,
        configuration: client.Configuration | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.chain = chain if chain is not None else Chain()
        self.shared = shared
        self.terminal = terminal
        self._configuration = configuration
        self.handles: dict[str, object] = {}

    @property
    def session(self) -> Session:
        return self

    def _load(self) -> client.Configuration:
        if self._configuration is not None:
            return self._configuration
        loaded = client.Configuration()
        try:
            config.load_kube_config(config_file=str(self.kubeconfig), context=self.context, client_configuration=loaded)
        except (config.ConfigException, OSError) as exc:
            raise ClusterError(
                f"cannot load kubeconfig {self.kubeconfig} (context {self.context or 'current'}): {exc}; check --kubeconfig / --kube-context"
            ) from exc
        if self.kubeconfig is not None and (path := token_file(self.kubeconfig, self.context)) is not None:
            loaded.refresh_api_key_hook = TokenFileRefresh(path)
        return loaded

    @cached_property
    def api(self) -> SeamApiClient:
        chains = [self.chain] + ([self.shared] if self.shared is not None else [])
        return SeamApiClient(self._load(), chains, self.terminal)

    def detached(self) -> Session:
        """A session of its own on the same cluster and wrappers (its own connection pool; close it when
        done), for a client that must outlive this one's restarts, such as a long-running watcher."""
        return Session(self.kubeconfig, self.context, chain=self.chain, shared=self.shared, terminal=self.terminal, configuration=self._configuration)

    def close(self) -> None:
        if "api" in self.__dict__:
            self.api.close()
