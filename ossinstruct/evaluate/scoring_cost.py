"""A scoring job's time limit, CPUs and memory, from the measured cost of one program.

A per-sample benchmark's scoring job (rules eval_score_multiple, eval_score_sampled) runs
`cpus_per_task` sandbox workers, each one program at a time. Its work, in worker-seconds:

    programs_v   = tasks of variant v x samples per task   (every program distinct: the worst case)
    work         = sum over v of programs_v x program_s[v]  +  programs x timeout_fraction x time_limit_s
    cpus         = ceil(work / TARGET_WORK_S), within [MIN_CPUS, max_cpus]
    runtime_min  = ceil(SAFETY x (START_S + work / cpus) / 60), at least MIN_RUNTIME_MIN
    mem_mb       = BASE_MB + cpus x worker_mb

The per-benchmark figures are the plug-in's (``Benchmark.scoring_cost``: MultiPL-E,
DS-1000 and APPS give theirs; a benchmark that gives none gets the eval_score resource
defaults). program_s is the measured cost of one distinct program (bench/multiple_scoring.py,
bench/ds1000_scoring.py, bench/apps_scoring.py; docs/benchmarks/multipl-e.md, "Sizing the scoring jobs", says
when and how); timeout_fraction is an assumption (a program that hits the time limit holds
a worker for the whole limit), as is Swift's cost (no Swift toolchain for Debian). An
underestimate costs one retry of the programs not yet done (results are stored as each
program ends), not the whole job. `evaluation.resources.score` overrides any of the three
(a configured cpus_per_task also sizes the runtime).
"""

from __future__ import annotations

import math

from ossinstruct.benchmarks.base import ScoringCost

SAFETY = 1.5
START_S = 120.0  # reading the samples, starting the workers (DS-1000's import torch and tensorflow)
MIN_RUNTIME_MIN = 15
BASE_MB = 2000  # the job's own process: samples, tasks and results in memory
# Workers per job: as many as bring the job's work under TARGET_WORK_S of wall time, at
# least MIN_CPUS, at most the benchmark's max_cpus (a share of one node: docs/benchmarks/multipl-e.md, one job per
# model and benchmark with more CPUs rather than one job per language).
TARGET_WORK_S = 1800.0
MIN_CPUS = 2


def planned_programs(cost: ScoringCost, limit: int | None, n_samples: int) -> dict[str, int]:
    """Programs per variant: each variant's tasks (the first `limit` per variant where the
    benchmark's limit is per variant, else `limit` spread over the variants) times the
    samples per task."""
    variants = dict(cost.release_tasks)
    if limit is None:
        tasks = variants
    elif cost.limit_per_variant:
        tasks = {v: min(n, limit) for v, n in variants.items()}
    else:
        total = sum(variants.values())
        tasks = {v: min(n, math.ceil(limit * n / total)) for v, n in variants.items()}
    return {v: n * n_samples for v, n in tasks.items()}


def scoring_work_s(cost: ScoringCost, programs: dict[str, int]) -> float:
    """Worker-seconds of a job scoring `programs` (per variant), timeouts included."""
    total = sum(programs.values())
    return sum(n * cost.program_s[v] for v, n in programs.items()) + total * cost.timeout_fraction * cost.time_limit_s


def job_resources(cost: ScoringCost, work_s: float, cpus: int) -> dict:
    """{runtime (minutes), mem_mb, cpus_per_task} of a job doing `work_s` on `cpus` workers."""
    runtime = math.ceil(SAFETY * (START_S + work_s / cpus) / 60)
    return {
        "runtime": max(MIN_RUNTIME_MIN, runtime),
        "mem_mb": BASE_MB + cpus * cost.worker_mb,
        "cpus_per_task": cpus,
    }


def scoring_work(plugin, settings: dict, limit: int | None, n_samples: int | None = None) -> tuple[float, int] | None:
    """(worker-seconds, programs) of one model's scoring job of benchmark `plugin` under its
    `settings` and evaluation `limit`; `n_samples` per task instead of the benchmark's (the
    self-check: 1). None for a benchmark without a cost (evalplus's)."""
    cost = plugin.scoring_cost(settings)
    if cost is None:
        return None
    if n_samples is None:
        n_samples = int(plugin.sampling.get("n_samples", 1)) if plugin.sampling else 1
    programs = planned_programs(cost, limit, n_samples)
    return scoring_work_s(cost, programs), sum(programs.values())


def scoring_resources(plugin, settings: dict, limit: int | None, configured: dict | None = None) -> dict | None:
    """{runtime, mem_mb, cpus_per_task} of benchmark `plugin`'s scoring job (one model's
    samples) under its `settings` and evaluation `limit`, `configured`
    (evaluation.resources.score) taking precedence; None for a benchmark without a cost
    (evalplus's: the generic defaults)."""
    cost = plugin.scoring_cost(settings)
    if cost is None:
        return None
    work, _ = scoring_work(plugin, settings, limit)
    cpus = (configured or {}).get("cpus_per_task") or min(cost.max_cpus, max(MIN_CPUS, math.ceil(work / TARGET_WORK_S)))
    return {**job_resources(cost, work, cpus), **(configured or {})}
