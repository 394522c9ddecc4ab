"""Snakemake entry point of rule eval_reference: the harness self-check's samples, the
benchmark's reference solutions."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.evaluate.reference import reference_samples

    reference_samples(sm.wildcards.benchmark, sm.input.tasks, sm.output.samples)
