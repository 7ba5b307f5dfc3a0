"""make test's tier runner: every tier runs, lines keep their tier's prefix, any failure fails the run."""

from __future__ import annotations

import pytest

from tests import tiers


def test_every_tier_runs_to_the_end_and_one_failure_fails_the_run(capfd: pytest.CaptureFixture[str]) -> None:
    ran = tiers.parse(["quick=echo one; exit 3", "slow=sleep 0.2; echo two; echo three"])
    assert tiers.run(ran) == 1
    out = capfd.readouterr().out
    assert "[quick] one\n" in out and "[slow] two\n[slow] three\n" in out
    assert "tier quick: FAILED (exit 3)" in out and "tier slow: passed" in out and "failed: quick" in out
    assert [tier.returncode for tier in ran] == [3, 0]


def test_all_passing_tiers_pass() -> None:
    assert tiers.run(tiers.parse(["a=true", "b=true"])) == 0


@pytest.mark.parametrize("arguments", [[], ["no-command"], ["=true"]])
def test_a_malformed_tier_is_a_one_line_usage_error(arguments: list[str]) -> None:
    with pytest.raises(SystemExit, match="NAME=SHELL-COMMAND"):
        tiers.parse(arguments)


def test_minutes_reads_like_the_readme() -> None:
    assert tiers.minutes(65.4) == "1m05s" and tiers.minutes(2460) == "41m00s"
