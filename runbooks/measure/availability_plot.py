"""Small availability plots for the report: a probe's timeline (ready, live pods, per-label split)
drawn against its budget line, as PNG bytes for `evidence.image`."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display on CI or servers; set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from runbooks.measure.availability import ProbeReport  # noqa: E402

SPLIT_COLOURS = {"blue": "tab:blue", "green": "tab:green", "stable": "tab:blue", "canary": "tab:orange"}


def availability_png(
    report: ProbeReport,
    title: str,
    ceiling: int | None = None,
    what: str = "pods",
    marks: Sequence[tuple[float, str]] = (),
) -> bytes:
    """The timeline of `report` as a PNG about 560x240 px: ready count, live count, the ReplicaSets'
    requested count (when the probe watched them), each split label's ready count, the budget (fewest ready allowed)
    and an optional ceiling (most pods allowed)."""
    samples = report.samples
    seconds = [s.seconds for s in samples]
    figure, axes = plt.subplots(figsize=(7, 3), dpi=80)
    try:
        axes.step(seconds, [s.ready for s in samples], where="post", color="black", linewidth=2, label=f"ready {what}")
        axes.step(seconds, [s.total for s in samples], where="post", color="grey", linestyle=":", label=f"live {what}")
        if report.replica_sets is not None:
            axes.step(
                seconds, [report.requested(s) for s in samples], where="post", color="tab:purple", alpha=0.6, linestyle="-.", label="requested by ReplicaSets"
            )
        for value in sorted({key for s in samples for key in s.by_label}):
            axes.step(
                seconds,
                [s.by_label.get(value, 0) for s in samples],
                where="post",
                color=SPLIT_COLOURS.get(value),
                alpha=0.7,
                label=f"ready {value or '(none)'}",
            )
        if report.budget is not None:
            axes.axhline(report.budget, color="red", linestyle="--", linewidth=1.5, label=f"budget: {report.budget} ready")
        if ceiling is not None:
            axes.axhline(ceiling, color="darkorange", linestyle="--", linewidth=1, label=f"ceiling: {ceiling} {what}")
        for at, text in marks:
            axes.axvline(at, color="purple", linewidth=0.8, alpha=0.6)
            axes.annotate(text, (at, 0), xytext=(3, 3), textcoords="offset points", fontsize=7, color="purple")
        top = max([s.total for s in samples] + [report.budget or 0, ceiling or 0]) + 1
        axes.set_ylim(-0.2, top)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("seconds since the probe started")
        axes.set_ylabel(what)
        axes.set_title(title, fontsize=10)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
