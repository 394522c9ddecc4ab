"""Samples per second scoring DS-1000 references: the warm-worker design (zygotes of
DS-1000's interpreter that imported numpy, pandas, scipy, sklearn, matplotlib, torch and
tensorflow once, a forked process per sample) against a fresh interpreter per sample
(the same sandbox, each sample's DS-1000 test program run as `python prog.py`), in the
same run, on the same mix of libraries. Target: at least 5x.

    .venv/bin/python bench/ds1000_scoring.py [--per-library 4] [--workers 2] [--no-fresh]

Also prints the cost of one sample per library, which sizes the scoring jobs (docs/benchmarks/multipl-e.md,
"Sizing the scoring jobs"): worker seconds (the sample's job inside its warm worker) and
the largest resident set of a worker (ru_maxrss of the waited-for children: the zygotes,
which hold the preloaded libraries). --no-fresh skips the fresh-interpreter baseline.

Needs `make ds1000-env`. Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ossinstruct.benchmarks.ds1000 import environment as ds1000_env  # noqa: E402
from ossinstruct.benchmarks.ds1000 import execute as dx  # noqa: E402
from ossinstruct.benchmarks.ds1000 import plugin as ds  # noqa: E402
from ossinstruct.sandbox.pool import Limits, SandboxPool  # noqa: E402

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "ds1000.jsonl.gz"
NETWORK_MARKERS = ("load_dataset(", "fetch_")  # problems that download data: left out of the mix


def mix(per_library: int) -> list[dict]:
    rows = ds.BENCHMARK.load_rows({"source": "file", "path": str(DATA)})
    tasks = [t for t in ds.BENCHMARK.tasks_from_rows(rows) if not any(m in t["code_context"] for m in NETWORK_MARKERS)]
    chosen: dict[str, list] = {}
    for task in tasks:
        group = chosen.setdefault(task["library"], [])
        if len(group) < per_library:
            group.append(task)
    return [t for group in chosen.values() for t in group]


def fresh_interpreter(tasks: list[dict], python: str, workers: int) -> tuple[float, int]:
    env = {**dx.ENVIRONMENT, "PYTHONDONTWRITEBYTECODE": "1"}
    payloads = [
        {
            "argv": [python, "prog.py"],
            "files": {"prog.py": dx.test_program(t["code_context"], t["reference_code"])},
            "timeout_s": dx.TIMEOUT_S,
            "env": env,
        }
        for t in tasks
    ]
    limits = Limits(timeout_s=dx.TIMEOUT_S + 10, memory_mb=ds1000_env.MEMORY_MB, processes=ds1000_env.PROCESSES)
    start = time.monotonic()
    with SandboxPool("ossinstruct.sandbox.handlers:run_program", workers=workers, limits=limits) as pool:
        results = pool.run(payloads)
    seconds = time.monotonic() - start
    return seconds, sum(1 for r in results if r.status == "ok" and r.value["returncode"] == 0)


def warm_workers(tasks: list[dict], python: str, workers: int) -> tuple[float, float, int, list]:
    """(pool start seconds, run seconds, passed, the jobs): the pool check_solutions starts,
    timed in its two parts."""
    context = {"code_context": {t["task_id"]: t["code_context"] for t in tasks}}
    preload = ds1000_env.preload_modules(ds1000_env.environment_report({}))
    limits = Limits(timeout_s=dx.TIMEOUT_S, memory_mb=ds1000_env.MEMORY_MB, processes=ds1000_env.PROCESSES)
    start = time.monotonic()
    with SandboxPool(dx.HANDLER, context, workers=workers, limits=limits, python=python, preload=preload) as pool:
        started = time.monotonic()
        jobs = pool.run([{"task_id": t["task_id"], "solution": t["reference_code"]} for t in tasks])
        ran = time.monotonic()
    passed = sum(1 for j in jobs if j.status == "ok" and j.value["status"] == "pass")
    return started - start, ran - started, passed, jobs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-library", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-fresh", action="store_true", help="skip the fresh-interpreter baseline")
    args = parser.parse_args()
    tasks = mix(args.per_library)
    python = ds1000_env.environment_report({})["interpreter"]
    print(f"{len(tasks)} samples (DS-1000 references, {args.per_library} per library), {args.workers} workers")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    ds1000_env.interpreter_versions(python)  # the version probe, outside both timings
    warm_start, warm_run, warm_pass, jobs = warm_workers(tasks, python, args.workers)
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    warm = warm_start + warm_run
    n = len(tasks)
    per_library: dict[str, list[float]] = {}
    for task, job in zip(tasks, jobs):
        per_library.setdefault(task["library"], []).append(job.elapsed_s)
    costs = ", ".join(f"{lib} {sum(v) / len(v):.2f}" for lib, v in per_library.items())
    print(f"worker seconds per sample: {costs}; all {sum(j.elapsed_s for j in jobs) / n:.2f}")
    print(f"largest resident set of a worker (MB): {rss_mb:.0f}")
    if not args.no_fresh:
        fresh, fresh_pass = fresh_interpreter(tasks, python, args.workers)
        print(f"fresh interpreter per sample: {fresh:7.1f} s  {n / fresh:6.2f} samples/s  ({fresh_pass} pass)")
    print(
        f"warm workers:                 {warm:7.1f} s  {n / warm:6.2f} samples/s  ({warm_pass} pass; "
        f"pool start {warm_start:.1f} s, samples {warm_run:.1f} s = {n / warm_run:.2f} samples/s)"
    )
    if not args.no_fresh:
        print(
            f"speed-up: {fresh / warm:.1f}x with the pool start, {fresh / warm_run:.1f}x without (once per scoring run)"
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
