"""A Cluster whose API is the seam's in-memory fake: unit tests run library code against it."""

from __future__ import annotations

from pathlib import Path

from runbooks.cluster import Capability, Cluster
from runbooks.kube.fake import FakeApi
from runbooks.kube.session import Session
from runbooks.versions import ComponentVersions


class FakeCluster(Cluster):
    provider = "fake"

    def __init__(self, fake: FakeApi | None = None, capabilities: frozenset[Capability] = frozenset()) -> None:
        super().__init__()
        self.fake = fake or FakeApi()
        self._capabilities = capabilities

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self.fake.session()
            self._session.chain = self.api_chain
        return self._session

    def start(self) -> None: ...
    def stop(self) -> None: ...

    @property
    def kubeconfig(self) -> Path:
        return Path("/nonexistent/fake.kubeconfig")

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self._capabilities

    def component_versions(self) -> ComponentVersions:
        raise NotImplementedError("the fake cluster runs no components")
