"""`make gpu-check` (ossinstruct/gpu_check.py): what runs here without a GPU. It refuses at
once without CUDA, writing nothing; its plan has the 2-process step only with 2 GPUs; its
runner keeps to the time budget (a step that overruns is killed, the steps after an
exhausted budget are reported as not run), gathers per-rank metrics, and renders the report.
The steps themselves need a CUDA GPU and were not run here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from ossinstruct import gpu_check


def test_refuses_without_cuda_and_writes_nothing(tmp_path):
    out = tmp_path / "report"
    run = subprocess.run(
        [sys.executable, "-m", "ossinstruct.gpu_check", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "CUDA_VISIBLE_DEVICES": ""},
    )
    assert run.returncode == gpu_check.REFUSED, run.stdout + run.stderr
    assert "make gpu-check needs a CUDA GPU" in run.stdout and "sees no CUDA device" in run.stdout
    assert not out.exists()


def test_the_two_process_step_needs_two_gpus(tmp_path):
    one = [s.name for s in gpu_check.plan_steps(1, tmp_path, "vpy")]
    two = gpu_check.plan_steps(2, tmp_path, "vpy")
    assert one == ["vllm-generate-eval", "train-bf16-full", "train-bf16-lora"]
    assert [s.name for s in two] == one + ["train-ddp-2gpu"]
    assert two[0].argv[0] == "vpy"  # vLLM's step under its own interpreter
    ddp = two[-1].argv
    assert ddp[ddp.index("--num_processes") + 1] == "2" and "--multi_gpu" in ddp
    assert sum(s.budget_s for s in two) <= gpu_check.BUDGET_S


def _step(name: str, code: str, budget: float = 30) -> gpu_check.Step:
    return gpu_check.Step(name, [sys.executable, "-c", code], budget, name)


def test_runner_budget_timeouts_failures_and_the_report(tmp_path):
    write = "import json, sys; from pathlib import Path; Path(sys.argv[1]).write_text(json.dumps({}))"
    ok = _step("fast", write.replace("{}", "{'tokens_per_s': 12.5, 'peak_memory_gib': 1.25, 'steps': 8}"))
    ok.argv.append(str(tmp_path / "fast.json"))
    ranks = _step(
        "ranked",
        "import json; from pathlib import Path\n"
        f"for r, t in enumerate((10.0, 11.0)): Path({str(tmp_path)!r}, f'ranked.rank{{r}}.json')"
        ".write_text(json.dumps({'tokens_per_s': t, 'peak_memory_gib': 2.0 + r}))",
    )
    failing = _step("broken", "import sys; print('CUDA error: out of memory'); sys.exit(3)")
    slow = _step("slow", "import time; time.sleep(60)", budget=4)
    starved = _step("starved", "pass")
    results = gpu_check.run_steps([ok, ranks, failing, slow, starved], tmp_path, budget_s=12)
    by_name = {r.name: r for r in results}
    assert by_name["fast"].status == "ok" and by_name["fast"].metrics["tokens_per_s"] == 12.5
    assert by_name["ranked"].metrics == {"processes": 2, "tokens_per_s": 21.0, "peak_memory_gib": 3.0, "device": None}
    assert by_name["broken"].status == "failed" and "CUDA error: out of memory" in by_name["broken"].note
    assert by_name["slow"].status == "timeout" and by_name["slow"].seconds < 10
    assert by_name["starved"].status == "not run" and "budget" in by_name["starved"].note

    report = gpu_check.render_report(results, {"GPUs": "2 x H100", "torch": "2.13.0"})
    lines = report.splitlines()
    assert lines[0] == "# make gpu-check" and "GPUs: 2 x H100" in lines[2]
    assert "| fast | ok | " in report and "| 12.5 | 1.25 | steps 8 |" in report
    assert "| slow | timeout |" in report and "| starved | not run |" in report
    json.dumps([r.__dict__ for r in results])  # report.json holds them as they are


def test_makefile_target_runs_the_module():
    makefile = (Path(REPO) / "Makefile").read_text()
    target = makefile.split("\ngpu-check:")[1].split("\n\n")[0]
    assert "python -m ossinstruct.gpu_check" in target
