"""The harness self-check: a benchmark's own reference solutions scored as a model's samples.

Every number in the summary is only as good as the scorer. The pseudo-model
``reference-solutions`` has, for each task in force, the benchmark's canonical solution
(prompt + canonical_solution, as evalplus computes its ground truth) as its sample; it goes
through the same scoring step as every model (`rule eval_score`, the sandbox, evalplus's
check), so its row shows the harness at work even where a demo model scores 0. What it
should give depends on the release scored: :data:`SELF_CHECK_FIGURES` holds the figures
measured here, per (benchmark, release); :func:`self_check_expectations` says, for the
results of a run, what holds for the releases in force (or that none was measured).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ossinstruct.benchmarks import REGISTRY
from ossinstruct.evaluate.data import DISPLAY, check_rows
from ossinstruct.files import read_jsonl, write_jsonl_atomic

# What the self-check gives on a release, as measured here (tests/test_eval_score.py, on the
# release files in ../shared/benchmarks; bench/ds1000_references.py for DS-1000). Releases
# not listed (HumanEval+ v0.1.9 and MBPP+ v0.1.0, the paper's, which only evalplus's
# download gives) have no figure: the summary says so rather than quote another release's.
SELF_CHECK_FIGURES: dict[tuple[str, str], str] = {
    ("humaneval", "v0.1.10"): "163/164 base and plus (HumanEval/32's canonical solution fails its own check, "
    "as with evalplus.evaluate itself)",
    ("mbpp", "v0.2.0"): "378/378 base; plus within one or two tasks of 378 (Mbpp/255 and Mbpp/392 sit at "
    "evalplus's time limit)",
    ("ds1000", "4416080ac5cb80bdf7576aefb8f9a0b4d5426a44"): "985/1000 without the data 15 problems download "
    "(those 15 fail offline); every other problem passes",
}


def self_check_expectations(results: Sequence[Mapping]) -> list[str]:
    """One line per self-check result (model reference-solutions) of a run: the figure
    measured here for its benchmark's release in force, or that none was measured for it."""
    from ossinstruct.config import REFERENCE_MODEL

    lines = []
    for result in results:
        if result.get("model") != REFERENCE_MODEL:
            continue
        benchmark = result.get("benchmark")
        data = result.get("data") if isinstance(result.get("data"), Mapping) else {}
        release = data.get("version")
        name = REGISTRY[benchmark].display if benchmark in REGISTRY else benchmark
        figure = SELF_CHECK_FIGURES.get((benchmark, release)) if release else None
        if figure:
            lines.append(f"{name} {release}: {figure}.")
        else:
            known = sorted(r for b, r in SELF_CHECK_FIGURES if b == benchmark)
            also = f" (measured: {', '.join(known)})" if known else ""
            lines.append(f"{name} {release or '(release not recorded)'}: no self-check figure measured here{also}.")
    return list(dict.fromkeys(lines))


def reference_samples(benchmark: str, tasks_path, out_path) -> int:
    """Write one sample per task in force, in the schema eval_generate writes; returns how many."""
    plugin = REGISTRY[benchmark]
    if plugin.per_sample_scoring:
        tasks = list(read_jsonl(tasks_path, required=("task_id",), what=f"{plugin.display} task"))
        samples = []
        for task in tasks:
            solution = plugin.reference_solution(task)
            samples.append(
                {
                    "task_id": task["task_id"],
                    "sample": 0,
                    "benchmark": benchmark,
                    "style": "reference",
                    "raw": solution,
                    "completion": solution,
                    "solution": solution,
                }
            )
        return write_jsonl_atomic(out_path, samples)
    tasks = list(
        read_jsonl(
            tasks_path,
            required=("task_id", "prompt", "canonical_solution"),
            what=f"{DISPLAY[benchmark]}+ task",
        )
    )
    check_rows(benchmark, tasks, tasks_path)
    samples = []
    for task in tasks:
        solution = REGISTRY[benchmark].reference_solution(task)
        samples.append(
            {
                "task_id": task["task_id"],
                "benchmark": benchmark,
                "style": "reference",
                "prompt": task["prompt"],
                "raw": task["canonical_solution"],
                "completion": task["canonical_solution"],
                "solution": solution,
                "sanitized": solution,  # scored as evalplus runs its ground truth: unsanitized
            }
        )
    return write_jsonl_atomic(out_path, samples)
