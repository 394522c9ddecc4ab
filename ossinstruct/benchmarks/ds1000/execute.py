"""DS-1000 execution, the sandbox side: runs one sample the way DS-1000's test_ds1000.py does.

This module is imported by the sandbox's zygote under DS-1000's pinned interpreter
(``.venv-ds1000`` here, the ``envs/ds1000.yaml`` conda env on a cluster), which holds
DS-1000's libraries and nothing of the pipeline's: it imports the standard library only
(the libraries are the zygote's ``preload``, imported once, then shared by every job
forked from it).

The program (xlangai/DS-1000 test_ds1000.py, read, not copied)::

    code_context + "\\n" + f"code = {solution!r}\\n" + "test_execution(code)\\n"
    + ("test_string(code)\\n" if "test_string(" in code_context else "\\n")

executed with ``exec`` in an empty globals dict, in a fresh working directory (the
sandbox job's: Matplotlib problems write output.png and ans.png there), with stdout and
stderr swallowed (DS-1000's swallow_io) and stdin closed. A problem passes when that
raises nothing. DS-1000's time limit is 120 s a program (check_correctness(timeout=120));
the sandbox enforces it (status "timeout").

``python -m ossinstruct.benchmarks.ds1000.execute --versions`` prints the interpreter's and the
libraries' versions as JSON (recorded in the result file).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import sys
import traceback

HANDLER = "ossinstruct.benchmarks.ds1000.execute:run_sample"
TIMEOUT_S = 120.0  # DS-1000's test_ds1000.py: execution.check_correctness(..., timeout=120)
# What DS-1000's test script sets before anything is imported (no GPU, quiet TensorFlow);
# Agg: no display in the sandbox.
ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "CUDA_VISIBLE_DEVICES": "-1",
    "KMP_DUPLICATE_LIB_OK": "TRUE",
    "MPLBACKEND": "Agg",
}
for _name, _value in ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)

# Imported once by each zygote (SandboxPool preload): the modules DS-1000's code_context
# and reference solutions import most (counted over the 1000 problems), heaviest first.
PRELOAD = (
    "numpy",
    "pandas",
    "matplotlib",
    "matplotlib.pyplot",
    "seaborn",
    "PIL.Image",
    "scipy",
    "scipy.stats",
    "scipy.sparse",
    "scipy.optimize",
    "scipy.spatial",
    "scipy.integrate",
    "scipy.interpolate",
    "scipy.ndimage",
    "sklearn",
    "sklearn.preprocessing",
    "sklearn.model_selection",
    "sklearn.datasets",
    "sklearn.feature_extraction.text",
    "sklearn.svm",
    "sklearn.linear_model",
    "sklearn.pipeline",
    "sklearn.cluster",
    "sklearn.decomposition",
    "sklearn.ensemble",
    "sklearn.feature_selection",
    "sklearn.metrics",
    "torch",
    "tensorflow",
)
# Preloaded too where the interpreter has them (the probe below says which): modules the
# libraries' own test helpers import lazily on first use, e.g. torch 2.13's
# torch.testing.assert_close imports torch.distributed.tensor (1 s a sample otherwise).
OPTIONAL_PRELOAD = ("torch.testing", "torch.distributed.tensor")
# The distributions whose versions the result file records.
DISTRIBUTIONS = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "matplotlib",
    "torch",
    "tensorflow-cpu",
    "keras",
    "seaborn",
    "xgboost",
    "gensim",
    "statsmodels",
    "pillow",
    "pyyaml",
)
# Data a few problems download at run time (seaborn's example datasets from GitHub, 14
# Matplotlib problems; scikit-learn's California housing from figshare, one problem).
# The sandbox has no network: they are read from a data directory fetched once
# (`make ds1000-data`: ossinstruct.benchmarks.ds1000.downloads), through the variables the two
# libraries read.
SEABORN_DATASETS = ("penguins", "tips", "exercise", "planets")
SKLEARN_DATASETS = ("california_housing",)
DATA_VARIABLES = ("SEABORN_DATA", "SCIKIT_LEARN_DATA")
OUTPUT_TAIL_CHARS = 2000
ERROR_TAIL_CHARS = 4000


def test_program(code_context: str, solution: str) -> str:
    """DS-1000's test program for one sample."""
    return (
        code_context
        + "\n"
        + f"code = {solution!r}\n"
        + "test_execution(code)\n"
        + ("test_string(code)\n" if "test_string(" in code_context else "\n")
    )


class _TailSink(io.TextIOBase):
    """A write-only text stream keeping only its last characters (DS-1000 swallows the
    sample's output; a sample printing gigabytes must not fill memory or disk)."""

    def __init__(self, keep: int = OUTPUT_TAIL_CHARS):
        self.keep, self.tail = keep, ""

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        self.tail = (self.tail + text)[-self.keep :]
        return len(text)


def run_sample(context: dict, payload: dict) -> dict:
    """Sandbox handler. context: {"code_context": {task_id: code_context}} (read once per
    zygote); payload: {"task_id", "solution"}. Returns {"status": "pass"} or
    {"status": "fail", "error": the exception and the end of its traceback, "output": the
    end of what the sample printed}."""
    code_context = context["code_context"][payload["task_id"]]
    program = test_program(code_context, payload["solution"])
    sink = _TailSink()
    try:
        compiled = compile(program, f"<ds1000 {payload['task_id']}>", "exec")
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            exec(compiled, {})
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from a sample are failures too
        return {
            "status": "fail",
            "error": f"{type(exc).__name__}: {exc}"[:ERROR_TAIL_CHARS],
            "traceback": traceback.format_exc()[-ERROR_TAIL_CHARS:],
            "output": sink.tail,
        }
    return {"status": "pass"}


def versions() -> dict:
    """This interpreter's and DS-1000's libraries' versions (None when not installed), and
    which OPTIONAL_PRELOAD modules it has ("optional_preload")."""
    found = {"python": platform.python_version(), "executable": sys.executable}
    for dist in DISTRIBUTIONS:
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = None
    available = []
    for name in OPTIONAL_PRELOAD:
        try:
            if importlib.util.find_spec(name) is not None:
                available.append(name)
        except ImportError:
            pass
    found["optional_preload"] = available
    return found


def data_present(directory: str) -> dict:
    """{dataset: whether its file is in directory}."""
    files = {name: f"{name}.csv" for name in SEABORN_DATASETS} | {"california_housing": "cal_housing.pkz"}
    return {name: os.path.isfile(os.path.join(directory, file)) for name, file in files.items()}


if __name__ == "__main__":
    if sys.argv[1:] != ["--versions"]:
        sys.exit("usage: python -m ossinstruct.benchmarks.ds1000.execute --versions")
    print(json.dumps(versions()))
