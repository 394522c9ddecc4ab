import os
from pathlib import Path

import pytest

# Tests never reach the network: the hub is unreachable on CI machines anyway.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture
def repo() -> Path:
    return REPO


def write_tree(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create files under root from {relative path: content}."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def coloured_pixels(path) -> int:
    """Pixels of a PNG that are neither grey, white nor black. Matplotlib draws axes, ticks,
    text and grid lines in greys and the data (bars, lines, histograms) in colour, so 0
    means nothing was plotted."""
    import matplotlib.image as mpimg
    import numpy as np

    rgb = np.asarray(mpimg.imread(path))[..., :3].astype(float)
    if rgb.max() > 1.0:
        rgb = rgb / 255.0
    return int(((rgb.max(axis=-1) - rgb.min(axis=-1)) > 0.1).sum())


@pytest.fixture
def saved_figures(monkeypatch) -> list:
    """Every matplotlib figure saved during the test, to check what it plots."""
    from matplotlib.figure import Figure

    figures = []
    original = Figure.savefig

    def savefig(self, *args, **kwargs):
        figures.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return figures
