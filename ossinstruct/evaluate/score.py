"""Scoring: pass@1 on the base and plus tests of HumanEval+ / MBPP+, with evalplus.

Every sample is checked by evalplus's `untrusted_check` (ossinstruct/evaluate/
evalplus_check.py) inside a sandbox job: a process forked per sample in a separate
network, pid and mount namespace where the OS allows, under time and memory limits
(ossinstruct/sandbox/pool.py). Nothing generated runs in this process.

With one greedy sample per task, pass@1 is the fraction of tasks whose sample passes:
the base tests for HumanEval / MBPP, the base and the plus tests for HumanEval+ / MBPP+
(evalplus's rule: a "plus" pass needs both).

Outputs: ``{benchmark}.json`` (the numbers and everything they depend on) and
``tasks.jsonl`` (one line per task: its statuses and the code that was run).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import datetime, timezone

from ossinstruct.benchmarks import REGISTRY
from ossinstruct.evaluate.data import evalplus_version, load_expected, load_tasks
from ossinstruct.files import InputError, read_jsonl, write_json_atomic, write_jsonl_atomic
from ossinstruct.logs import Progress
from ossinstruct.sandbox.pool import Limits, SandboxPool, isolation_report

log = logging.getLogger("ossinstruct.evaluate.score")

PASS = "pass"  # evalplus's status strings: pass, fail, timeout
SANDBOX_FAILURE = "sandbox:"  # prefix of a status set when the sandbox job itself failed
SOLUTION_FIELDS = ("sanitized", "raw")

# evalplus gives each of the base and plus checks at most 60 s (+2 s to collect results);
# the sandbox's own limit only catches what escapes that.
JOB_TIMEOUT_S = 2 * 62 + 16


class ScoringError(InputError, RuntimeError):
    pass


def solution_of(sample: dict, field: str) -> str:
    """The code a sample is scored on: evalplus's sanitized solution, or the solution as
    generated (prompt + completion cut at the first code fence, as Magicoder scored it)."""
    if field == "sanitized":
        return sample["sanitized"]
    if field == "raw":
        return sample["solution"]
    raise ScoringError(f"config key evaluation.scoring.solution: {field!r} is not one of {', '.join(SOLUTION_FIELDS)}")


SOLUTION_KEY = {"sanitized": "sanitized", "raw": "solution"}


def _samples_by_task(samples_path, task_ids: list[str], solution_field: str = "sanitized") -> dict[str, dict]:
    if solution_field not in SOLUTION_KEY:
        solution_of({}, solution_field)  # the config error
    samples: dict[str, dict] = {}
    required = ("task_id", SOLUTION_KEY[solution_field])
    for sample in read_jsonl(samples_path, required=required, what="sample"):
        if sample["task_id"] in samples:
            raise ScoringError(f"{samples_path}: task {sample['task_id']} has more than one sample")
        samples[sample["task_id"]] = sample
    check_coverage(samples_path, samples, task_ids)
    return samples


def check_coverage(samples_path, sampled_ids, task_ids: list[str], error=None) -> None:
    """Every task in force has a sample and no sample names another task (ScoringError, or
    `error`, naming the file and the first task ids otherwise)."""
    error = error or ScoringError
    missing = [t for t in task_ids if t not in sampled_ids]
    if missing:
        raise error(
            f"{samples_path}: no sample for {len(missing)} task(s) in force: "
            f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    extra = sorted(set(sampled_ids) - set(task_ids))
    if extra:
        raise error(f"{samples_path}: samples for tasks not in force: {', '.join(extra[:5])}")


def check_solutions(
    benchmark: str,
    problems: list[dict],
    solutions: list[str],
    expected: dict,
    *,
    min_time_limit: float = 1.0,
    gt_time_limit_factor: float = 4.0,
    memory_mb: int = 4096,
    workers: int = 1,
) -> list[dict]:
    """Per task, {"base": {status, n_tests, n_run}, "plus": {...}}, in problem order.
    A sandbox job that fails (timeout past evalplus's own limits, a crashed job) counts as
    a failure of that task, with status "sandbox:<what>"."""
    limits = Limits(timeout_s=JOB_TIMEOUT_S, memory_mb=memory_mb, network=False)
    context = {
        "dataset": benchmark,
        "min_time_limit": min_time_limit,
        "gt_time_limit_factor": gt_time_limit_factor,
        "memory_bytes": memory_mb * 2**20,
    }
    plugin = REGISTRY[benchmark]
    payloads = [
        plugin.scoring_payload(problem, solution, expected)
        for problem, solution in zip(problems, solutions, strict=True)
    ]
    progress = Progress(log, f"{benchmark}: checked", total=len(payloads))
    with SandboxPool(plugin.scoring_handler, context, workers=workers, limits=limits) as pool:
        jobs = pool.run(payloads, on_done=progress.step)
    progress.done()
    checks = []
    for problem, job in zip(problems, jobs, strict=True):
        if job.status == "ok":
            checks.append(job.value)
            continue
        log.warning("%s: sandbox job %s: %s", problem["task_id"], job.status, (job.error or "")[-300:])
        failed = {"status": SANDBOX_FAILURE + job.status, "n_tests": None, "n_run": None, "error": job.error}
        checks.append({"base": failed, "plus": dict(failed)})
    return checks


def pass_at_1(checks: list[dict]) -> dict:
    base = [c["base"]["status"] == PASS for c in checks]
    plus = [b and c["plus"]["status"] == PASS for b, c in zip(base, checks)]
    n = len(checks)
    return {
        "n_passed": {"base": sum(base), "plus": sum(plus)},
        "pass@1": {"base": sum(base) / n if n else 0.0, "plus": sum(plus) / n if n else 0.0},
    }


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
    solution_field: str = "sanitized",
    min_time_limit: float = 1.0,
    gt_time_limit_factor: float = 4.0,
    memory_mb: int = 4096,
    workers: int = 1,
    generation: dict | None = None,
    paper_row: str | None = None,
) -> dict:
    """Score one model's samples on one benchmark; write the result file and tasks.jsonl."""
    problems = load_tasks(benchmark, tasks_path)
    task_ids = [p["task_id"] for p in problems]
    samples = _samples_by_task(samples_path, task_ids, solution_field)
    expected = load_expected(expected_path)
    solutions = [solution_of(samples[t], solution_field) for t in task_ids]
    start = time.monotonic()
    checks = check_solutions(
        benchmark,
        problems,
        solutions,
        expected,
        min_time_limit=min_time_limit,
        gt_time_limit_factor=gt_time_limit_factor,
        memory_mb=memory_mb,
        workers=workers,
    )
    seconds = time.monotonic() - start
    numbers = pass_at_1(checks)
    statuses = Counter()
    records = []
    for task_id, solution, check in zip(task_ids, solutions, checks, strict=True):
        statuses[f"base:{check['base']['status']}"] += 1
        statuses[f"plus:{check['plus']['status']}"] += 1
        records.append(
            {
                "task_id": task_id,
                "base_status": check["base"]["status"],
                "plus_status": check["plus"]["status"],
                "base_tests": [check["base"]["n_run"], check["base"]["n_tests"]],
                "plus_tests": [check["plus"]["n_run"], check["plus"]["n_tests"]],
                "passed_base": check["base"]["status"] == PASS,
                "passed_plus": check["base"]["status"] == PASS and check["plus"]["status"] == PASS,
                "solution": solution,
                **({"error": check["base"]["error"]} if check["base"].get("error") else {}),
            }
        )
    result = {
        "model": model,
        "benchmark": benchmark,
        **numbers,
        "n_tasks": len(task_ids),
        "limit": info.get("limit"),
        "paper_row": paper_row,
        "decoding": generation or {},
        "data": {k: info.get(k) for k in ("source", "path", "sha256", "version", "n_tasks_release")},
        "scoring": {
            "evalplus_version": evalplus_version(),
            "solution": solution_field,
            "min_time_limit": min_time_limit,
            "gt_time_limit_factor": gt_time_limit_factor,
            "memory_mb": memory_mb,
            "job_timeout_s": JOB_TIMEOUT_S,  # the limit in force (also in the rule's params)
            "fast_check": True,
            "isolation": isolation_report(),
            "seconds": round(seconds, 1),
        },
        "statuses": dict(sorted(statuses.items())),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if out_tasks:
        write_jsonl_atomic(out_tasks, records)
    write_json_atomic(out_result, result)
    log.info(
        "%s on %s: pass@1 %.1f (base), %.1f (plus) over %d tasks in %.0f s",
        model,
        benchmark,
        100 * numbers["pass@1"]["base"],
        100 * numbers["pass@1"]["plus"],
        len(task_ids),
        seconds,
    )
    return result
