"""Snakemake entry point of rule eval_generate: one greedy sample per task of a benchmark
from one model (vLLM on a GPU, or transformers)."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    import json

    from ossinstruct.evaluate.steps import eval_generate_step

    eval_generate_step(
        sm.config,
        json.loads(sm.params.generation),
        tasks_path=sm.input.tasks,
        out_path=sm.output.samples,
        checkpoint=sm.input.get("model"),
    )
