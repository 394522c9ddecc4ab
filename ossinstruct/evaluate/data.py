"""The benchmark data an evaluation runs on: HumanEval+ and MBPP+ as evalplus reads them.

`prepare_benchmark` writes, once per study, the three files every model's jobs share:

* ``{benchmark}.jsonl``: the tasks in force (the first `limit` of the file, or all), each
  row exactly as in the release file, so generation and scoring read the same tasks;
* ``{benchmark}.json``: provenance: the source file, its sha256, the release version,
  the evalplus version, the number of tasks in the release and in force;
* ``{benchmark}.expected.pkl``: the canonical solutions' outputs and running times on
  the base and plus inputs, computed as evalplus computes its ground truth, so that
  scoring a sample needs nothing but the sample.

The data comes from evalplus's download of a release (``evaluation.data.<name>.version``;
by default the paper's: HumanEval+ v0.1.9 and MBPP+ v0.1.0, those of evalplus 1895d2f,
which the Magicoder authors pin, rather than evalplus 0.3.1's v0.1.10 and v0.2.0) or, on
machines without access to GitHub, from a local copy of a release file
(``evaluation.data.<name>.path``; ../shared/benchmarks holds them). evalplus decides which file it reads from the
HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH variables at import time, so they are set
here before evalplus is first imported.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import pickle
import sys
import time
from pathlib import Path

from ossinstruct.benchmarks import EVALPLUS, REGISTRY
from ossinstruct.benchmarks.evalplus_tasks import REQUIRED_FIELDS as EVALPLUS_REQUIRED_FIELDS
from ossinstruct.files import InputError, atomic_path, read_jsonl, write_json_atomic, write_jsonl_atomic
from ossinstruct.llm.models import sha256_file
from ossinstruct.logs import Progress

log = logging.getLogger("ossinstruct.evaluate.data")

# Per-benchmark facts (override variable, task id prefix, releases) are the benchmark
# module's (ossinstruct/benchmarks/); these views keep this module's names.
BENCHMARKS = EVALPLUS
OVERRIDE_ENV = {b: REGISTRY[b].env_override for b in EVALPLUS}
DISPLAY = {b: REGISTRY[b].display for b in EVALPLUS}
TASK_ID_PREFIX = {b: REGISTRY[b].task_id_prefix for b in EVALPLUS}
REQUIRED_FIELDS = EVALPLUS_REQUIRED_FIELDS
PAPER_RELEASES = {b: REGISTRY[b].paper_release for b in EVALPLUS}
RELEASE_NAMES = {b: REGISTRY[b].release_name for b in EVALPLUS}
KNOWN_RELEASES = {sha: version for b in EVALPLUS for sha, version in REGISTRY[b].known_releases.items()}


class BenchmarkDataError(InputError, RuntimeError):
    pass


def evalplus_version() -> str:
    return importlib.metadata.version("evalplus")


def _check_name(benchmark: str) -> None:
    if benchmark not in BENCHMARKS:
        raise BenchmarkDataError(f"unknown benchmark {benchmark!r}; known: {', '.join(BENCHMARKS)}")


def _download_release(benchmark: str, version: str) -> str:
    """The release file of `version`: the download cache's (rule prefetch fetched it; a
    job the workflow runs offline finds it there or fails naming it), else evalplus's
    cached copy (downloaded once into its cache). Its loaders pin one release (0.3.1's
    HumanEval+ loader ignores a version), so the file is fetched with evalplus's own
    helpers."""
    from ossinstruct.prefetch import require_evalplus

    prefetched = require_evalplus(RELEASE_NAMES[benchmark], version)
    if prefetched is not None:
        return str(prefetched)
    from evalplus.data.utils import get_dataset_metadata, make_cache

    url, file = get_dataset_metadata(RELEASE_NAMES[benchmark], version, False)
    try:
        make_cache(url, file)
    except Exception as exc:
        raise BenchmarkDataError(
            f"evaluation.data.{benchmark}: could not download {RELEASE_NAMES[benchmark]} "
            f"{version} ({type(exc).__name__}: {exc}); offline, set evaluation.data."
            f"{benchmark}.path to a release file"
        ) from None
    return file


def _evalplus_data(benchmark: str, path: str | None, version: str | None = None):
    """(rows in file order, the file evalplus read, its release version)."""
    env = OVERRIDE_ENV[benchmark]
    if path:
        if not Path(path).is_file():
            raise BenchmarkDataError(f"config key evaluation.data.{benchmark}.path: no such file: {path}")
        if "evalplus.data" in sys.modules and os.environ.get(env) != str(path):
            # evalplus read the variable when it was imported; too late to change it.
            raise BenchmarkDataError(
                f"evalplus was imported before {env} was set to {path}; prepare the data in a fresh process"
            )
        os.environ[env] = str(path)
    elif os.environ.get(env) and "evalplus.data" not in sys.modules:
        path = os.environ[env]
    from evalplus.data import humaneval as he
    from evalplus.data import mbpp as mb

    if path:  # a local file: evalplus reads it through its override variable
        file = he._ready_human_eval_plus_path() if benchmark == "humaneval" else mb._ready_mbpp_plus_path()
        release = None
    else:
        release = version or PAPER_RELEASES[benchmark]
        file = _download_release(benchmark, release)
    # The benchmark's one loader, the one decontamination reads its files with.
    rows = REGISTRY[benchmark].load_rows({"source": "file", "path": str(file)})
    return rows, file, release


def check_rows(benchmark: str, rows: list[dict], file) -> None:
    """Every row has evalplus's fields and a task id of this benchmark (a HumanEval+ file
    given for MBPP+ fails here, not deep inside evalplus)."""
    for line, row in enumerate(rows, 1):
        missing = [key for key in REQUIRED_FIELDS if key not in row]
        if missing:
            raise BenchmarkDataError(
                f"{file}: line {line}: not an EvalPlus {DISPLAY[benchmark]}+ row (missing {', '.join(missing)})"
            )
        task_id = str(row["task_id"])
        if not task_id.startswith(TASK_ID_PREFIX[benchmark]):
            others = [DISPLAY[b] for b, prefix in TASK_ID_PREFIX.items() if task_id.startswith(prefix)]
            hint = f"; this looks like a {others[0]}+ file" if others else ""
            raise BenchmarkDataError(
                f"{file}: line {line}: task {task_id} is not from {DISPLAY[benchmark]}+ (expected task ids "
                f"{TASK_ID_PREFIX[benchmark]}...{hint}); check --path / evaluation.data.{benchmark}.path"
            )


def deserialize(benchmark: str, row: dict) -> dict:
    """A release row as evalplus's loaders return it (MBPP+ inputs become tuples, sets...)."""
    return REGISTRY[benchmark].deserialize(row)


