"""Scoring benchmarks checked per sample (MultiPL-E, DS-1000, APPS): pass@k over n samples.

Each sample is checked by its benchmark (``Benchmark.check_samples``: in the sandbox, never
in this process) and gets a status; "pass" counts as passed. Per task, with n samples of
which c pass, pass@k is the unbiased estimator of Chen et al. 2021
(:func:`ossinstruct.evaluate.multiple_exec.pass_at_k`); pass@1 of a variant (a language, a
library, a difficulty: ``Benchmark.variant_of``) is the mean over its tasks, and the
benchmark's ``overall_variant`` (if any) the mean over all tasks. With one greedy sample per
task this is the fraction of tasks whose sample passes.

Outputs: ``{benchmark}.json`` (pass@1 per variant and everything it depends on: data,
decoding, statuses, the benchmark's provenance), ``tasks.jsonl`` (one line per sample: its
task, variant and status) and, for a benchmark that exports them, files for another
harness to rescore (MultiPL-E: bigcode-evaluation-harness's --load_generations_path files).
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from ossinstruct.evaluate.multiple_exec import pass_at_k
from ossinstruct.files import InputError, read_jsonl, write_json_atomic, write_jsonl_atomic

log = logging.getLogger("ossinstruct.evaluate.sampled_score")

PASS = "pass"
# pass@k reported besides pass@1 where every task has at least k samples.
EXTRA_K = (10, 100)


class SampledScoringError(InputError, RuntimeError):
    pass


def load_expected_file(path) -> object:
    """eval-data's expected file of a per-sample benchmark (results/eval/data/{b}.expected.pkl):
    a pickle this package wrote, or JSON (an empty object when the benchmark needs none)."""
    if path is None:
        return {}
    try:
        head = Path(path).read_bytes()[:1]
    except OSError as exc:
        raise SampledScoringError(f"{path}: cannot read the expected outputs ({exc}); rerun eval-data") from None
    if head == b"\x80":
        from ossinstruct.evaluate.data import load_expected

        return load_expected(path)
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SampledScoringError(f"{path}: not a complete expected-outputs file ({exc}); rerun eval-data") from None


def samples_by_task(samples_path, task_ids: list[str]) -> dict[str, list[dict]]:
    """Each task's samples in sample order; every task in force needs at least one, and
    no sample may name a task not in force or repeat a sample index."""
    grouped: dict[str, dict[int, dict]] = {}
    for sample in read_jsonl(samples_path, required=("task_id", "sample", "solution"), what="sample"):
        per_task = grouped.setdefault(sample["task_id"], {})
        if sample["sample"] in per_task:
            raise SampledScoringError(f"{samples_path}: task {sample['task_id']} has sample {sample['sample']} twice")
        per_task[sample["sample"]] = sample
    from ossinstruct.evaluate.score import check_coverage

    check_coverage(samples_path, grouped, task_ids, SampledScoringError)
    return {t: [grouped[t][k] for k in sorted(grouped[t])] for t in task_ids}


def aggregate(plugin, problems: list[dict], statuses: dict[str, list[str]]) -> dict:
    """pass@1 (and pass@k where every task has k samples) per variant and overall, from
    each task's sample statuses."""
    per_task = {}
    for problem in problems:
        got = statuses[problem["task_id"]]
        per_task[problem["task_id"]] = (len(got), got.count(PASS))
    variant_of = {p["task_id"]: plugin.variant_of(p) for p in problems}
    order = [v for v in plugin.variants if v in variant_of.values()]
    order += [v for v in dict.fromkeys(variant_of.values()) if v not in order]
    min_n = min((n for n, _ in per_task.values()), default=0)
    ks = [1] + [k for k in EXTRA_K if k <= min_n]
    out: dict = {f"pass@{k}": {} for k in ks}
    n_tasks = {}
    for variant in order + ([plugin.overall_variant] if plugin.overall_variant else []):
        ids = [t for t in per_task if variant == plugin.overall_variant or variant_of[t] == variant]
        if not ids:
            continue
        n_tasks[variant] = len(ids)
        for k in ks:
            out[f"pass@{k}"][variant] = sum(pass_at_k(*per_task[t], k) for t in ids) / len(ids)
    out["n_tasks_per_variant"] = n_tasks
    # Tasks whose every sample passed / whose first sample passed: a greedy run's counts.
    out["n_passed"] = {v: sum(per_task[t][1] == per_task[t][0] for t in per_task if variant_of[t] == v) for v in order}
    return out


