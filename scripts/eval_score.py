"""Snakemake entry point of rule eval_score: evalplus's checks of one model's samples on
one benchmark, each in a sandbox; pass@1 on the base and plus tests."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    import json

    from ossinstruct.evaluate.steps import eval_score_step

    eval_score_step(
        json.loads(sm.params.scoring),
        sm.wildcards.benchmark,
        model=sm.wildcards.model,
        samples_path=sm.input.samples,
        tasks_path=sm.input.tasks,
        info_path=sm.input.info,
        expected_path=sm.input.expected,
        out_result=sm.output.result,
        out_tasks=sm.output.tasks,
        workers=sm.threads,
        generation=json.loads(sm.params.generation),
    )
