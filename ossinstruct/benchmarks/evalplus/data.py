"""The data HumanEval+ and MBPP+ are evaluated on, as evalplus reads it.

Each function takes the plug-in (an EvalPlusBenchmark: HumanEval or MBPP), whose
attributes hold what differs: the override variable, the task id prefix, the releases.
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

from ossinstruct.files import InputError, atomic_path, read_jsonl, write_json_atomic, write_jsonl_atomic
from ossinstruct.llm.models import sha256_file
from ossinstruct.logs import Progress

log = logging.getLogger("ossinstruct.benchmarks.evalplus.data")

# The fields of an EvalPlus release row that evaluation reads.
REQUIRED_FIELDS = (
    "task_id",
    "prompt",
    "entry_point",
    "canonical_solution",
    "base_input",
    "plus_input",
    "atol",
)
# Every EvalPlus release's task id prefix and name ({"HumanEval/": "HumanEval", ...}),
# filled by EvalPlusBenchmark as its subclasses are defined: a file of the other benchmark
# is named in the error.
RELEASE_PREFIXES: dict[str, str] = {}


class BenchmarkDataError(InputError, RuntimeError):
    pass


def evalplus_version() -> str:
    return importlib.metadata.version("evalplus")


def _download_release(plugin, version: str) -> str:
    """The release file of `version`: the download cache's (rule prefetch fetched it; a
    job the workflow runs offline finds it there or fails naming it), else evalplus's
    cached copy (downloaded once into its cache). Its loaders pin one release (0.3.1's
    HumanEval+ loader ignores a version), so the file is fetched with evalplus's own
    helpers."""
    from ossinstruct.prefetch import require_evalplus

    benchmark, release_name = plugin.name, plugin.release_name
    prefetched = require_evalplus(release_name, version)
    if prefetched is not None:
        return str(prefetched)
    from evalplus.data.utils import get_dataset_metadata, make_cache

    url, file = get_dataset_metadata(release_name, version, False)
    try:
        make_cache(url, file)
    except Exception as exc:
        raise BenchmarkDataError(
            f"evaluation.data.{benchmark}: could not download {release_name} "
            f"{version} ({type(exc).__name__}: {exc}); offline, set evaluation.data."
            f"{benchmark}.path to a release file"
        ) from None
    return file


def _evalplus_data(plugin, path: str | None, version: str | None = None):
    """(rows in file order, the file evalplus read, its release version)."""
    env = plugin.env_override
    if path:
        if not Path(path).is_file():
            raise BenchmarkDataError(f"config key evaluation.data.{plugin.name}.path: no such file: {path}")
        if "evalplus.data" in sys.modules and os.environ.get(env) != str(path):
            # evalplus read the variable when it was imported; too late to change it.
            raise BenchmarkDataError(
                f"evalplus was imported before {env} was set to {path}; prepare the data in a fresh process"
            )
        os.environ[env] = str(path)
    elif os.environ.get(env) and "evalplus.data" not in sys.modules:
        path = os.environ[env]
    if path:  # a local file: evalplus reads it through its override variable
        file = plugin.evalplus_override_file()
        release = None
    else:
        release = version or plugin.paper_release
        file = _download_release(plugin, release)
    # The benchmark's one loader, the one decontamination reads its files with.
    rows = plugin.load_rows({"source": "file", "path": str(file)})
    return rows, file, release


def check_rows(plugin, rows: list[dict], file) -> None:
    """Every row has evalplus's fields and a task id of this benchmark (a HumanEval+ file
    given for MBPP+ fails here, not deep inside evalplus)."""
    benchmark, display, prefix = plugin.name, plugin.display, plugin.task_id_prefix
    for line, row in enumerate(rows, 1):
        missing = [key for key in REQUIRED_FIELDS if key not in row]
        if missing:
            raise BenchmarkDataError(
                f"{file}: line {line}: not an EvalPlus {display}+ row (missing {', '.join(missing)})"
            )
        task_id = str(row["task_id"])
        if not task_id.startswith(prefix):
            others = [name for other, name in RELEASE_PREFIXES.items() if task_id.startswith(other)]
            hint = f"; this looks like a {others[0]}+ file" if others else ""
            raise BenchmarkDataError(
                f"{file}: line {line}: task {task_id} is not from {display}+ (expected task ids "
                f"{prefix}...{hint}); check --path / evaluation.data.{benchmark}.path"
            )


def expected_outputs(plugin, problem: dict) -> dict:
    """The canonical solution's outputs and times on the base and plus inputs: evalplus's
    ground truth (evaluate.get_groundtruth) for one task. Runs benchmark code, not
    generated code."""
    from evalplus.gen.util import trusted_exec

    code = plugin.reference_solution(problem)
    not_none = plugin.output_not_none(problem)
    oracle = {}
    for kind in ("base", "plus"):
        oracle[kind], oracle[f"{kind}_time"] = trusted_exec(
            code, problem[f"{kind}_input"], problem["entry_point"], record_time=True, output_not_none=not_none
        )
    return oracle


def prepare_benchmark(
    plugin,
    *,
    path: str | None,
    version: str | None,
    limit: int | None,
    out_tasks: str,
    out_info: str,
    out_expected: str,
) -> dict:
    benchmark = plugin.name
    rows, file, release = _evalplus_data(plugin, path, version)
    check_rows(plugin, rows, file)
    sha256 = sha256_file(file)
    known = plugin.known_releases.get(sha256)
    if version and known and version != known:
        raise BenchmarkDataError(
            f"config key evaluation.data.{benchmark}.version: {version!r}, but {file} is the "
            f"{plugin.release_name} {known} release file (sha256 {sha256[:12]})"
        )
    in_force = rows[:limit] if limit else rows
    start = time.monotonic()
    # The canonical solutions on every input: the long part (HumanEval+ ~30 s, MBPP+ ~85 s).
    progress = Progress(log, f"{benchmark}: expected outputs", total=len(in_force))
    expected = {}
    for row in in_force:
        expected[row["task_id"]] = expected_outputs(plugin, plugin.deserialize(row))
        progress.step()
    progress.done()
    info = {
        "benchmark": benchmark,
        "source": "file" if path else "evalplus download",
        "path": str(file),
        "sha256": sha256,
        "version": release or version or known,
        "paper_version": plugin.paper_release,
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


def load_tasks(plugin, tasks_path: str | os.PathLike) -> list[dict]:
    """The tasks in force, deserialized as evalplus's loaders return them."""
    rows = list(read_jsonl(tasks_path, required=REQUIRED_FIELDS, what=f"{plugin.display}+ task"))
    check_rows(plugin, rows, tasks_path)
    return [plugin.deserialize(row) for row in rows]
