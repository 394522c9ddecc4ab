"""The scorer: one model's samples on one benchmark, checked in the sandbox; the result file.

One scorer for every benchmark (rules eval_score, eval_score_multiple and eval_score_sampled
all run it). The benchmark's plug-in says what differs, through the hooks of
:class:`~ossinstruct.benchmarks.base.Benchmark`: it loads its tasks, samples and expected
outputs, checks every sample (``check_samples``: in the sandbox, never in this process),
aggregates the checks into the result's numbers (``aggregate``: by default pass@k per
variant by the unbiased estimator of :mod:`ossinstruct.evaluate.metrics`; HumanEval+/MBPP+:
pass@1 on the base and on the base and plus tests), writes its tasks.jsonl lines
(``task_records``) and adds its provenance (``result_extras``) and exports.

Outputs: ``{benchmark}.json`` (the numbers and everything they depend on: data, decoding,
statuses, the scoring protocol in force), ``tasks.jsonl`` (the checks, per sample or per
task) and, for a benchmark that exports them, files for another harness to rescore
(MultiPL-E: bigcode-evaluation-harness's --load_generations_path files).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from ossinstruct.benchmarks.base import ScoringError
from ossinstruct.evaluate.metrics import pass_at_k
from ossinstruct.files import write_json_atomic, write_jsonl_atomic

log = logging.getLogger("ossinstruct.evaluate.score")

__all__ = ["ScoringError", "execution_counts", "score"]


def execution_counts(checks: list[dict]) -> dict:
    """From checks that name their execution-cache entry (MultiPL-E): samples, distinct
    programs, how many of those came from the cache and how many ran; {} otherwise."""
    keyed = [c for c in checks if c.get("execution_key")]
    if not keyed:
        return {}
    distinct = {c["execution_key"]: c.get("cached", False) for c in keyed}
    cached = sum(distinct.values())
    return {"samples": len(keyed), "distinct": len(distinct), "cached": cached, "ran": len(distinct) - cached}


def score(
    benchmark: str,
    *,
    model: str,
    samples_path,
    tasks_path,
    info: dict,
    expected_path,
    out_result,
    out_tasks,
    settings: dict,
    out_exports=None,
    cache_dir=None,
    workers: int = 1,
    generation: dict | None = None,
    paper_row: str | None = None,
) -> dict:
    """Score one model's samples on one benchmark; write the result file, tasks.jsonl and
    the benchmark's exports. `settings`: the config's evaluation.<settings_key> block of
    the benchmark; `cache_dir`: the execution cache."""
    from ossinstruct.benchmarks import evaluated
    from ossinstruct.sandbox.pool import isolation_report

    plugin = evaluated(benchmark)
    problems = plugin.load_tasks(tasks_path)
    task_ids = [p["task_id"] for p in problems]
    samples = plugin.load_samples(samples_path, task_ids, settings)
    expected = plugin.load_expected(expected_path)
    start = time.monotonic()
    checks = plugin.check_samples(problems, samples, expected, workers=workers, cache_dir=cache_dir, settings=settings)
    seconds = time.monotonic() - start
    if len(checks) != len(samples):
        raise ScoringError(f"{benchmark}: the check returned {len(checks)} results for {len(samples)} samples")
    numbers = plugin.aggregate(problems, samples, checks, pass_at_k)
    per_task: dict[str, int] = {}
    for sample in samples:
        per_task[sample["task_id"]] = per_task.get(sample["task_id"], 0) + 1
    n_per_task = sorted(set(per_task.values()))
    execution = execution_counts(checks)
    result = {
        "model": model,
        "benchmark": benchmark,
        **numbers,
        "n_tasks": len(task_ids),
        "n_samples_per_task": n_per_task,
        "limit": info.get("limit"),
        "paper_row": paper_row,
        "decoding": generation or {},
        "prompt_style": (generation or {}).get("prompt"),
        "data": {"n_tasks_release": info.get("n_tasks_release"), "version": info.get("version")},
        "scoring": {
            "estimator": "unbiased pass@k (Chen et al. 2021) per task, mean over tasks",
            "isolation": isolation_report(),
            "workers": workers,
            "seconds": round(seconds, 1),
            **({"execution": execution} if execution else {}),
        },
        # The time and memory limits and grader versions in force (also in the rule's params).
        "scoring_protocol": plugin.scoring_protocol(settings),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    for key, value in plugin.result_extras(info, settings, numbers["pass@1"]).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = {**result[key], **value}
        else:
            result[key] = value
    if out_exports is not None:
        result["exports"] = plugin.export_generations(problems, samples, out_exports)
    if out_tasks:
        write_jsonl_atomic(out_tasks, plugin.task_records(problems, samples, checks))
    write_json_atomic(out_result, result)
    log.info(
        "%s on %s: pass@1 %s over %d tasks (%s samples each) in %.0f s",
        model,
        benchmark,
        {v: round(100 * x, 1) for v, x in result["pass@1"].items()},
        len(task_ids),
        n_per_task,
        seconds,
    )
    return result
