"""Provenance of a trained model: library versions, the git commit, and the loss curve
(loss_curve.png) next to manifest.json."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from ossinstruct.train.config import LIBRARIES

# --------------------------------------------------------------------------- provenance


def library_versions() -> dict:
    from importlib import metadata

    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = sys.version.split()[0]
    return versions


def git_commit(path: str | os.PathLike | None = None) -> str | None:
    """HEAD of the repository holding this package (None outside a git checkout)."""
    where = Path(path) if path else Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40,64}", commit) else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def plot_loss_curve(log_history: list[dict], path: str | os.PathLike, title: str = "") -> bool:
    """Training loss vs optimizer step (matplotlib, Agg); False when nothing was logged."""
    points = [(e["step"], e["loss"]) for e in log_history if "loss" in e and "step" in e]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    if points:
        steps, losses = zip(*points)
        ax.plot(steps, losses, marker="o" if len(points) < 30 else None, linewidth=1.2)
    else:
        ax.text(0.5, 0.5, "no loss logged", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("training loss")
    ax.set_title(title or "training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return bool(points)
