"""Scoring jobs sized from the measured cost of one program (ossinstruct/evaluate/scoring_cost.py):
the arithmetic the README shows, the config's override, and the rules asking for it."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ossinstruct import workflow as wf
from ossinstruct.config import load_config
from ossinstruct.evaluate import scoring_cost as sc

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def study():
    return load_config(str(REPO / "config.yaml"))


def test_multiple_at_n50_is_the_readme_arithmetic(study):
    """config.yaml's MultiPL-E (Table 2: 955 problems x 50 samples, six languages)."""
    from ossinstruct.benchmarks import REGISTRY
    from ossinstruct.benchmarks.multipl_e import plugin as multipl_e

    plugin = REGISTRY["multipl-e"]
    cost = plugin.scoring_cost(wf.benchmark_settings(study, "multipl-e"))
    assert cost.release_tasks == multipl_e.PROBLEM_COUNTS and cost.time_limit_s == 15.0  # C++, Java, PHP: 15 s
    programs = sc.planned_programs(cost, None, 50)
    assert sum(programs.values()) == 47_750 and programs["swift"] == 7_900
    work = sc.scoring_work_s(cost, programs)
    compile_and_run = sum(n * multipl_e.PROGRAM_COST_S[lang] for lang, n in programs.items())
    assert work == pytest.approx(compile_and_run + 47_750 * 0.01 * 15.0)
    cpus = min(32, max(2, math.ceil(work / 1800)))
    expected = {
        "runtime": max(15, math.ceil(1.5 * (120 + work / cpus) / 60)),
        "mem_mb": 2000 + cpus * 500,
        "cpus_per_task": cpus,
    }
    assert sc.scoring_resources(plugin, wf.benchmark_settings(study, "multipl-e"), None) == expected
    assert wf.eval_score_resources(study, "multipl-e") == {**expected, "gpu": 0}


def test_the_sizes_follow_the_work(study):
    big, greedy = wf.eval_score_resources(study, "multipl-e"), wf.eval_score_resources(study, "multipl-e-greedy")
    # 50 samples a problem need more workers than one greedy sample (which needs the fewest).
    assert big["cpus_per_task"] > greedy["cpus_per_task"] == sc.MIN_CPUS
    assert greedy["mem_mb"] < big["mem_mb"] and greedy["runtime"] < big["runtime"]
    # DS-1000's 40 samples a problem: workers up to its cap, memory for the preloaded libraries.
    from ossinstruct.benchmarks.ds1000 import plugin as ds1000

    ds = wf.eval_score_resources(study, "ds1000")
    assert ds["cpus_per_task"] == ds1000.MAX_CPUS and ds["mem_mb"] == sc.BASE_MB + 16 * ds1000.WORKER_MB
    # Fewer languages, fewer programs; a limit, fewer still.
    fewer = {**study, "evaluation": {**study["evaluation"], "multipl_e": {"languages": ["js", "php"]}}}
    assert wf.eval_score_resources(fewer, "multipl-e")["cpus_per_task"] < big["cpus_per_task"]
    # evalplus's benchmarks keep the generic defaults.
    assert wf.eval_score_resources(study, "humaneval") == wf.job_resources("eval_score", None)


def test_a_configured_cpu_count_sizes_the_runtime(study):
    configured = {**study, "evaluation": {**study["evaluation"], "resources": {"score": {"cpus_per_task": 8}}}}
    eight = wf.eval_score_resources(configured, "multipl-e")
    assert eight["cpus_per_task"] == 8 and eight["runtime"] > wf.eval_score_resources(study, "multipl-e")["runtime"]
    pinned = {**study, "evaluation": {**study["evaluation"], "resources": {"score": {"runtime": 90}}}}
    assert wf.eval_score_resources(pinned, "multipl-e")["runtime"] == 90


def test_the_scoring_rules_ask_for_the_sized_resources(study):
    """The dry-run of one model's MultiPL-E and DS-1000 results shows each scoring job's
    sized cpus, memory and time limit (its threads, the workers, are cpus_per_task)."""
    model = next(iter(wf.evaluated_models(study)))
    targets = [wf.EVAL_RESULT.format(model=model, benchmark=b) for b in ("multipl-e", "ds1000")]
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", *targets],
        cwd=REPO,
        env={**env, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for rule, benchmark in (("eval_score_multiple", "multipl-e"), ("eval_score_sampled", "ds1000")):
        sized = wf.eval_score_resources(study, benchmark)
        block = done.stdout[done.stdout.index(f"rule {rule}:") :].split("\n\n")[0]
        resources = block[block.index("resources:") :].splitlines()[0]
        for key in ("mem_mb", "runtime", "cpus_per_task"):
            assert f"{key}={sized[key]}," in resources + ",", resources
