"""Snakemake entry point of rule eval_generate: a benchmark's samples file from the responses
its model's generation job (rule eval_generate_model) cached."""

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
        cached_only=(
            f"the model's generation job ({sm.input.generation}) ran with another cache_dir, or the cache "
            f"lost them since: `snakemake --forcerun {sm.input.generation}` generates what is missing"
        ),
    )
