"""The cycle collector is paused only while a bulk read runs, and comes back as it was."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from runbooks.kube.bulk import collector_paused


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    gc.enable() if was else gc.disable()


def test_the_collector_runs_again_after_the_block_even_when_it_raises() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("a check failed")
    assert gc.isenabled()


def test_nested_blocks_resume_only_when_the_outermost_ends() -> None:
    gc.enable()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "the outer block still decodes"
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()
