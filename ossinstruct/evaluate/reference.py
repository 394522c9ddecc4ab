"""The harness self-check: a benchmark's own reference solutions scored as a model's samples.

Every number in the summary is only as good as the scorer. The pseudo-model
``reference-solutions`` has, for each task in force, the benchmark's canonical solution
(prompt + canonical_solution, as evalplus computes its ground truth) as its sample; it goes
through the same scoring step as every model (`rule eval_score`, the sandbox, evalplus's
check), so its row shows the harness at work even where a demo model scores 0. Expected:
HumanEval+ v0.1.10 163/164 base and plus (HumanEval/32's canonical solution fails its own
check in evalplus too), MBPP+ v0.2.0 378/378 base; plus within one or two tasks of 378
(Mbpp/255 and Mbpp/392 sit at evalplus's time limit).
"""

from __future__ import annotations

from ossinstruct.benchmarks import REGISTRY
from ossinstruct.evaluate.data import DISPLAY, check_rows
from ossinstruct.files import read_jsonl, write_jsonl_atomic


def reference_samples(benchmark: str, tasks_path, out_path) -> int:
    """Write one sample per task in force, in the schema eval_generate writes; returns how many."""
    plugin = REGISTRY[benchmark]
    if plugin.per_sample_scoring:
        tasks = list(read_jsonl(tasks_path, required=("task_id",), what=f"{plugin.display} task"))
        samples = []
        for task in tasks:
            solution = plugin.reference_solution(task)
            samples.append(
                {
                    "task_id": task["task_id"],
                    "sample": 0,
                    "benchmark": benchmark,
                    "style": "reference",
                    "raw": solution,
                    "completion": solution,
                    "solution": solution,
                }
            )
        return write_jsonl_atomic(out_path, samples)
    tasks = list(
        read_jsonl(
            tasks_path,
            required=("task_id", "prompt", "canonical_solution"),
            what=f"{DISPLAY[benchmark]}+ task",
        )
    )
    check_rows(benchmark, tasks, tasks_path)
    samples = []
    for task in tasks:
        solution = REGISTRY[benchmark].reference_solution(task)
        samples.append(
            {
                "task_id": task["task_id"],
                "benchmark": benchmark,
                "style": "reference",
                "prompt": task["prompt"],
                "raw": task["canonical_solution"],
                "completion": task["canonical_solution"],
                "solution": solution,
                "sanitized": solution,  # scored as evalplus runs its ground truth: unsanitized
            }
        )
    return write_jsonl_atomic(out_path, samples)
