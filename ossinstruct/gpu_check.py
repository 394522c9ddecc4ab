"""`make gpu-check`: what CPUs cannot exercise, on a CUDA node, in at most 8 minutes.

    python -m ossinstruct.gpu_check --out results/gpu-check [--vllm-python PATH]

Steps, each a child process with its own time limit inside the overall budget (a step that
overruns is killed and reported as such; the steps after an exhausted budget are reported
as not run):

  vllm-generate-eval  vLLM (CUDA build) greedy HumanEval+ samples of the offline Gemma 3
                      270M (the first 20 tasks), then scored in the sandbox with evalplus;
                      tokens/s, engine start-up, GPU memory in use after generation
  train-bf16-full     bf16 full fine-tuning of the same model, a few steps on synthetic
                      OSS-Instruct-like records (the project's recipe, as rule train runs it)
  train-bf16-lora     the same with LoRA (r 16, all linear layers)
  train-ddp-2gpu      the full fine-tuning over 2 processes (accelerate launch --multi_gpu,
                      as ossinstruct.train.launch builds it), only when 2 GPUs are visible

The report (report.json, report.md, printed too) gives per step its status, seconds,
throughput (generated or trained tokens per second) and peak GPU memory (torch's peak
allocation per training process; the device's memory in use for vLLM, which reserves
`gpu_memory_utilization` of it). Without CUDA it refuses at once (exit status 2), writing
nothing. vLLM's CUDA build pins its own torch and transformers: `--vllm-python` names the
interpreter of an environment that has it (envs/vllm.yaml), when it is not this one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BUDGET_S = 480.0  # 8 minutes for everything
REFUSED = 2
HUMANEVAL_TASKS = 20
TRAIN_STEPS = 8
MODEL = "embedded:gemma-3-270m"


@dataclass
class Step:
    name: str
    argv: list[str]
    budget_s: float
    what: str


@dataclass
class StepResult:
    name: str
    status: str  # ok, failed, timeout, not run
    seconds: float = 0.0
    metrics: dict = field(default_factory=dict)
    note: str = ""


def plan_steps(n_gpus: int, workdir: Path, vllm_python: str, python: str = sys.executable) -> list[Step]:
    """The steps for a node with `n_gpus` visible GPUs."""

    def run(interpreter: str, step: str) -> list[str]:
        return [interpreter, "-m", "ossinstruct.gpu_check", "--run-step", step, "--workdir", str(workdir)]

    steps = [
        Step("vllm-generate-eval", run(vllm_python, "vllm-generate-eval"), 210, "vLLM generation + evalplus scoring"),
        Step("train-bf16-full", run(python, "train-bf16-full"), 90, "bf16 full fine-tuning"),
        Step("train-bf16-lora", run(python, "train-bf16-lora"), 80, "bf16 LoRA fine-tuning"),
    ]
    if n_gpus >= 2:
        launcher = [python, "-m", "accelerate.commands.launch", "--num_processes", "2", "--num_machines", "1"]
        launcher += ["--multi_gpu", "-m", "ossinstruct.gpu_check", "--run-step", "train-bf16-full"]
        launcher += ["--workdir", str(workdir), "--tag", "ddp"]
        steps.append(Step("train-ddp-2gpu", launcher, 95, "bf16 full fine-tuning, 2 processes (DDP)"))
    return steps


def run_steps(steps: list[Step], workdir: Path, budget_s: float = BUDGET_S) -> list[StepResult]:
    """Run the steps in order within `budget_s`; each writes <workdir>/<name>*.json metrics."""
    deadline = time.monotonic() + budget_s
    results = []
    for step in steps:
        left = deadline - time.monotonic()
        if left < 10:
            results.append(StepResult(step.name, "not run", note=f"the {budget_s:.0f} s budget was spent"))
            continue
        limit = min(step.budget_s, left)
        log = workdir / f"{step.name}.log"
        start = time.monotonic()
        with log.open("w") as out:
            process = subprocess.Popen(step.argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                code = process.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
                code = None
        seconds = time.monotonic() - start
        metrics = collect_metrics(workdir, step.name)
        if code is None:
            results.append(StepResult(step.name, "timeout", seconds, metrics, f"killed after {limit:.0f} s; see {log}"))
        elif code != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
            results.append(
                StepResult(step.name, "failed", seconds, metrics, f"exit {code}: {tail[0][:200]}; see {log}")
            )
        else:
            results.append(StepResult(step.name, "ok", seconds, metrics))
    return results


def collect_metrics(workdir: Path, name: str) -> dict:
    """<name>.json, or the per-rank <name>.rank<k>.json files of a multi-process step
    (throughput summed over ranks, the largest peak memory)."""
    single = workdir / f"{name}.json"
    if single.is_file():
        return json.loads(single.read_text())
    ranks = [json.loads(p.read_text()) for p in sorted(workdir.glob(f"{name}.rank*.json"))]
    if not ranks:
        return {}
    return {
        "processes": len(ranks),
        "tokens_per_s": round(sum(r.get("tokens_per_s") or 0 for r in ranks), 1),
        "peak_memory_gib": max(r.get("peak_memory_gib") or 0 for r in ranks),
        "device": ranks[0].get("device"),
    }


def render_report(results: list[StepResult], environment: dict) -> str:
    lines = [
        "# make gpu-check",
        "",
        ", ".join(f"{k}: {v}" for k, v in environment.items()),
        "",
        "| step | status | seconds | tokens/s | peak GPU memory (GiB) | note |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in results:
        tokens = r.metrics.get("tokens_per_s")
        memory = r.metrics.get("peak_memory_gib")
        extra = {k: v for k, v in r.metrics.items() if k not in ("tokens_per_s", "peak_memory_gib", "device")}
        note = "; ".join(filter(None, [r.note, ", ".join(f"{k} {v}" for k, v in extra.items())]))
        lines.append(
            f"| {r.name} | {r.status} | {r.seconds:.0f} | {'' if tokens is None else tokens} | "
            f"{'' if memory is None else memory} | {note} |"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the steps


def _write_metrics(workdir: Path, name: str, metrics: dict) -> None:
    from ossinstruct.files import write_json_atomic

    rank = os.environ.get("RANK")
    suffix = f".rank{rank}" if rank is not None and int(os.environ.get("WORLD_SIZE", "1")) > 1 else ""
    write_json_atomic(workdir / f"{name}{suffix}.json", metrics)


def _gib(n_bytes: float) -> float:
    return round(n_bytes / 2**30, 2)


def step_vllm(workdir: Path) -> dict:
    import torch

    from ossinstruct.evaluate.generate import generate_samples
    from ossinstruct.evaluate.score import score
    from ossinstruct.evaluate.steps import eval_data_step
    from ossinstruct.files import read_jsonl

    data = workdir / "data"
    shared = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "HumanEvalPlus.jsonl.gz"
    eval_data_step(
        {"evaluation": {}},
        "humaneval",
        path=str(shared) if shared.is_file() else None,
        version=None,
        limit=HUMANEVAL_TASKS,
        out_tasks=data / "humaneval.jsonl",
        out_info=data / "humaneval.json",
        out_expected=data / "humaneval.expected.pkl",
    )
    stats = generate_samples(
        list(read_jsonl(data / "humaneval.jsonl")),
        benchmark="humaneval",
        style="completion",
        engine="vllm",
        model={"model": MODEL, "dtype": "bfloat16", "gpu_memory_utilization": 0.5},
        cache_dir=workdir / "cache",
        out_path=workdir / "samples.jsonl",
    )
    free, total = torch.cuda.mem_get_info()
    result = score(
        "humaneval",
        model="gemma-3-270m",
        samples_path=workdir / "samples.jsonl",
        tasks_path=data / "humaneval.jsonl",
        info=json.loads((data / "humaneval.json").read_text()),
        expected_path=data / "humaneval.expected.pkl",
        out_result=workdir / "humaneval.json",
        out_tasks=workdir / "humaneval.tasks.jsonl",
        workers=4,
    )
    return {
        "tokens_per_s": stats["tokens_per_s_this_run"],
        "peak_memory_gib": _gib(total - free),
        "engine_startup_s": stats["engine_startup_s"],
        "engine": ", ".join(stats["engine_versions"]),
        "pass@1": result["pass@1"],
        "device": torch.cuda.get_device_name(0),
    }


def _train_file(path: Path, n: int = 64) -> Path:
    records = []
    for i in range(n):
        problem = f"Write a function `f{i}(xs)` that returns the sum of the squares of the even numbers in xs. " * 3
        solution = f"```python\ndef f{i}(xs):\n    return sum(x * x for x in xs if x % 2 == 0)\n```\n" * 4
        records.append({"prompt": problem, "completion": solution})
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def step_train(workdir: Path, lora: bool, tag: str) -> dict:
    import torch

    from ossinstruct.train.config import TrainConfig
    from ossinstruct.train.recipe import train

    world = int(os.environ.get("WORLD_SIZE", "1"))
    name = f"train-{tag}"
    config = TrainConfig(
        base_model=MODEL,
        train_file=str(_train_file(workdir / f"{name}.train.jsonl")),
        output_dir=str(workdir / name),
        max_length=512,
        max_steps=TRAIN_STEPS,
        per_device_batch_size=4,
        effective_batch_size=4 * world,
        warmup_steps=0,
        bf16=True,
        lora={"r": 16, "alpha": 32, "dropout": 0.0, "target_modules": "all-linear"} if lora else None,
        report_to=[],
        save_steps=10_000,
    )
    torch.cuda.reset_peak_memory_stats()
    start = time.monotonic()
    manifest = train(config)
    seconds = time.monotonic() - start
    tokens = (manifest["training"].get("tokens_seen") or 0) / max(1, world)  # this process's share
    return {
        "tokens_per_s": round(tokens / seconds, 1),
        "peak_memory_gib": _gib(torch.cuda.max_memory_allocated()),
        "steps": manifest["training"]["global_step"],
        "last_loss": manifest["training"]["last_logged_loss"],
        "precision": manifest["hyperparameters"].get("bf16"),
        "device": torch.cuda.get_device_name(torch.cuda.current_device()),
    }


def run_step(name: str, workdir: Path, tag: str | None) -> None:
    if name == "vllm-generate-eval":
        metrics = step_vllm(workdir)
    elif name in ("train-bf16-full", "train-bf16-lora"):
        lora = name.endswith("lora")
        metrics = step_train(workdir, lora, tag or ("bf16-lora" if lora else "bf16-full"))
        if tag:
            name = "train-ddp-2gpu"
    else:
        raise SystemExit(f"unknown step {name!r}")
    _write_metrics(workdir, name, metrics)


# --------------------------------------------------------------------------- entry point


def cuda_devices() -> tuple[int, str | None]:
    """(visible CUDA devices, why none) from torch in this interpreter."""
    try:
        import torch
    except ImportError as err:
        return 0, f"torch is not installed ({err})"
    if not torch.cuda.is_available():
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        where = f"; CUDA_VISIBLE_DEVICES={visible!r}" if visible is not None else ""
        return 0, f"torch {torch.__version__} sees no CUDA device (torch.version.cuda={torch.version.cuda}{where})"
    return torch.cuda.device_count(), None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ossinstruct.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("results/gpu-check"))
    parser.add_argument("--vllm-python", default=sys.executable, help="an interpreter with vLLM's CUDA build")
    parser.add_argument("--budget-s", type=float, default=BUDGET_S)
    parser.add_argument("--run-step", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tag", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_step:
        run_step(args.run_step, args.workdir, args.tag)
        return 0

    n_gpus, why = cuda_devices()
    if not n_gpus:
        print(f"make gpu-check needs a CUDA GPU: {why}. Run it on a GPU node (e.g. srun --gpus=2 make gpu-check).")
        return REFUSED
    import torch

    args.out.mkdir(parents=True, exist_ok=True)
    workdir = args.out / "work"
    workdir.mkdir(exist_ok=True)
    for stale in workdir.glob("*.json"):
        stale.unlink()
    results = run_steps(plan_steps(n_gpus, workdir, args.vllm_python), workdir, args.budget_s)
    environment = {
        "GPUs": f"{n_gpus} x {torch.cuda.get_device_name(0)}",
        "torch": torch.__version__,
        "CUDA": torch.version.cuda,
        "date": time.strftime("%Y-%m-%d"),
    }
    report = render_report(results, environment)
    (args.out / "report.md").write_text(report)
    payload = {"environment": environment, "steps": [r.__dict__ for r in results]}
    (args.out / "report.json").write_text(json.dumps(payload, indent=1))
    print(report)
    return 0 if all(r.status == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