def execution_counts(checks: list[dict]) -> dict:
    """From checks that name their execution-cache entry (MultiPL-E): samples, distinct
    programs, how many of those came from the cache and how many ran; {} otherwise."""
    keyed = [c for c in checks if c.get("execution_key")]
    if not keyed:
        return {}
    distinct = {c["execution_key"]: c.get("cached", False) for c in keyed}
    cached = sum(distinct.values())
    return {"samples": len(keyed), "distinct": len(distinct), "cached": cached, "ran": len(distinct) - cached}


def score_sampled(
    benchmark: str,
    *,
    model: str,
    samples_path,
    tasks_path,
    info: dict,
    expected_path,
    out_result,
    out_tasks,
    out_exports=None,
    settings: dict | None = None,
    cache_dir=None,
    workers: int = 1,
    generation: dict | None = None,
    paper_row: str | None = None,
) -> dict:
    """Score one model's samples on one per-sample benchmark; write the result file,
    tasks.jsonl and the benchmark's exports."""
    from ossinstruct.benchmarks import evaluated
    from ossinstruct.sandbox.pool import isolation_report

    plugin = evaluated(benchmark)
    settings = settings or {}
    problems = list(read_jsonl(tasks_path, required=("task_id",), what=f"{plugin.display} task"))
    task_ids = [p["task_id"] for p in problems]
    grouped = samples_by_task(samples_path, task_ids)
    samples = [s for t in task_ids for s in grouped[t]]
    expected = load_expected_file(expected_path)
    start = time.monotonic()
    checks = plugin.check_samples(problems, samples, expected, workers=workers, cache_dir=cache_dir, settings=settings)
    seconds = time.monotonic() - start
    if len(checks) != len(samples):
        raise SampledScoringError(f"{benchmark}: the check returned {len(checks)} results for {len(samples)} samples")
    statuses: dict[str, list[str]] = {t: [] for t in task_ids}
    for sample, check in zip(samples, checks, strict=True):
        statuses[sample["task_id"]].append(check["status"])
    numbers = aggregate(plugin, problems, statuses)
    variant_of = {p["task_id"]: plugin.variant_of(p) for p in problems}
    by_variant: dict[str, Counter] = {}
    for sample, check in zip(samples, checks, strict=True):
        by_variant.setdefault(variant_of[sample["task_id"]], Counter())[check["status"]] += 1
    n_per_task = sorted({len(v) for v in statuses.values()})
    execution = execution_counts(checks)
    extras_fn = plugin.result_extras
    kwargs = {"pass_at_1": numbers["pass@1"]} if "pass_at_1" in inspect.signature(extras_fn).parameters else {}
    extras = extras_fn(info, settings, **kwargs)
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
        "statuses": {v: dict(sorted(c.items())) for v, c in by_variant.items()},
        # The time and memory limits and grader versions in force (also in the rule's params).
        "scoring_protocol": plugin.scoring_protocol(settings or {}),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    for key, value in extras.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = {**result[key], **value}
        else:
            result[key] = value
    if out_exports is not None and hasattr(plugin, "export_generations"):
        result["exports"] = plugin.export_generations(problems, samples, out_exports)
    elif out_exports is not None:
        Path(out_exports).mkdir(parents=True, exist_ok=True)
    records = [
        {
            "task_id": sample["task_id"],
            "sample": sample["sample"],
            "variant": variant_of[sample["task_id"]],
            **{k: v for k, v in check.items()},
        }
        for sample, check in zip(samples, checks, strict=True)
    ]
    if out_tasks:
        write_jsonl_atomic(out_tasks, records)
    write_json_atomic(out_result, result)
    log.info(
        "%s on %s: pass@1 %s over %d tasks (%s samples each) in %.0f s",
        model,
        benchmark,
        {v: round(100 * x, 1) for v, x in numbers["pass@1"].items()},
        len(task_ids),
        n_per_task,
        seconds,
    )
    return result
