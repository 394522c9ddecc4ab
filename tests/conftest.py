import os
from pathlib import Path

import pytest

# Tests never reach the network: the hub is unreachable on CI machines anyway.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def benchmark_fixture(file_name: str) -> Path:
    """A benchmark's fixture, rows in its real schema, by file name: the file beside its
    plug-in, ossinstruct/benchmarks/<folder>/fixtures/<file_name> ("humaneval.jsonl"; an
    evaluated benchmark whose evaluation reads another schema also has "<name>.eval.jsonl")."""
    found = sorted((REPO / "ossinstruct" / "benchmarks").glob(f"*/fixtures/{file_name}"))
    assert len(found) == 1, f"no benchmark folder holds fixtures/{file_name} (found {found})"
    return found[0]


# CI (.ci/run, with CI=true) installs what these tests need first: `make toolchains` (php,
# javatuples; node, g++, javac and rustc come with the machine), `make ds1000-env`
# (.venv-ds1000), `make install` (.venv), and has ../shared beside the checkout. There, a
# missing one is a failure naming it; elsewhere a visible skip saying how to get it.
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
# The MultiPL-E languages whose toolchains CI must have (Swift: no Debian package).
CI_LANGUAGES = ("java", "js", "cpp", "php", "rs")


def missing(what: str, how: str) -> None:
    """The subject of a test is absent: pytest.fail under CI, pytest.skip elsewhere; both
    name it and say how to get it."""
    if IN_CI:
        pytest.fail(f"{what} is missing, and CI installs it ({how})", pytrace=False)
    pytest.skip(f"{what} is missing ({how})")


def require_path(path: Path, what: str, how: str) -> Path:
    if not Path(path).exists():
        missing(f"{what} ({path})", how)
    return Path(path)


def require_shared(*names: str) -> Path:
    """../shared/benchmarks (or a file in it): CI lays shared/ beside the checkout."""
    root = SHARED / "benchmarks"
    for name in names or ("",):
        require_path(root / name, "the shared benchmark data", "../shared beside the checkout, as CI lays it")
    return root


def toolchain_languages(candidates=CI_LANGUAGES) -> list[str]:
    """The MultiPL-E languages of `candidates` whose toolchain is installed here."""
    from ossinstruct.sandbox import toolchains as mx

    return [lang for lang in candidates if not mx.missing_toolchains(mx.toolchain_versions([lang]))]


def require_ci_toolchains(available, skip: bool = False) -> None:
    """Every CI_LANGUAGES toolchain must be installed: under CI a failure naming what is
    not; elsewhere the test goes on with the languages it has (a skip where `skip`: the one
    test that checks them all, tests/test_multiple_exec.py)."""
    from ossinstruct.sandbox import toolchains as mx

    absent = [lang for lang in CI_LANGUAGES if lang not in available]
    if absent and (IN_CI or skip):
        tools = mx.missing_toolchains(mx.toolchain_versions(absent))
        named = "; ".join(f"{lang}: {', '.join(t) or 'its toolchain'}" for lang, t in tools.items()) or ", ".join(
            absent
        )
        missing(f"MultiPL-E toolchains ({named})", "`make toolchains`")


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


@pytest.fixture
def shared_benchmarks() -> Path:
    """../shared/benchmarks with the real HumanEval+ and MBPP+ files (a failure under CI)."""
    return require_shared("HumanEvalPlus.jsonl.gz", "MbppPlus.jsonl.gz")


@pytest.fixture
def ds1000_venv() -> Path:
    """DS-1000's pinned interpreter, .venv-ds1000 (a failure under CI, which builds it)."""
    return require_path(REPO / ".venv-ds1000" / "bin" / "python", "DS-1000's execution env", "`make ds1000-env`")


def path_without(tool: str) -> str:
    """$PATH without the directories that hold `tool` (a machine that lacks it)."""
    import shutil

    keep = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not shutil.which(tool, path=d)]
    return os.pathsep.join(keep)
