"""Scoring MultiPL-E samples: pass@1 per language (the variants), into
results/eval/{model}/multipl-e.json, plus bigcode-evaluation-harness's generations file.

Input: per language, the rows in force and each problem's completions (already cut at the
stop tokens by ``MultiplE.multiple_postprocess``; n samples per problem). Every distinct
program is compiled and run once, in the sandbox, through the execution cache
(ossinstruct.evaluate.multiple_exec). pass@1 per problem is the unbiased estimator with
k=1 over its n samples (c/n), averaged over problems. A language whose toolchain is
missing fails the whole call before any job runs (never a 0%).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from ossinstruct.benchmarks import multipl_e as me
from ossinstruct.evaluate import multiple_exec as mx

CONFIG_KEY = "evaluation.multipl_e.languages"


def settings(config: dict) -> dict:
    """The config's evaluation.multipl_e block (schema defaults filled in), with its
    languages' toolchains checked: ToolchainMissing names the key that drops a language."""
    block = dict(config["evaluation"]["multipl_e"])
    block["toolchains"] = mx.require_toolchains(block["languages"], CONFIG_KEY)
    return block


def score_multiple(
    *,
    model: str,
    rows_by_language: dict[str, list[dict]],
    completions: dict[str, dict[str, list[str]]],
    out_result: str | Path,
    out_generations_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    style: str = "completion",
    sampling: str = "table2",
    workers: int = 1,
    timeout_s: float = mx.STEP_TIMEOUT_S,
) -> dict:
    languages = list(rows_by_language)
    versions = mx.require_toolchains(languages, CONFIG_KEY)  # before any job
    jobs, where = [], []
    for lang in languages:
        for row in rows_by_language[lang]:
            for completion in completions.get(lang, {}).get(row["name"], []):
                jobs.append((lang, me.program_of(row, completion)))
                where.append((lang, row["name"]))
    start = time.monotonic()
    results, stats = mx.score_programs(
        jobs, cache_dir=cache_dir, versions=versions, workers=workers, timeout_s=timeout_s
    )
    seconds = time.monotonic() - start
    per_problem: dict[tuple[str, str], list[str]] = {}
    for key, result in zip(where, results, strict=True):
        per_problem.setdefault(key, []).append(result["status"])
    pass_at_1, statuses, n_samples = {}, {}, {}
    for lang in languages:
        names = [row["name"] for row in rows_by_language[lang]]
        scores = []
        counter: Counter = Counter()
        for name in names:
            got = per_problem.get((lang, name), [])
            if not got:
                raise ValueError(f"multipl-e {lang}: no sample for {name}")
            counter.update(got)
            scores.append(mx.pass_at_k(len(got), got.count("pass"), 1))
        pass_at_1[lang] = sum(scores) / len(scores)
        statuses[lang] = dict(sorted(counter.items()))
        n_samples[lang] = sorted({len(per_problem[(lang, n)]) for n in names})
    result = {
        "model": model,
        "benchmark": me.BENCHMARK.name,
        "pass@1": pass_at_1,
        "n_tasks": {lang: len(rows_by_language[lang]) for lang in languages},
        "n_samples_per_task": n_samples,
        "average_weighted": me.weighted_average(pass_at_1) if set(me.LANGUAGES) <= set(pass_at_1) else None,
        "bigcode_harness": me.harness_keys(pass_at_1),
        "prompt_style": style,
        "sampling": {"name": sampling, **me.SAMPLING[sampling]},
        "data": {
            "dataset": "nuprl/MultiPL-E",
            "revision": me.REVISION,
            "configs": [f"humaneval-{x}" for x in languages],
        },
        "scoring": {
            "toolchains": versions,
            "step_timeout_s": timeout_s,
            "java_classpath": "javatuples on javac and java (MultiPL-E issue #45 fixed)",
            "execution": stats,
            "seconds": round(seconds, 1),
        },
        "statuses": statuses,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    out_result = Path(out_result)
    out_result.parent.mkdir(parents=True, exist_ok=True)
    out_result.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    if out_generations_dir is not None:
        gen_dir = Path(out_generations_dir)
        gen_dir.mkdir(parents=True, exist_ok=True)
        for lang in languages:
            gens = me.bigcode_generations(rows_by_language[lang], completions.get(lang, {}))
            (gen_dir / f"multiple-{lang}.json").write_text(json.dumps(gens))
    return result
