"""A scoring job's time limit, CPUs and memory, from the measured cost of one program.

A per-sample benchmark's scoring job (rules eval_score_multiple, eval_score_sampled) runs
`cpus_per_task` sandbox workers, each one program at a time. Its work, in worker-seconds:

    programs_v   = tasks of variant v x samples per task   (every program distinct: the worst case)
    work         = sum over v of programs_v x COST_S[v]  +  programs x TIMEOUT_FRACTION x limit_s
    cpus         = ceil(work / TARGET_WORK_S), within [MIN_CPUS, MAX_CPUS]
    runtime_min  = ceil(SAFETY x (START_S + work / cpus) / 60), at least MIN_RUNTIME_MIN
    mem_mb       = BASE_MB + cpus x WORKER_MB

COST_S is the measured cost of one distinct program (bench/multiple_scoring.py,
bench/ds1000_scoring.py, bench/apps_scoring.py; README, "Sizing the scoring jobs", says
when and how); TIMEOUT_FRACTION is an assumption (a program that hits the time limit
holds a worker for the whole limit), as is Swift's cost (no Swift toolchain for Debian).
An underestimate costs one retry of the programs not yet done (results are stored as each
program ends), not the whole job. `evaluation.resources.score` overrides any of the three
(a configured cpus_per_task also sizes the runtime).
"""

from __future__ import annotations

import math

# Worker-seconds of one distinct program, per variant (a language, a library). MultiPL-E:
# CPU seconds of compile + run per program (bench/multiple_scoring.py); Swift, which could
# not be measured here, assumed to cost C++'s (the slowest measured). DS-1000: one
# sample's job in a warm worker (bench/ds1000_scoring.py). APPS: per sample,
# APPS_TESTS_PER_SAMPLE test processes of APPS_S_PER_TEST each (bench/apps_scoring.py).
COST_S: dict[str, dict[str, float]] = {
    "multipl_e": {"java": 1.02, "js": 0.22, "cpp": 2.14, "php": 0.06, "rs": 0.22, "swift": 2.14},
    "ds1000": {
        "matplotlib": 3.09,
        "numpy": 0.13,
        "pandas": 0.23,
        "pytorch": 3.34,
        "scipy": 0.15,
        "sklearn": 0.25,
        "tensorflow": 0.35,
    },
}
APPS_S_PER_TEST = 0.30
APPS_TESTS_PER_SAMPLE = 21  # the APPS paper (Table 1): 21.2 test cases per test-split problem
# The part of programs assumed to run into their time limit.
TIMEOUT_FRACTION = {"multipl_e": 0.01, "ds1000": 0.005, "apps": 0.02}
SAFETY = 1.5
START_S = 120.0  # reading the samples, starting the workers (DS-1000's import torch and tensorflow)
MIN_RUNTIME_MIN = 15
BASE_MB = 2000  # the job's own process: samples, tasks and results in memory
# A worker's resident memory: a compiler or JVM (MultiPL-E), a zygote holding DS-1000's
# libraries plus its sample, a Python test process (APPS).
WORKER_MB = {"multipl_e": 500, "ds1000": 1500, "apps": 500}
# Workers per job: as many as bring the job's work under TARGET_WORK_S of wall time, at
# least MIN_CPUS, at most MAX_CPUS (a share of one node: README, one job per model and
# benchmark with more CPUs rather than one job per language).
TARGET_WORK_S = 1800.0
MIN_CPUS = 2
MAX_CPUS = {"multipl_e": 32, "ds1000": 16, "apps": 8}
# Tasks per variant in the full release (MultiPL-E: the authors' problem counts; DS-1000:
# the 1000 problems by library; APPS: the paper's subset, 60/180/60).
RELEASE_TASKS: dict[str, dict[str, int]] = {
    "multipl_e": {"java": 158, "js": 161, "cpp": 161, "php": 161, "rs": 156, "swift": 158},
    "ds1000": {
        "matplotlib": 155,
        "numpy": 220,
        "pandas": 291,
        "pytorch": 68,
        "scipy": 106,
        "sklearn": 115,
        "tensorflow": 45,
    },
    "apps": {"introductory": 60, "interview": 180, "competition": 60},
}


