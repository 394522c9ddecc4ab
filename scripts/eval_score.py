"""Snakemake entry point of rules eval_score (HumanEval+/MBPP+), eval_score_multiple
(MultiPL-E) and eval_score_sampled (the others), one scorer for all: one model's samples on
one benchmark, each checked in a sandbox."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    import json

    from ossinstruct.evaluate.steps import eval_score_step
    from ossinstruct.workflow import benchmark_settings

    eval_score_step(
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
        # The whole settings block (machine-local paths included); the params hold its identity.
        settings=benchmark_settings(sm.config, sm.wildcards.benchmark),
        execution_cache=sm.config["evaluation"]["execution_cache"],
        out_exports=sm.output.get("exports"),
    )
