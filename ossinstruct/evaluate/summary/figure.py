"""summary.png: grouped bars, one panel per benchmark variant, our pass@1 beside the paper's."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from ossinstruct.evaluate.summary.rows import is_partial, variant_label


def summary_figure(rows: Sequence[dict], path: str | os.PathLike, title: str = "") -> None:
    """Grouped bars, one panel per benchmark variant (HumanEval, HumanEval+, ...): per
    model, our pass@1 (solid) beside the paper's (light, hatched; absent where the paper
    has none). Models evaluated on a subset of the tasks are starred."""
    from ossinstruct.curate.figures import _pyplot, _save

    plt = _pyplot()
    panels = list(dict.fromkeys((r["benchmark"], r["variant"]) for r in rows))
    models = list(dict.fromkeys(r["model"] for r in rows))
    partial = any(is_partial(r) for r in rows)
    # Panels side by side while they stay narrow; with many models, one per row.
    ncols = 2 if len(panels) > 1 and len(models) <= 5 else 1
    nrows = max(1, math.ceil(len(panels) / ncols))
    width = max(4.0, 0.75 * len(models) + 1.5)
    rotate = len(models) > 2
    longest = max((len(m) for m in models), default=0)
    # Room under each panel for the (rotated) model names.
    height = 2.8 + (0.07 * longest if rotate else 0.3)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows + 0.9), squeeze=False, sharey=True)
    flat = list(axes.flat)
    if not panels:
        flat[0].text(0.5, 0.5, "no evaluation results", ha="center", va="center", transform=flat[0].transAxes)
        flat[0].set_axis_off()
    bar = 0.38
    label_size = 7 if len(models) <= 5 else 6
    for ax, (benchmark, variant) in zip(flat, panels):
        by_model = {r["model"]: r for r in rows if (r["benchmark"], r["variant"]) == (benchmark, variant)}
        for x, model in enumerate(models):
            row = by_model.get(model)
            if row is None:
                continue
            ours = ax.bar(x - bar / 2, row["ours"], bar, color="#3b75af", label="ours")
            ax.bar_label(ours, fmt="%.1f", fontsize=label_size, padding=1)
            if row["paper"] is not None:
                theirs = ax.bar(
                    x + bar / 2,
                    row["paper"],
                    bar,
                    color="#3b75af",
                    alpha=0.3,
                    hatch="//",
                    edgecolor="#3b75af",
                    linewidth=0.5,
                    label="paper",
                )
                ax.bar_label(theirs, fmt="%.1f", fontsize=label_size, padding=1, color="#555555")
        ax.set_title(variant_label(benchmark, variant))
        # Starred per panel: a model may be limited on one benchmark and not another.
        names = [m + (" *" if m in by_model and is_partial(by_model[m]) else "") for m in models]
        ax.set_xticks(
            range(len(models)), names, rotation=30 if rotate else 0, ha="right" if rotate else "center", fontsize=8
        )
        ax.set_ylim(0, 108)
        ax.set_yticks(range(0, 101, 20))
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("pass@1 (%)")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    for ax in flat[len(panels) or 1 :]:
        ax.set_axis_off()
    # One legend for the figure, from whichever panels drew each kind of bar.
    handles = {}
    for ax in flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        # Under the title, outside the panels, so it never hides a bar.
        fig.legend(
            list(handles.values()),
            list(handles),
            loc="upper center",
            frameon=False,
            ncols=2,
            bbox_to_anchor=(0.5, 1 - 0.45 / fig.get_figheight()),
            fontsize=9,
        )
    fig.suptitle(
        title or "pass@1: this pipeline (solid) vs. the Magicoder paper (hatched)",
        y=1 - 0.12 / fig.get_figheight(),
        va="top",
    )
    if partial:
        fig.text(
            0.01,
            0.0,
            "* evaluated on a subset of the tasks: not comparable to the paper",
            fontsize=8,
            ha="left",
            va="bottom",
            color="#aa3300",
        )
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight() if partial else 0, 1, 1 - 0.65 / fig.get_figheight()))
    _save(fig, path)
