"""Snakemake entry point of rule eval_score: evalplus's checks of one model's samples on
one benchmark, each in a sandbox; pass@1 on the base and plus tests."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path
from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    import json
    from ossinstruct.evaluation.score import score

    scoring = json.loads(sm.params.scoring)
    with open(sm.input.info, encoding="utf-8") as f:
        info = json.load(f)
    score(
        sm.wildcards.benchmark,
        model=sm.wildcards.model,
        samples_path=sm.input.samples,
        tasks_path=sm.input.tasks,
        info=info,
        expected_path=sm.input.expected,
        out_result=sm.output.result,
        out_tasks=sm.output.tasks,
        solution_field=scoring["solution"],
        min_time_limit=scoring["min_time_limit"],
        gt_time_limit_factor=scoring["gt_time_limit_factor"],
        memory_mb=scoring["memory_mb"],
        workers=sm.threads,
        generation=json.loads(sm.params.generation),
    )
