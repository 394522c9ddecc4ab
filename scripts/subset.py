"""Snakemake entry point of rule subset: a Python / non-Python split."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.curate import steps as datasets

    datasets.subset(
        sm.input.parent,
        sm.params.python,
        sm.output.decontaminated,
        sm.output.report,
        rule=sm.params.rule,
        size=sm.params.size,
        seed=sm.params.seed,
    )
