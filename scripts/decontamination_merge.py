"""Snakemake entry point of rule decontamination_merge."""

import _checkout  # noqa: F401 - this checkout's ossinstruct first on sys.path

from ossinstruct.logs import rule_job

sm = snakemake  # noqa: F821 - injected by Snakemake
with rule_job(sm):
    from ossinstruct.curate import steps as datasets

    datasets.merge_matches(
        sm.input.samples,
        list(sm.input.matches),
        list(sm.params.benchmarks),
        sm.output.decontaminated,
        sm.output.excluded,
        sm.output.report,
    )