def expected_outputs(benchmark: str, problem: dict) -> dict:
    """The canonical solution's outputs and times on the base and plus inputs: evalplus's
    ground truth (evaluate.get_groundtruth) for one task. Runs benchmark code, not
    generated code."""
    from evalplus.gen.util import trusted_exec

    plugin = REGISTRY[benchmark]
    code = plugin.reference_solution(problem)
    not_none = plugin.output_not_none(problem)
    oracle = {}
    for kind in ("base", "plus"):
        oracle[kind], oracle[f"{kind}_time"] = trusted_exec(
            code, problem[f"{kind}_input"], problem["entry_point"], record_time=True, output_not_none=not_none
        )
    return oracle


def prepare_benchmark(
    benchmark: str,
    *,
    path: str | None,
    version: str | None,
    limit: int | None,
    out_tasks: str,
    out_info: str,
    out_expected: str,
) -> dict:
    _check_name(benchmark)
    rows, file, release = _evalplus_data(benchmark, path, version)
    check_rows(benchmark, rows, file)
    sha256 = sha256_file(file)
    known = KNOWN_RELEASES.get(sha256)
    if version and known and version != known:
        raise BenchmarkDataError(
            f"config key evaluation.data.{benchmark}.version: {version!r}, but {file} is the "
            f"{RELEASE_NAMES[benchmark]} {known} release file (sha256 {sha256[:12]})"
        )
    in_force = rows[:limit] if limit else rows
    start = time.monotonic()
    # The canonical solutions on every input: the long part (HumanEval+ ~30 s, MBPP+ ~85 s).
    progress = Progress(log, f"{benchmark}: expected outputs", total=len(in_force))
    expected = {}
    for row in in_force:
        expected[row["task_id"]] = expected_outputs(benchmark, deserialize(benchmark, row))
        progress.step()
    progress.done()
    info = {
        "benchmark": benchmark,
        "source": "file" if path else "evalplus download",
        "path": str(file),
        "sha256": sha256,
        "version": release or version or known,
        "paper_version": PAPER_RELEASES[benchmark],
        "evalplus_version": evalplus_version(),
        "n_tasks_release": len(rows),
        "limit": limit,
        "n_tasks": len(in_force),
        "task_ids": [row["task_id"] for row in in_force],
        "ground_truth_seconds": round(time.monotonic() - start, 1),
    }
    write_jsonl_atomic(out_tasks, in_force)
    with atomic_path(out_expected) as tmp:
        with open(tmp, "wb") as f:
            pickle.dump(expected, f, protocol=pickle.HIGHEST_PROTOCOL)
    write_json_atomic(out_info, info)
    return info


def load_tasks(benchmark: str, tasks_path: str | os.PathLike) -> list[dict]:
    """The tasks in force, deserialized as evalplus's loaders return them."""
    _check_name(benchmark)
    rows = list(read_jsonl(tasks_path, required=REQUIRED_FIELDS, what=f"{DISPLAY[benchmark]}+ task"))
    check_rows(benchmark, rows, tasks_path)
    return [deserialize(benchmark, row) for row in rows]


def load_expected(path: str | os.PathLike) -> dict:
    """eval-data's expected outputs (written by this package, so plain pickle is fine)."""
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except (EOFError, pickle.UnpicklingError) as e:
        raise BenchmarkDataError(
            f"{path}: not a complete expected-outputs file ({type(e).__name__}: {e}); "
            "rerun eval-data for this benchmark"
        ) from e
