"""vLLM in a Snakemake job: its engine started with and without the job's thread variables (not a test; prints figures).

    .venv/bin/python bench/vllm_threads.py [--tasks 8] [--max-new-tokens 128] [--threads 2]

Snakemake puts OMP_NUM_THREADS, MKL_NUM_THREADS and four more thread counts (the rule's
threads) into every job's environment. The vLLM backend starts its engine without them
(`ossinstruct.llm.backends.vllm_offline.engine_thread_environment`), because vLLM sizes and
binds its processes' threads itself. Two runs, in the same invocation, of the same first
--tasks HumanEval+ tasks (greedy, the offline Gemma 3 270M in float32, vLLM's CPU build
under .venv-vllm, `make vllm-env`), each from an empty response cache, each in a child
process whose environment holds the six variables at --threads as Snakemake's would: the
baseline keeps them for the engine (the backend before 2026-12-06), the other is the
backend as it is. Printed: tokens/s of each, without the engine's start-up, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import eval_generation  # bench/: the engine run and the task file of the engine comparison

ARMS = ("kept", "removed")  # the job's thread variables for the engine: the baseline first


def child(args) -> None:
    from ossinstruct.llm.backends import vllm_offline

    if args.child == "kept":
        vllm_offline.JOB_THREAD_VARIABLES = ()
    print(json.dumps(eval_generation.run_engine("vllm", args.tasks_file, args.out, args)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="the job's threads, as Snakemake sets them")
    parser.add_argument("--child", choices=ARMS, help=argparse.SUPPRESS)
    parser.add_argument("--tasks-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    # run_engine's settings: the engine comparison's defaults for vLLM
    args.dtype, args.compile, args.batch_size = "float32", False, 8
    if args.child:
        child(args)
        return
    if not eval_generation.VLLM_PYTHON.exists():
        sys.exit(f"{eval_generation.VLLM_PYTHON} is missing: `make vllm-env` builds it")
    from ossinstruct.llm.backends.vllm_offline import JOB_THREAD_VARIABLES

    job_env = {**os.environ, **{name: str(args.threads) for name in JOB_THREAD_VARIABLES}}
    job_env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        tasks_path = eval_generation.tasks(args.tasks, workdir)
        load = os.getloadavg()[0]
        for arm in ARMS:
            command = [str(eval_generation.VLLM_PYTHON), __file__, "--child", arm, "--tasks-file", str(tasks_path)]
            command += ["--out", str(workdir / arm / "samples.jsonl"), "--max-new-tokens", str(args.max_new_tokens)]
            done = subprocess.run(command, capture_output=True, text=True, env=job_env)
            if done.returncode != 0:
                sys.exit(f"the run with the variables {arm} failed:\n{done.stderr[-4000:]}")
            results[arm] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, load average {load:.1f} at the start, {os.cpu_count()} CPUs")
    print(f"# {args.tasks} HumanEval+ tasks, greedy, max_new_tokens {args.max_new_tokens}, float32, enforce_eager")
    print(f"# the job's environment: {', '.join(f'{n}={args.threads}' for n in JOB_THREAD_VARIABLES)}")
    for arm, r in results.items():
        print(
            f"variables {arm:8s} {r['engine']:14s} {r['completion_tokens']:5d} tokens in {r['generation_s']:7.1f} s: "
            f"{r['tokens_per_s']:6.1f} tok/s (start-up {r['startup_s']} s)"
        )
    print(f"ratio removed / kept (tok/s): {results['removed']['tokens_per_s'] / results['kept']['tokens_per_s']:.2f}")


if __name__ == "__main__":
    main()
