"""kind's inotify limits: raised when below kind's values, left alone when at or above them, and a
limit that cannot be written names the sysctl that raises it."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbooks.kindenv import host_limits


def limits(tmp_path: Path, instances: int, watches: int) -> Path:
    (tmp_path / "max_user_instances").write_text(f"{instances}\n")
    (tmp_path / "max_user_watches").write_text(f"{watches}\n")
    return tmp_path


def test_limits_below_kinds_are_raised_and_the_old_values_returned(tmp_path: Path) -> None:
    said: list[str] = []
    root = limits(tmp_path, 128, 1_000_000)
    assert host_limits.raise_inotify_limits(said.append, root) == {"max_user_instances": 128}
    assert (root / "max_user_instances").read_text().strip() == "512"
    assert (root / "max_user_watches").read_text().strip() == "1000000"  # a higher limit is never lowered
    assert said == ["raised fs.inotify.max_user_instances from 128 to 512: kind's nodes share this host's inotify limits"]


def test_a_limit_that_cannot_be_written_names_the_sysctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    said: list[str] = []
    root = limits(tmp_path, 128, 524288)

    def refused(self: Path, data: str) -> int:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_text", refused)  # what a non-root user meets under /proc/sys
    assert host_limits.raise_inotify_limits(said.append, root) == {}
    assert said == [
        "fs.inotify.max_user_instances is 128, below kind's 512: kubelets may fail 'too many open files'; run `sysctl -w fs.inotify.max_user_instances=512`"
    ]


def test_a_kernel_without_inotify_is_left_alone(tmp_path: Path) -> None:
    said: list[str] = []
    assert host_limits.raise_inotify_limits(said.append, tmp_path / "absent") == {} and said == []
