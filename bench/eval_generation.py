"""Evaluation generation: the vLLM engine against the transformers engine (not a test; prints figures).

    .venv/bin/python bench/eval_generation.py [--tasks 16] [--max-new-tokens 128] [--dtype float32] [--compile]

The same first --tasks HumanEval+ tasks (completion prompts of the base model), the same
model (the offline Gemma 3 270M, in --dtype), the same greedy decoding and max_new_tokens, each
engine from an empty response cache, in the same run: transformers in this process (the
project's venv, batches of --batch-size), vLLM in a child process under .venv-vllm (`make
vllm-env`: vLLM's CPU build), one engine for all tasks. Printed: completion tokens, seconds
of generation (the engine's start-up apart), tokens/s, the ratio vLLM / transformers, how
many greedy completions are identical and, for each that is not, the first token where the
two part (its position and both engines' tokens). vLLM starts with enforce_eager (no torch.compile:
seconds instead of many minutes on 2 cores) unless --compile.
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

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HUMANEVAL = ROOT.parent / "shared" / "benchmarks" / "HumanEvalPlus.jsonl.gz"
VLLM_PYTHON = ROOT / ".venv-vllm" / "bin" / "python"
MODEL = "embedded:gemma-3-270m"


def tasks(n: int, workdir: Path) -> Path:
    from ossinstruct.evaluate.steps import eval_data_step

    out = workdir / "data"
    eval_data_step(
        {"evaluation": {}},
        "humaneval",
        path=str(HUMANEVAL),
        version=None,
        limit=n,
        out_tasks=out / "humaneval.jsonl",
        out_info=out / "humaneval.json",
        out_expected=out / "humaneval.expected.pkl",
    )
    return out / "humaneval.jsonl"


def run_engine(engine: str, tasks_path: Path, out: Path, args) -> dict:
    from ossinstruct.evaluate.generate import generate_samples
    from ossinstruct.files import read_jsonl

    model = {"model": MODEL, "dtype": args.dtype, "device": "cpu", "enforce_eager": not args.compile}
    start = time.monotonic()
    stats = generate_samples(
        list(read_jsonl(tasks_path)),
        benchmark="humaneval",
        style="completion",
        engine=engine,
        model=model,
        decoding={"temperature": 0.0, "max_new_tokens": args.max_new_tokens},
        cache_dir=out.parent / f"cache-{engine}",
        out_path=out,
        batch_size=args.batch_size,
    )
    return {
        "engine": ", ".join(stats["engine_versions"]),
        "tasks": stats["tasks"],
        "completion_tokens": stats["completion_tokens_this_run"],
        "generation_s": stats["generation_s"],
        "tokens_per_s": stats["tokens_per_s_this_run"],
        "startup_s": stats["engine_startup_s"],
        "wall_s": round(time.monotonic() - start, 1),
    }


def first_differences(vllm_samples: list[dict], hf_samples: list[dict]) -> list[str]:
    """For each task whose completions differ: where, in the model's tokens, they part."""
    from ossinstruct.llm.models import load_tokenizer

    tokenizer = load_tokenizer(MODEL)
    lines = []
    for ours, theirs in zip(vllm_samples, hf_samples, strict=True):
        if ours["raw"] == theirs["raw"]:
            continue
        a = tokenizer(ours["raw"], add_special_tokens=False)["input_ids"]
        b = tokenizer(theirs["raw"], add_special_tokens=False)["input_ids"]
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        vllm_token, hf_token = (tokenizer.decode(t[at : at + 1]) for t in (a, b))
        lines.append(
            f"  {ours['task_id']}: first difference at token {at} of {len(a)} / {len(b)}: "
            f"vllm {vllm_token!r}, transformers {hf_token!r} (after {tokenizer.decode(a[max(0, at - 8) : at])!r})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8, help="transformers engine")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--compile", action="store_true", help="vLLM with torch.compile (minutes to start)")
    parser.add_argument("--engine", help=argparse.SUPPRESS)  # the child: one engine
    parser.add_argument("--tasks-file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(run_engine(args.engine, args.tasks_file, args.out, args)))
        return
    if not VLLM_PYTHON.exists():
        sys.exit(f"{VLLM_PYTHON} is missing: `make vllm-env` builds it")
    from ossinstruct.files import read_jsonl

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        tasks_path = tasks(args.tasks, workdir)
        load = os.getloadavg()[0]
        child = [str(VLLM_PYTHON), __file__, "--engine", "vllm", "--tasks-file", str(tasks_path)]
        child += ["--out", str(workdir / "vllm.jsonl"), "--max-new-tokens", str(args.max_new_tokens)]
        child += ["--dtype", args.dtype]
        child += ["--compile"] if args.compile else []
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
        done = subprocess.run(child, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            sys.exit(f"the vLLM run failed:\n{done.stderr[-4000:]}")
        vllm = json.loads(done.stdout.strip().splitlines()[-1])
        hf = run_engine("transformers", tasks_path, workdir / "transformers.jsonl", args)
        a = list(read_jsonl(workdir / "vllm.jsonl"))
        b = list(read_jsonl(workdir / "transformers.jsonl"))
        identical = sum(x["raw"] == y["raw"] for x, y in zip(a, b, strict=True))
        differing = first_differences(a, b)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, load average {load:.1f} at the start, {os.cpu_count()} CPUs")
    print(f"# {args.tasks} HumanEval+ tasks, greedy, max_new_tokens {args.max_new_tokens}, {MODEL} {args.dtype}")
    for name, r in (("vllm", vllm), ("transformers", hf)):
        print(
            f"{name:13s} {r['engine']:22s} {r['completion_tokens']:6d} tokens in {r['generation_s']:7.1f} s: "
            f"{r['tokens_per_s']:6.1f} tok/s (start-up {r['startup_s']} s, wall {r['wall_s']} s)"
        )
    print(f"ratio vllm / transformers (tok/s): {vllm['tokens_per_s'] / hf['tokens_per_s']:.2f}")
    print(f"identical greedy completions: {identical} of {len(a)}")
    for line in differing:
        print(line)


if __name__ == "__main__":
    main()