def family_of(plugin) -> str | None:
    """Which cost table sizes a benchmark's scoring job (None: the generic defaults)."""
    if plugin.settings_key in ("multipl_e", "ds1000", "apps"):
        return plugin.settings_key
    return None


def planned_programs(plugin, variants: dict[str, int], limit: int | None, n_samples: int) -> dict[str, int]:
    """Programs per variant: each variant's tasks (MultiPL-E: the first `limit` per language;
    others: `limit` spread over the variants) times the samples per task."""
    if limit is None:
        tasks = dict(variants)
    elif plugin.settings_key == "multipl_e":
        tasks = {v: min(n, limit) for v, n in variants.items()}
    else:
        total = sum(variants.values())
        tasks = {v: min(n, math.ceil(limit * n / total)) for v, n in variants.items()}
    return {v: n * n_samples for v, n in tasks.items()}


def scoring_work_s(family: str, programs: dict[str, int], limit_s: float) -> float:
    """Worker-seconds of a job scoring `programs` (per variant), timeouts included."""
    if family == "apps":
        per_program = dict.fromkeys(programs, APPS_S_PER_TEST * APPS_TESTS_PER_SAMPLE)
    else:
        per_program = COST_S[family]
    total = sum(programs.values())
    return sum(n * per_program[v] for v, n in programs.items()) + total * TIMEOUT_FRACTION[family] * limit_s


def job_resources(family: str, work_s: float, cpus: int) -> dict:
    """{runtime (minutes), mem_mb, cpus_per_task} of a job doing `work_s` on `cpus` workers."""
    runtime = math.ceil(SAFETY * (START_S + work_s / cpus) / 60)
    return {
        "runtime": max(MIN_RUNTIME_MIN, runtime),
        "mem_mb": BASE_MB + cpus * WORKER_MB[family],
        "cpus_per_task": cpus,
    }


def time_limit_s(family: str, settings: dict) -> float:
    """How long one program that runs into its limit holds a worker."""
    if family == "multipl_e":
        from ossinstruct.evaluate.multiple_exec import LANGUAGES, STEP_LIMITS_S

        # A program that runs into its limit mostly does so when run (its compile ended).
        languages = settings.get("languages") or LANGUAGES
        return max(STEP_LIMITS_S[lang]["run"] for lang in languages)
    if family == "ds1000":
        from ossinstruct.evaluate.ds1000_exec import TIMEOUT_S

        return float(settings.get("timeout_s", TIMEOUT_S))
    from ossinstruct.evaluate.apps_check import TIME_LIMIT_S

    return TIME_LIMIT_S


def scoring_work(config: dict, benchmark: str, n_samples: int | None = None) -> tuple[float, int]:
    """(worker-seconds, programs) of one model's scoring job of `benchmark` (a benchmark
    with a cost table); `n_samples` instead of the benchmark's (the self-check: 1)."""
    from ossinstruct.benchmarks import REGISTRY
    from ossinstruct.workflow import benchmark_settings, eval_limit

    plugin = REGISTRY[benchmark]
    family = family_of(plugin)
    settings = benchmark_settings(config, benchmark)
    variants = {v: n for v, n in RELEASE_TASKS[family].items() if v in plugin.variants}
    if family == "multipl_e":
        variants = {v: n for v, n in variants.items() if v in (settings.get("languages") or variants)}
    if n_samples is None:
        n_samples = int(plugin.sampling.get("n_samples", 1)) if plugin.sampling else 1
    programs = planned_programs(plugin, variants, eval_limit(config, benchmark), n_samples)
    return scoring_work_s(family, programs, time_limit_s(family, settings)), sum(programs.values())


def scoring_resources(config: dict, benchmark: str, configured: dict | None = None) -> dict | None:
    """{runtime, mem_mb, cpus_per_task} of `benchmark`'s scoring job under `config` (one
    model's samples), `configured` (evaluation.resources.score) taking precedence; None
    for a benchmark without a cost table (evalplus's: the generic defaults)."""
    from ossinstruct.benchmarks import REGISTRY

    family = family_of(REGISTRY[benchmark])
    if family is None:
        return None
    work = scoring_work(config, benchmark)[0]
    cpus = (configured or {}).get("cpus_per_task") or min(
        MAX_CPUS[family], max(MIN_CPUS, math.ceil(work / TARGET_WORK_S))
    )
    return {**job_resources(family, work, cpus), **(configured or {})}
