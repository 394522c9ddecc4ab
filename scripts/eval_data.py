"""Snakemake entry point of rule eval_data: a benchmark's tasks in force, provenance and
expected outputs, shared by every model's jobs."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct import workflow as wf
    from ossinstruct.evaluate.steps import eval_data_step

    eval_data_step(
        sm.config,
        sm.wildcards.benchmark,
        # The rule's params hold the file's identity (its sha256); the path comes from config.
        path=wf.eval_data_path(sm.config, sm.wildcards.benchmark),
        version=sm.params.data["version"],
        limit=sm.params.limit,
        out_tasks=sm.output.tasks,
        out_info=sm.output.info,
        out_expected=sm.output.expected,
    )
