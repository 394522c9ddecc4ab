"""Snakemake entry point of rule verify_samples: run each sample's tests with its solution."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.curate import steps as datasets

    datasets.verify(
        sm.wildcards.dataset,
        sm.input.samples,
        sm.params.mode,
        dict(sm.params.limits),
        sm.output.verified,
        sm.output.rejected,
        sm.output.report,
        sm.output.figure,
        workers=sm.threads,
        cache_dir=sm.config["verification"]["cache_dir"],
    )
