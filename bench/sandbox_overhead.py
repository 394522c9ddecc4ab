"""Sandbox overhead: jobs per second through SandboxPool against baselines (prints figures).

    .venv/bin/python bench/sandbox_overhead.py [--jobs 400] [--repeats 3]

The job is the trivial handler ``ossinstruct.sandbox.handlers.echo``, so every figure is pure per-job overhead.
Measured in the same run, each as the best of --repeats:

* in-process: ``echo(None, i)`` called directly (no isolation at all; the ceiling);
* fork per job: ``os.fork()`` + result over a pipe + ``waitpid``, no isolation (the floor
  of any per-job process);
* bare subprocess per job: ``subprocess.run(["true"])``, a fork + exec of a tiny binary;
* fresh interpreter per job: ``subprocess.run([python, "-c", "pass"])``, what running each
  sample in its own Python costs before it imports anything (evalplus adds ~1.7 s);
* SandboxPool(echo) with workers=1 and workers=2 (pool start-up, with its isolation probe
  and the zygotes' set-up, is timed separately and not counted in jobs/s).

Ratios are printed against the bare subprocess per job (the baseline) and against in-process.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ossinstruct.sandbox.handlers import echo  # noqa: E402
from ossinstruct.sandbox.pool import Limits, SandboxPool, isolation_report  # noqa: E402


def best_rate(run_jobs, jobs: int, repeats: int) -> float:
    """Best jobs/second over repeats."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        run_jobs(jobs)
        best = max(best, jobs / (time.perf_counter() - start))
    return best


def in_process(jobs: int) -> None:
    for i in range(jobs):
        echo(None, i)


def fork_per_job(jobs: int) -> None:
    for i in range(jobs):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            os.write(write_fd, pickle.dumps(echo(None, i)))
            os._exit(0)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as f:
            pickle.loads(f.read())
        os.waitpid(pid, 0)


def bare_subprocess_per_job(jobs: int) -> None:
    true = shutil.which("true") or "/bin/true"
    for _ in range(jobs):
        subprocess.run([true], check=True)


def interpreter_per_job(jobs: int) -> None:
    for _ in range(jobs):
        subprocess.run([sys.executable, "-c", "pass"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    started = time.perf_counter()
    report = isolation_report()
    probe_s = time.perf_counter() - started
    print(
        f"isolation: {report['method']} "
        + ", ".join(k for k, v in report.items() if v is True)
        + f" (probe {probe_s:.2f} s, once per process)"
    )
    print(f"{os.cpu_count()} CPUs, {args.jobs} jobs, best of {args.repeats}\n")

    rates = {
        "in-process call": best_rate(in_process, args.jobs * 100, args.repeats),
        "os.fork per job (no isolation)": best_rate(fork_per_job, args.jobs, args.repeats),
        "bare subprocess per job (baseline)": best_rate(bare_subprocess_per_job, args.jobs, args.repeats),
        "fresh python per job": best_rate(interpreter_per_job, max(20, args.jobs // 10), args.repeats),
    }
    for workers in (1, 2):
        started = time.perf_counter()
        with SandboxPool("ossinstruct.sandbox.handlers:echo", workers=workers, limits=Limits(timeout_s=30)) as pool:
            start_s = time.perf_counter() - started
            payloads = list(range(args.jobs))

            def through_pool(jobs, pool=pool, payloads=payloads):
                results = pool.run(payloads[:jobs])
                assert all(r.status == "ok" for r in results)

            rates[f"SandboxPool workers={workers}"] = best_rate(through_pool, args.jobs, args.repeats)
        print(f"SandboxPool workers={workers}: start-up {start_s:.2f} s")

    baseline = rates["bare subprocess per job (baseline)"]
    ceiling = rates["in-process call"]
    print(f"\n{'':38} {'jobs/s':>10} {'x baseline':>11} {'x in-process':>13} {'ms/job':>8}")
    for name, rate in rates.items():
        print(f"{name:38} {rate:10.0f} {rate / baseline:11.2f} {rate / ceiling:13.5f} {1000 / rate:8.3f}")


if __name__ == "__main__":
    main()
